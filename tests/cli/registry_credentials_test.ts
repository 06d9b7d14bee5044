/**
 * Where the registry client finds its server and credentials (environment, then the secrets
 * file's `registry` section, in both the SREGISTRY_REGISTRY_* and the token page's legacy
 * spelling), that environment values are never written back, and that the token never shows.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { type CliResult, sregistry } from "../support/cli.ts";
import { type FakeRegistry, startFakeRegistry } from "../support/fake_registry.ts";
import { type TempHome, tempHome } from "../support/home.ts";
import { fileTree, md5 } from "../support/state.ts";
import {
  hourStamp,
  registryEnv,
  requestLines,
  requestsTo,
  signedFor,
  USERNAME,
} from "../support/registry_env.ts";

const encoder = new TextEncoder();
const PUBLIC = encoder.encode("a public image\n");
const PRIVATE = encoder.encode("a private image\n");
const PUSHED = encoder.encode("an image to push\n");
/** Distinctive, so that finding it anywhere in output is not a coincidence. */
const TOKEN = "tok-3f9c1b7e-SECRET-a41d";

async function populate(registry: FakeRegistry): Promise<void> {
  await registry.addImage("vsoch", "tacos", "latest", PUBLIC);
  await registry.addImage("lab", "secret", "v1", PRIVATE, { private: true });
}

/** Push, pull a private image, pull a public one, delete: everything that signs or reads. */
async function session(
  home: TempHome,
  env: Record<string, string>,
  prefix = "",
): Promise<CliResult[]> {
  const file = home.file("push.sif", PUSHED);
  const results: CliResult[] = [];
  for (
    const args of [
      ["push", file, "--name", `${prefix}lab/pushed:v1`],
      ["pull", `${prefix}lab/pushed:v1`],
      ["pull", `${prefix}lab/secret:v1`],
      ["pull", `${prefix}vsoch/tacos`],
      ["delete", "--force", `${prefix}lab/pushed:v1`],
    ]
  ) {
    const result = await sregistry(args, { env });
    assert.equal(result.code, 0, `${args.join(" ")}: ${result.stderr}`);
    results.push(result);
  }
  return results;
}

function assertNoToken(results: CliResult[], token: string): void {
  for (const result of results) {
    for (const text of [result.stdout, result.stderr]) {
      assert.ok(!text.includes(token), `the token appears in:\n${text}`);
      assert.doesNotMatch(text, /Signature=|SREGISTRY-HMAC/, "no signature in output");
    }
  }
}

Deno.test("the base is normalised to end in /api, with or without /api and a trailing slash", async () => {
  await using registry = await startFakeRegistry();
  await populate(registry);
  for (const base of [registry.url, `${registry.url}/`, registry.base, `${registry.base}/`]) {
    await using home = await tempHome();
    const before = registry.requests.length;
    const env = registryEnv(home, registry, { SREGISTRY_REGISTRY_BASE: base });
    const pulled = await sregistry(["pull", "vsoch/tacos"], { env });
    assert.equal(pulled.code, 0, `${base}: ${pulled.stderr}`);
    assert.equal(registry.requests[before]?.path, "/api/container/vsoch/tacos:latest", base);
  }
  assert.deepEqual(registry.unexpected, []);
});

Deno.test("a base without a scheme is https, or http when SREGISTRY_REGISTRY_NOHTTPS is truthy", async () => {
  await using registry = await startFakeRegistry();
  await populate(registry);
  {
    await using home = await tempHome();
    const env = registryEnv(home, registry, {
      SREGISTRY_REGISTRY_BASE: registry.host,
      SREGISTRY_RETRIES: "0",
    });
    const tls = await sregistry(["pull", "vsoch/tacos"], { env });
    assert.equal(tls.code, 1, "https to a plain http server fails");
    assert.deepEqual(registry.requests, []);
  }
  await using home = await tempHome();
  const env = registryEnv(home, registry, {
    SREGISTRY_REGISTRY_BASE: registry.host,
    SREGISTRY_REGISTRY_NOHTTPS: "true",
  });
  const plain = await sregistry(["pull", "vsoch/tacos"], { env });
  assert.equal(plain.code, 0, plain.stderr);
  assert.equal(requestLines(registry)[0], "GET /api/container/vsoch/tacos:latest");
});

Deno.test("credentials from the environment are used and never saved: no secrets file appears", async () => {
  await using registry = await startFakeRegistry({ users: { [USERNAME]: TOKEN } });
  await using home = await tempHome();
  await populate(registry);
  const env = registryEnv(home, registry, { SREGISTRY_REGISTRY_TOKEN: TOKEN });

  const results = await session(home, env);

  assert.ok(
    !fileTree(home.path).some((entry) => entry.startsWith(".sregistry")),
    "no secrets file",
  );
  assertNoToken(results, TOKEN);
  assert.deepEqual(registry.unexpected, []);
});

