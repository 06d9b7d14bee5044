/**
 * `delete` on a Singularity Registry Server against a fake server on 127.0.0.1: it asks on a
 * terminal, refuses off one without --force, signs the request, says what it deleted, and turns
 * the server's 403 (frozen) and 404 into errors.
 */
import assert from "node:assert/strict";
import { sregistry, sregistryInProcess } from "../support/cli.ts";
import { type FakeRegistry, startFakeRegistry } from "../support/fake_registry.ts";
import { tempHome } from "../support/home.ts";
import {
  downRegistryEnv,
  registryEnv,
  requestLines,
  requestsTo,
  signedFor,
} from "../support/registry_env.ts";
import { assertFailure, assertUnchanged, records, snapshot } from "../support/state.ts";

const encoder = new TextEncoder();

async function populate(registry: FakeRegistry): Promise<void> {
  await registry.addImage("vsoch", "tacos", "latest", encoder.encode("tacos latest\n"));
  await registry.addImage("vsoch", "tacos", "v1", encoder.encode("tacos v1\n"));
  await registry.addImage("lab", "tools", "2.0", encoder.encode("tools\n"), { frozen: true });
}

function held(registry: FakeRegistry): string[] {
  return registry.images().map((image) => `${image.collection}/${image.name}:${image.tag}`);
}

Deno.test("delete on a terminal asks first; 'n' cancels and nothing is deleted", async () => {
  await using registry = await startFakeRegistry();
  await using home = await tempHome();
  await populate(registry);
  const env = registryEnv(home, registry);

  for (const answer of ["n\n", "no\n", "\n", ""]) {
    const result = await sregistryInProcess(["delete", "registry://vsoch/tacos:v1"], {
      env,
      stdinTerminal: true,
      stdin: answer,
    });
    assert.equal(result.code, 0, `${JSON.stringify(answer)}: ${result.stderr}`);
    assert.match(result.stderr, /vsoch\/tacos:v1.*\?/, "the question names the image");
    assert.match(result.stderr, /cancelled/i);
    assert.equal(result.stdout, "");
  }
  assert.deepEqual(requestsTo(registry, "DELETE", "/"), []);
  assert.deepEqual(held(registry), ["vsoch/tacos:latest", "vsoch/tacos:v1", "lab/tools:2.0"]);
  assert.deepEqual(registry.unexpected, []);
});

Deno.test("delete on a terminal answered 'y' deletes the image and prints what was deleted", async () => {
  await using registry = await startFakeRegistry();
  await using home = await tempHome();
  await populate(registry);
  const env = registryEnv(home, registry);

  const result = await sregistryInProcess(["delete", "registry://vsoch/tacos:v1"], {
    env,
    stdinTerminal: true,
    stdin: "maybe\ny\n",
  });

  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stderr, /yes or no/i, "an unclear answer is asked again");
  assert.equal(result.stdout, "vsoch/tacos:v1\n");
  assert.match(result.stderr, /deleted vsoch\/tacos:v1/);
  assert.deepEqual(requestLines(registry), ["DELETE /api/container/vsoch/tacos:v1"]);
  assert.deepEqual(held(registry), ["vsoch/tacos:latest", "lab/tools:2.0"]);
  assert.deepEqual(registry.unexpected, []);
});

Deno.test("delete --force deletes without asking, with a delete signature", async () => {
  await using registry = await startFakeRegistry();
  await using home = await tempHome();
  await populate(registry);
  const env = registryEnv(home, registry);

  const result = await sregistry(["delete", "--force", "vsoch/tacos"], { env });

  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, "vsoch/tacos:latest\n");
  assert.match(result.stderr, /deleted vsoch\/tacos:latest/);
  assert.doesNotMatch(result.stderr, /\?/, "no question");
  const [deleted] = requestsTo(registry, "DELETE", "/api/container/");
  assert.equal(deleted.path, "/api/container/vsoch/tacos:latest");
  assert.match(deleted.authorization ?? "", signedFor("delete"));
  assert.deepEqual(held(registry), ["vsoch/tacos:v1", "lab/tools:2.0"]);

  const short = await sregistry(["delete", "-f", "registry://vsoch/tacos:v1"], { env });
  assert.equal(short.code, 0, short.stderr);
  assert.deepEqual(held(registry), ["lab/tools:2.0"]);
  assert.deepEqual(registry.unexpected, []);
});

