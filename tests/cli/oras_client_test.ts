/**
 * oras:// as a client like the others: in `shell`, as the active backend, in `completions` and
 * `config` (each setting with its origin, secrets never shown), with bad names refused early
 * (exit 2, the wrong part named, nothing written).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { sregistry } from "../support/cli.ts";
import {
  REGISTRY_PASSWORD,
  REGISTRY_USER,
  registryTest,
  startDockerRegistry,
} from "../support/docker_registry.ts";
import { tempHome } from "../support/home.ts";
import { pushShape, sifBytes } from "../support/oci_artifacts.ts";
import { assertTransferFailure, filesUnder } from "../support/pulls.ts";
import { assertFailure, lines, md5, records } from "../support/state.ts";

registryTest("shell oras and an active oras backend take names without the scheme", async () => {
  await using registry = await startDockerRegistry();
  await using home = await tempHome();
  const bytes = sifBytes(20_000, 40);
  await pushShape(registry, "t/sif", "1", bytes, "apptainer-1.3.1");
  const session = await sregistry(["shell", "oras://"], {
    env: home.env,
    stdin: `pull ${registry.host}/t/sif:1\nsearch ${registry.host}/t/sif\nexit\n`,
  });
  assert.equal(session.code, 0, session.stderr);
  assert.match(session.stderr, /^\[client\|oras\]/);
  const path = join(home.storage, registry.host, "t", "sif", `1@${md5(bytes)}.sif`);
  assert.deepEqual(lines(session.stdout), [path, "URI", `oras://${registry.host}/t/sif:1`]);

  await using other = await tempHome();
  assert.equal((await sregistry(["backend", "activate", "oras"], { env: other.env })).code, 0);
  const pulled = await sregistry(["pull", `${registry.host}/t/sif:1`], { env: other.env });
  assert.equal(pulled.code, 0, pulled.stderr);
  assert.match(pulled.stderr, /\[client\|oras\]/);
});

Deno.test("config shows each oras setting and where it came from, never a secret", async () => {
  await using home = await tempHome();
  home.file(
    ".sregistry",
    JSON.stringify({
      oras: {
        SREGISTRY_ORAS_NOHTTPS: "lab.example.org:5000",
        auths: { "ghcr.io": { auth: btoa("me:pw-Conf9-distinct") } },
      },
    }),
  );
  home.file(".docker/config.json", "{}");
  const config = async (env: Record<string, string> = {}) => {
    const result = await sregistry(["config", "--json"], { env: { ...home.env, ...env } });
    assert.equal(result.code, 0, result.stderr);
    assert.ok(!result.stdout.includes("pw-Conf9-distinct") && !result.stdout.includes("pw-Env"));
    const rows = JSON.parse(result.stdout) as { name: string; value: string; origin: string }[];
    return Object.fromEntries(rows.map((row) => [row.name, row]));
  };
  const fromFile = await config();
  assert.deepEqual(
    [fromFile.SREGISTRY_ORAS_NOHTTPS.value, fromFile.SREGISTRY_ORAS_NOHTTPS.origin],
    ["lab.example.org:5000", "secrets"],
  );
  assert.deepEqual(
    [fromFile["oras logins"].value, fromFile["oras logins"].origin],
    ["ghcr.io", "secrets"],
  );
  assert.equal(fromFile["oras auth files"].value, "~/.docker/config.json");
  assert.equal(fromFile["oras credentials (environment)"].value, "");

  const fromEnv = await config({
    SREGISTRY_ORAS_NOHTTPS: "true",
    SREGISTRY_ORAS_CHUNK_SIZE: "8M",
    APPTAINER_DOCKER_USERNAME: "me",
    APPTAINER_DOCKER_PASSWORD: "pw-Env-distinct",
  });
  assert.deepEqual(
    [fromEnv.SREGISTRY_ORAS_NOHTTPS.value, fromEnv.SREGISTRY_ORAS_NOHTTPS.origin],
    ["true", "environment"],
  );
  assert.equal(fromEnv.SREGISTRY_ORAS_CHUNK_SIZE.value, "8M");
  assert.equal(fromEnv["oras credentials (environment)"].value, "me (password set, not shown)");

  const listed = await sregistry(["backend", "ls", "oras"], { env: home.env });
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, /^auths=\*+$/m);
  assert.ok(!listed.stdout.includes(btoa("me:pw-Conf9-distinct")));
});

Deno.test("completions offer login, logout and their options", async () => {
  await using home = await tempHome();
  const result = await sregistry(["completions", "bash"], { env: home.env });
  assert.equal(result.code, 0);
  assert.match(result.stdout, /\blogin\b.*\blogout\b/);
  assert.match(result.stdout, /login\) words="[^"]*--password-stdin/);
});

Deno.test("oras names outside the OCI grammar are refused with exit 2, naming the part", async () => {
  await using home = await tempHome();
  const cases: [string[], RegExp][] = [
    [["pull", "oras://h.io/Lab/x:1"], /repository component 'Lab'/],
    [["pull", "oras://h.io/lab/x:bad tag"], /the tag 'bad tag'/],
    [["record", "oras://h.io/x@sha256:12"], /'sha256:12' after '@' is not a digest/],
    [["delete", "--force", "oras://h_o.io/x"], /registry host 'h_o.io'/],
    [["search", "oras://h.io/a//b"], /empty component/],
    [
      ["push", home.file("x.sif", "x"), "--name", "oras://h.io/x:-1"],
      /the tag may not start with '-'/,
    ],
  ];
  for (const [args, message] of cases) {
    assertFailure(await sregistry(args, { env: home.env }), 2, message);
  }
  assert.deepEqual(filesUnder(home.storage), [], "nothing was written to storage");
  assert.deepEqual(records(await sregistry(["images", "--json"], { env: home.env })), []);
});

registryTest(
  "a loopback registry that speaks https is used over https, with the site's CA",
  async () => {
    await using registry = await startDockerRegistry({ tls: true, auth: "basic" });
    await using home = await tempHome();
    const bytes = sifBytes(50_000, 41);
    const uri = `oras://${registry.host}/t/tls:1`;
    const env = {
      ...home.env,
      SREGISTRY_ORAS_USERNAME: REGISTRY_USER,
      SREGISTRY_ORAS_PASSWORD: REGISTRY_PASSWORD,
      SREGISTRY_RETRIES: "0",
    };
    const untrusted = await sregistry(["push", home.file("t.sif", bytes), "--name", uri], { env });
    assertTransferFailure(untrusted, 1, /certificate.*DENO_CERT/i);
    const trusted = { ...env, DENO_CERT: registry.ca! };
    const pushed = await sregistry(["push", home.file("t.sif", bytes), "--name", uri], {
      env: trusted,
    });
    assert.equal(pushed.code, 0, pushed.stderr);
    const pulled = await sregistry(["pull", "--json", uri], { env: trusted });
    assert.equal(pulled.code, 0, pulled.stderr);
    assert.deepEqual(Deno.readFileSync(JSON.parse(pulled.stdout).image), bytes);
  },
);