Deno.test("credentials from the environment leave an existing secrets file byte-identical", async () => {
  await using registry = await startFakeRegistry({ users: { [USERNAME]: TOKEN } });
  await using home = await tempHome();
  await populate(registry);
  // Not the client's own layout, so a rewrite (even of the same data) would show.
  const text = '{"hub":{"base":"https://example.org/api"},  "registry": {"note": "kept"}}';
  const secrets = home.file(".sregistry", text);
  Deno.chmodSync(secrets, 0o640);
  const env = registryEnv(home, registry, { SREGISTRY_REGISTRY_TOKEN: TOKEN });

  const results = await session(home, env);

  assert.equal(Deno.readTextFileSync(secrets), text);
  assert.equal(Deno.statSync(secrets).mode! & 0o777, 0o640);
  assertNoToken(results, TOKEN);
});

Deno.test("base and credentials come from the secrets file's SREGISTRY_REGISTRY_* keys", async () => {
  await using registry = await startFakeRegistry({ users: { [USERNAME]: TOKEN } });
  await using home = await tempHome();
  await populate(registry);
  const text = JSON.stringify(
    {
      registry: {
        SREGISTRY_REGISTRY_BASE: registry.url,
        SREGISTRY_REGISTRY_USERNAME: USERNAME,
        SREGISTRY_REGISTRY_TOKEN: TOKEN,
      },
    },
    null,
    4,
  );
  const secrets = home.file("elsewhere/secrets.json", text);
  const env = { ...home.env, SREGISTRY_CLIENT_SECRETS: secrets, SREGISTRY_CLIENT: "registry" };

  const results = await session(home, env);

  assert.equal(Deno.readTextFileSync(secrets), text, "the secrets file is unchanged");
  assert.ok(!fileTree(home.path).some((entry) => entry.startsWith(".sregistry")));
  assertNoToken(results, TOKEN);
  assert.match(
    requestsTo(registry, "POST", "/api/upload/")[0].authorization ?? "",
    signedFor("push"),
  );
  assert.deepEqual(registry.unexpected, []);
});

Deno.test("the legacy base/username/token of the server's token page work from $HOME/.sregistry", async () => {
  await using registry = await startFakeRegistry({ users: { [USERNAME]: TOKEN } });
  await using home = await tempHome();
  await populate(registry);
  // As the server's token page shows it: the base without /api.
  const text = JSON.stringify({
    registry: { token: TOKEN, username: USERNAME, base: registry.url },
  });
  const secrets = home.file(".sregistry", text);

  const results = await session(home, home.env, "registry://");

  assert.equal(Deno.readTextFileSync(secrets), text, "the secrets file is unchanged");
  assertNoToken(results, TOKEN);
  const seen = requestLines(registry);
  assert.ok(seen.includes("POST /api/upload/chunked_upload"), "/api was appended to the base");
  assert.ok(seen.includes("DELETE /api/container/lab/pushed:v1"));
  assert.deepEqual(registry.unexpected, []);
});

Deno.test("environment values win over the secrets file, which stays as it was", async () => {
  await using registry = await startFakeRegistry({ users: { [USERNAME]: TOKEN } });
  await using home = await tempHome();
  await populate(registry);
  const text = JSON.stringify({
    registry: { base: "http://127.0.0.1:9/nowhere", username: "someone", token: "stale-token" },
  });
  const secrets = home.file(".sregistry", text);
  const env = registryEnv(home, registry, { SREGISTRY_REGISTRY_TOKEN: TOKEN });

  const results = await session(home, env);

  assert.equal(Deno.readTextFileSync(secrets), text);
  assertNoToken(results, TOKEN);
  assertNoToken(results, "stale-token");
});

Deno.test("a wrong token is a clear error, exit 1, and the token is never shown, even with --debug", async () => {
  await using registry = await startFakeRegistry({ users: { [USERNAME]: "the-right-token" } });
  await using home = await tempHome();
  await populate(registry);
  const file = home.file("push.sif", PUSHED);
  const env = registryEnv(home, registry, { SREGISTRY_REGISTRY_TOKEN: TOKEN });

  const results: CliResult[] = [];
  for (const debug of [[], ["--debug"]]) {
    const pushed = await sregistry([...debug, "push", file, "--name", "lab/pushed:v1"], { env });
    assert.equal(pushed.code, 1, pushed.stderr);
    assert.match(pushed.stderr, /^sregistry: .*Unauthorized.*SREGISTRY_REGISTRY_TOKEN/m);

    const pulled = await sregistry([...debug, "pull", "lab/secret:v1"], { env });
    assert.equal(pulled.code, 1, pulled.stderr);
    assert.match(pulled.stderr, /^sregistry: .*lab\/secret:v1.*SREGISTRY_REGISTRY_TOKEN/m);

    const deleted = await sregistry([...debug, "delete", "--force", "vsoch/tacos"], { env });
    assert.equal(deleted.code, 1, deleted.stderr);
    assert.match(deleted.stderr, /^sregistry: .*Unauthorized.*SREGISTRY_REGISTRY_TOKEN/m);

    results.push(pushed, pulled, deleted);
  }
  assertNoToken(results, TOKEN);
  assert.equal(registry.images().length, 2, "nothing pushed or deleted");
  assert.deepEqual(fileTree(home.storage), []);
  assert.deepEqual(registry.unexpected, []);
});