Deno.test("delete off a terminal without --force refuses, exit 2, and deletes nothing", async () => {
  await using registry = await startFakeRegistry();
  await using home = await tempHome();
  await populate(registry);
  const env = registryEnv(home, registry);

  const piped = await sregistry(["delete", "vsoch/tacos:v1"], { env, stdin: "y\n" });
  assertFailure(piped, 2, /--force/);
  const closed = await sregistry(["delete", "vsoch/tacos:v1"], { env });
  assertFailure(closed, 2, /--force/);

  assert.deepEqual(registry.requests, []);
  assert.deepEqual(held(registry), ["vsoch/tacos:latest", "vsoch/tacos:v1", "lab/tools:2.0"]);
});

Deno.test("deleting a frozen image is refused by the server: exit 1, the image stays", async () => {
  await using registry = await startFakeRegistry();
  await using home = await tempHome();
  await populate(registry);

  const result = await sregistry(["delete", "--force", "lab/tools:2.0"], {
    env: registryEnv(home, registry),
  });

  assertFailure(result, 1, /lab\/tools:2\.0/);
  assert.match(result.stderr, /frozen/);
  assert.equal(result.stdout, "");
  assert.deepEqual(held(registry), ["vsoch/tacos:latest", "vsoch/tacos:v1", "lab/tools:2.0"]);
  assert.deepEqual(registry.unexpected, []);
});

Deno.test("deleting an image the server does not have is not found, exit 1", async () => {
  await using registry = await startFakeRegistry();
  await using home = await tempHome();
  await populate(registry);

  const result = await sregistry(["delete", "--force", "vsoch/nachos:v1"], {
    env: registryEnv(home, registry),
  });

  assertFailure(result, 1, /vsoch\/nachos:v1/);
  assert.match(result.stderr, /not exist|not found/i);
  assert.equal(result.stdout, "");
  assert.equal(held(registry).length, 3);
  assert.deepEqual(registry.unexpected, []);
});

Deno.test("a host in the URI overrides the configured base; the API path keeps /api", async () => {
  await using registry = await startFakeRegistry();
  await using configured = await startFakeRegistry();
  await using home = await tempHome();
  await populate(registry);
  const env = registryEnv(home, configured, { SREGISTRY_REGISTRY_NOHTTPS: "true" });

  const result = await sregistry(
    ["delete", "--force", `registry://${registry.host}/vsoch/tacos:v1`],
    { env },
  );

  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(configured.requests, []);
  assert.deepEqual(requestLines(registry), ["DELETE /api/container/vsoch/tacos:v1"]);
  assert.deepEqual(held(registry), ["vsoch/tacos:latest", "lab/tools:2.0"]);
  assert.deepEqual(registry.unexpected, []);
});

Deno.test("delete changes the remote only: a local copy and its record stay", async () => {
  await using registry = await startFakeRegistry();
  await using home = await tempHome();
  await populate(registry);
  const env = registryEnv(home, registry);
  const pulled = await sregistry(["pull", "vsoch/tacos:v1"], { env });
  assert.equal(pulled.code, 0, pulled.stderr);
  const before = await snapshot(home, env);

  const result = await sregistry(["delete", "--force", "vsoch/tacos:v1"], { env });

  assert.equal(result.code, 0, result.stderr);
  assertUnchanged(before, await snapshot(home, env), "delete");
  assert.equal(records(before.images).length, 1);
});

Deno.test("delete against a registry that is down gives one clear line and exit 1", async () => {
  await using home = await tempHome();
  const { port, env } = downRegistryEnv(home, "/api");

  const result = await sregistry(["delete", "--force", "vsoch/tacos"], { env });

  assertFailure(result, 1, new RegExp(`127\\.0\\.0\\.1:${port}`));
});

Deno.test("the hub client cannot delete: a clear error, exit 1", async () => {
  await using home = await tempHome();

  const result = await sregistry(["delete", "--force", "hub://vsoch/tacos"], { env: home.env });

  assertFailure(result, 1, /hub client cannot delete/);
});
