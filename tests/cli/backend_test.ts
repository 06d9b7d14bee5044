/**
 * `sregistry backend ls|status|activate|deactivate|add|remove|delete` on the secrets file:
 * case-insensitive variable names, a 0600 file written atomically, masked tokens, and
 * `SREGISTRY_CLIENT` never counted as a backend.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { sregistry } from "../support/cli.ts";
import { tempHome } from "../support/home.ts";
import { assertFailure, fileTree, lines } from "../support/state.ts";

function secretsOf(path: string): Record<string, unknown> {
  return JSON.parse(Deno.readTextFileSync(path));
}

Deno.test("backend add stores SREGISTRY_<BACKEND>_<VAR> in a 0600 file, any case", async () => {
  await using home = await tempHome();
  const env = home.env;
  const secrets = join(home.path, ".sregistry");

  const base = await sregistry(["backend", "add", "Registry", "base", "http://127.0.0.1"], { env });
  assert.equal(base.code, 0, base.stderr);
  assert.equal(base.stderr, "[add] SREGISTRY_REGISTRY_BASE\n");
  assert.equal(Deno.statSync(secrets).mode! & 0o777, 0o600);

  const token = await sregistry([
    "backend",
    "add",
    "registry",
    "SREGISTRY_REGISTRY_Token",
    "sekrit",
  ], {
    env,
  });
  assert.equal(token.code, 0, token.stderr);
  assert.doesNotMatch(token.stdout + token.stderr, /sekrit/, "a value is never echoed");
  assert.deepEqual(secretsOf(secrets), {
    registry: { SREGISTRY_REGISTRY_BASE: "http://127.0.0.1", SREGISTRY_REGISTRY_TOKEN: "sekrit" },
  });

  // An existing value needs --force, whatever the case of the name.
  const refused = await sregistry(["backend", "add", "registry", "TOKEN", "other"], { env });
  assertFailure(refused, 1, /SREGISTRY_REGISTRY_TOKEN is already set; use --force/);
  assert.doesNotMatch(refused.stderr, /sekrit/);
  const forced = await sregistry(["backend", "add", "-f", "registry", "token", "other"], { env });
  assert.equal(forced.code, 0, forced.stderr);
  assert.equal(
    (secretsOf(secrets).registry as Record<string, string>).SREGISTRY_REGISTRY_TOKEN,
    "other",
  );
  assert.equal(Deno.statSync(secrets).mode! & 0o777, 0o600, "still 0600 after a rewrite");
  assert.deepEqual(
    fileTree(home.path).filter((entry) => entry.includes(".tmp")),
    [],
    "no temporary file is left",
  );

  // remove takes the short, lower-case name (the original silently did nothing).
  const removed = await sregistry(["backend", "remove", "registry", "token"], { env });
  assert.equal(removed.code, 0, removed.stderr);
  assert.equal(removed.stderr, "[remove] SREGISTRY_REGISTRY_TOKEN\n");
  assert.deepEqual(secretsOf(secrets), {
    registry: { SREGISTRY_REGISTRY_BASE: "http://127.0.0.1" },
  });
  assertFailure(
    await sregistry(["backend", "rm", "registry", "token"], { env }),
    1,
    /backend registry has no setting SREGISTRY_REGISTRY_TOKEN/,
  );
});

Deno.test("backend ls lists backends and masks token values of one backend", async () => {
  await using home = await tempHome();
  const env = home.env;
  home.file(
    ".sregistry",
    JSON.stringify({
      SREGISTRY_CLIENT: "registry",
      hub: { base: "https://singularity-hub.org/api" },
      registry: {
        SREGISTRY_REGISTRY_BASE: "http://127.0.0.1",
        SREGISTRY_REGISTRY_USERNAME: "dino",
        SREGISTRY_REGISTRY_TOKEN: "sekrit",
        token: "legacy-sekrit",
      },
    }),
  );
  const all = await sregistry(["backend", "ls"], { env });
  assert.equal(all.code, 0, all.stderr);
  assert.deepEqual(lines(all.stdout), ["hub", "registry"], "SREGISTRY_CLIENT is not a backend");

  const one = await sregistry(["backend", "ls", "REGISTRY"], { env });
  assert.equal(one.code, 0, one.stderr);
  assert.deepEqual(lines(one.stdout), [
    "SREGISTRY_REGISTRY_BASE=http://127.0.0.1",
    "SREGISTRY_REGISTRY_USERNAME=dino",
    "SREGISTRY_REGISTRY_TOKEN=********",
    "token=********",
  ]);
  const json = await sregistry(["backend", "ls", "registry", "--json"], { env });
  assert.doesNotMatch(json.stdout + json.stderr, /sekrit/);
  assert.equal(JSON.parse(json.stdout).SREGISTRY_REGISTRY_TOKEN, "********");

  assertFailure(
    await sregistry(["backend", "ls", "nothing"], { env }),
    1,
    /nothing is not a backend in .*\.sregistry; known: hub, registry/,
  );
});

Deno.test("backend status counts backends, not SREGISTRY_CLIENT, and names the active one", async () => {
  await using home = await tempHome();
  const env = home.env;
  const secrets = home.file(
    ".sregistry",
    JSON.stringify({ SREGISTRY_CLIENT: "registry", registry: { SREGISTRY_REGISTRY_BASE: "x" } }),
  );
  const before = Deno.readTextFileSync(secrets);
  const status = await sregistry(["backend", "status"], { env });
  assert.equal(status.code, 0, status.stderr);
  assert.deepEqual(lines(status.stdout), [
    `There is 1 backend in ${secrets}.`,
    "active: registry",
  ]);
  assert.equal(Deno.readTextFileSync(secrets), before, "status does not rewrite the file");

  const json = JSON.parse((await sregistry(["backend", "status", "--json"], { env })).stdout);
  assert.deepEqual(json, { active: "registry", backends: ["registry"], secrets });

  const none = await sregistry(["backend", "status"], {
    env: { ...env, SREGISTRY_CLIENT_SECRETS: join(home.path, "missing.json") },
  });
  assert.deepEqual(lines(none.stdout), [
    `There are 0 backends in ${join(home.path, "missing.json")}.`,
    "There is no active client.",
  ]);
});

Deno.test("backend activate, deactivate and delete edit SREGISTRY_CLIENT", async () => {
  await using home = await tempHome();
  const env = home.env;
  const secrets = join(home.path, ".sregistry");
  await sregistry(["backend", "add", "registry", "base", "http://127.0.0.1"], { env });

  const activated = await sregistry(["backend", "activate", "Registry"], { env });
  assert.deepEqual([activated.code, activated.stderr], [0, "[activate] registry\n"]);
  assert.equal(secretsOf(secrets).SREGISTRY_CLIENT, "registry");
  // The active client shows in the banner of commands that print one.
  const record = await sregistry(["record", "a/b", "--url", "https://example.org/b.sif"], { env });
  assert.match(record.stderr, /^\[client\|registry\] /);

  const deactivated = await sregistry(["backend", "deactivate"], { env });
  assert.deepEqual([deactivated.code, deactivated.stderr], [0, "[deactivate] registry\n"]);
  assert.equal("SREGISTRY_CLIENT" in secretsOf(secrets), false);
  const again = await sregistry(["backend", "deactivate"], { env });
  assert.deepEqual([again.code, again.stderr], [0, "There is no active client.\n"]);

  await sregistry(["backend", "activate", "registry"], { env });
  const deleted = await sregistry(["backend", "delete", "registry"], { env });
  assert.deepEqual([deleted.code, deleted.stderr], [0, "[delete] registry (was active)\n"]);
  assert.deepEqual(secretsOf(secrets), {});
  assertFailure(
    await sregistry(["backend", "delete", "docker"], { env }),
    1,
    /docker is not a known backend/,
  );
});

Deno.test("backend never writes values that came from the environment into the file", async () => {
  await using home = await tempHome();
  const env = {
    ...home.env,
    SREGISTRY_REGISTRY_TOKEN: "env-sekrit",
    SREGISTRY_REGISTRY_USERNAME: "env-user",
  };
  await sregistry(["backend", "add", "registry", "base", "http://127.0.0.1"], { env });
  await sregistry(["backend", "activate", "registry"], { env });
  await sregistry(["backend", "status"], { env });
  const text = Deno.readTextFileSync(join(home.path, ".sregistry"));
  assert.doesNotMatch(text, /env-sekrit|env-user/);
});

Deno.test("backend add writes through SREGISTRY_CLIENT_SECRETS and creates its folder 0700", async () => {
  await using home = await tempHome();
  const secrets = join(home.path, "config", "sregistry", "secrets.json");
  const env = { ...home.env, SREGISTRY_CLIENT_SECRETS: secrets };
  const added = await sregistry(["backend", "add", "registry", "username", "dino"], { env });
  assert.equal(added.code, 0, added.stderr);
  assert.deepEqual(secretsOf(secrets), { registry: { SREGISTRY_REGISTRY_USERNAME: "dino" } });
  assert.equal(Deno.statSync(secrets).mode! & 0o777, 0o600);
  assert.equal(Deno.statSync(join(home.path, "config", "sregistry")).mode! & 0o777, 0o700);
});

Deno.test("backend with an unknown action or a bad backend name is a usage error", async () => {
  await using home = await tempHome();
  const unknown = await sregistry(["backend", "bogus"], { env: home.env });
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /^sregistry: unknown command 'bogus'/);
  for (
    const [args, name] of [
      [["backend", "add", "../x", "base", "y"], "\\.\\./x"],
      [["backend", "add", "nope", "base", "y"], "nope"],
      [["backend", "activate", "nope"], "nope"],
      [["backend", "activate", "https"], "https"],
    ] as const
  ) {
    assertFailure(
      await sregistry([...args], { env: home.env }),
      2,
      new RegExp(`'${name}' is not a client sregistry knows; known clients: hub, registry, oras$`),
    );
  }
  assert.deepEqual(fileTree(home.path), [], "nothing is written");
});

Deno.test("backend add and activate take a client's alias and scheme as the client", async () => {
  await using home = await tempHome();
  const env = home.env;
  assert.equal(
    (await sregistry(["backend", "add", "shub://", "base", "http://h"], { env })).code,
    0,
  );
  assert.equal((await sregistry(["backend", "activate", "SHub"], { env })).code, 0);
  assert.deepEqual(secretsOf(join(home.path, ".sregistry")), {
    hub: { SREGISTRY_HUB_BASE: "http://h" },
    SREGISTRY_CLIENT: "hub",
  });
});