Deno.test("the token is never shown with --debug when everything works either", async () => {
  await using registry = await startFakeRegistry({ users: { [USERNAME]: TOKEN } });
  await using home = await tempHome();
  await populate(registry);
  const env = registryEnv(home, registry, { SREGISTRY_REGISTRY_TOKEN: TOKEN });
  const file = home.file("push.sif", PUSHED);

  const results: CliResult[] = [];
  for (
    const args of [
      ["push", file, "--name", "lab/pushed:v1"],
      ["pull", "lab/secret:v1"],
      ["search"],
      ["search", "/secret"],
      ["labels"],
      ["config"],
      ["delete", "--force", "lab/pushed:v1"],
    ]
  ) {
    const result = await sregistry(["--debug", ...args], { env });
    assert.equal(result.code, 0, `${args.join(" ")}: ${result.stderr}`);
    results.push(result);
  }
  assertNoToken(results, TOKEN);
});

Deno.test("missing credentials are a clear error naming the variable, and nothing is sent", async () => {
  await using registry = await startFakeRegistry();
  await using home = await tempHome();
  await populate(registry);
  const file = home.file("push.sif", PUSHED);
  const noUser = registryEnv(home, registry);
  delete noUser.SREGISTRY_REGISTRY_USERNAME;
  const noToken = registryEnv(home, registry);
  delete noToken.SREGISTRY_REGISTRY_TOKEN;

  for (const [env, variable] of [[noUser, "USERNAME"], [noToken, "TOKEN"]] as const) {
    const pushed = await sregistry(["push", file, "--name", "lab/pushed:v1"], { env });
    assert.equal(pushed.code, 1, pushed.stderr);
    assert.match(pushed.stderr, new RegExp(`^sregistry: .*SREGISTRY_REGISTRY_${variable}`, "m"));
    const deleted = await sregistry(["delete", "--force", "vsoch/tacos"], { env });
    assert.equal(deleted.code, 1, deleted.stderr);
    assert.match(deleted.stderr, new RegExp(`SREGISTRY_REGISTRY_${variable}`));
  }
  assert.deepEqual(registry.requests, [], "nothing unsigned was sent");

  // A private image needs them; a public one does not.
  const secret = await sregistry(["pull", "lab/secret:v1"], { env: noToken });
  assert.equal(secret.code, 1, secret.stderr);
  assert.match(secret.stderr, /SREGISTRY_REGISTRY_TOKEN/);
  const open = await sregistry(["pull", "vsoch/tacos"], { env: noToken });
  assert.equal(open.code, 0, open.stderr);
  assert.equal(md5(Deno.readFileSync(open.stdout.trim())), md5(PUBLIC));
});

Deno.test("no configured registry is a clear error that says how to configure one", async () => {
  await using home = await tempHome();
  const env = { ...home.env, SREGISTRY_CLIENT: "registry" };

  for (const args of [["pull", "vsoch/tacos"], ["search"], ["labels"]]) {
    const result = await sregistry(args, { env });
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /^sregistry: .*SREGISTRY_REGISTRY_BASE/m);
  }
});

Deno.test("signatures carry the user and the current UTC hour", async () => {
  await using registry = await startFakeRegistry();
  await using home = await tempHome();
  await populate(registry);
  const file = home.file("push.sif", PUSHED);
  const env = registryEnv(home, registry);
  const hours = [hourStamp()];

  const pushed = await sregistry(["push", file, "--name", "lab/pushed:v1"], { env });
  hours.push(hourStamp());

  assert.equal(pushed.code, 0, pushed.stderr);
  const signed = registry.requests.filter((seen) => seen.authorization !== undefined);
  assert.ok(signed.length >= 2);
  for (const seen of signed) {
    const credential = seen.authorization!.match(/Credential=(\w+)\/([^/]+)\/(\w+),/);
    assert.ok(credential, seen.authorization);
    assert.equal(atob(credential[2]), USERNAME);
    assert.ok(hours.includes(credential[3]), `${credential[3]} is not the current hour`);
  }
});

Deno.test("the secrets file is looked for in $HOME unless SREGISTRY_CLIENT_SECRETS names one", async () => {
  await using registry = await startFakeRegistry({ users: { [USERNAME]: TOKEN } });
  await using home = await tempHome();
  await populate(registry);
  const good = JSON.stringify({
    registry: { base: registry.url, username: USERNAME, token: TOKEN },
  });
  const bad = JSON.stringify({ registry: { base: registry.url, username: USERNAME, token: "x" } });
  home.file(".sregistry", bad);
  const chosen = home.file("chosen.json", good);

  const fromHome = await sregistry(["pull", "registry://lab/secret:v1"], { env: home.env });
  assert.equal(fromHome.code, 1, "the token in $HOME/.sregistry is wrong");

  const fromChosen = await sregistry(["pull", "registry://lab/secret:v1"], {
    env: { ...home.env, SREGISTRY_CLIENT_SECRETS: chosen },
  });
  assert.equal(fromChosen.code, 0, fromChosen.stderr);
  assert.equal(Deno.readTextFileSync(chosen), good);
  assert.equal(Deno.readTextFileSync(join(home.path, ".sregistry")), bad);
});
