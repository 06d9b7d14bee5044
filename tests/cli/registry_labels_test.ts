/**
 * `labels [--key k] [--value v]` on a Singularity Registry Server (broken in the original,
 * reference §8.14) against a fake server on 127.0.0.1: the label-search URLs, table and JSON.
 */
import assert from "node:assert/strict";
import { sregistry } from "../support/cli.ts";
import { type FakeRegistry, startFakeRegistry } from "../support/fake_registry.ts";
import { tempHome } from "../support/home.ts";
import { downRegistryEnv, registryEnv, requestLines } from "../support/registry_env.ts";
import { assertFailure, lines } from "../support/state.ts";

const encoder = new TextEncoder();

async function populate(registry: FakeRegistry): Promise<void> {
  await registry.addImage("vsoch", "tacos", "latest", encoder.encode("tacos\n"), {
    labels: { maintainer: "vsoch", arch: "x86_64" },
  });
  await registry.addImage("lab", "tools", "2.0", encoder.encode("tools\n"), {
    labels: { maintainer: "lab", arch: "x86_64", gpu: "yes" },
  });
  await registry.addImage("lab", "plain", "1", encoder.encode("no labels\n"));
}

interface Label {
  key: string;
  value: string;
  containers: string[];
}

Deno.test("labels lists every label with its containers, as a table and as JSON", async () => {
  await using registry = await startFakeRegistry();
  await using home = await tempHome();
  await populate(registry);
  const env = registryEnv(home, registry);

  const table = await sregistry(["labels"], { env });

  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stderr, /^\[client\|registry\]/);
  const [header, ...rows] = lines(table.stdout);
  assert.match(header, /^KEY\s+VALUE\s+CONTAINERS$/);
  assert.deepEqual(rows.map((row) => row.split(/\s{2,}/)), [
    ["maintainer", "vsoch", "vsoch/tacos:latest"],
    ["arch", "x86_64", "vsoch/tacos:latest, lab/tools:2.0"],
    ["maintainer", "lab", "lab/tools:2.0"],
    ["gpu", "yes", "lab/tools:2.0"],
  ]);

  const json = await sregistry(["labels", "--json"], { env });
  assert.equal(json.code, 0, json.stderr);
  assert.equal(json.stderr, "");
  const labels = JSON.parse(json.stdout) as Label[];
  assert.deepEqual(labels.find((label) => label.key === "arch"), {
    key: "arch",
    value: "x86_64",
    containers: ["vsoch/tacos:latest", "lab/tools:2.0"],
  });
  assert.equal(labels.length, 4);
  assert.deepEqual(requestLines(registry), ["GET /api/labels/search", "GET /api/labels/search"]);
  assert.deepEqual(registry.unexpected, []);
});

Deno.test("labels --key, --value and both ask the matching label-search URL", async () => {
  await using registry = await startFakeRegistry();
  await using home = await tempHome();
  await populate(registry);
  const env = registryEnv(home, registry);

  const byKey = await sregistry(["labels", "--json", "--key", "maintainer"], { env });
  assert.equal(byKey.code, 0, byKey.stderr);
  assert.deepEqual((JSON.parse(byKey.stdout) as Label[]).map((label) => label.value), [
    "vsoch",
    "lab",
  ]);

  const byValue = await sregistry(["labels", "--json", "--value", "x86_64"], { env });
  assert.equal(byValue.code, 0, byValue.stderr);
  assert.deepEqual(JSON.parse(byValue.stdout), [{
    key: "arch",
    value: "x86_64",
    containers: ["vsoch/tacos:latest", "lab/tools:2.0"],
  }]);

  const both = await sregistry(["labels", "-k", "maintainer", "-v", "lab"], { env });
  assert.equal(both.code, 0, both.stderr);
  assert.deepEqual(lines(both.stdout).slice(1).map((row) => row.split(/\s{2,}/)), [
    ["maintainer", "lab", "lab/tools:2.0"],
  ]);

  assert.deepEqual(requestLines(registry), [
    "GET /api/labels/search/maintainer/key",
    "GET /api/labels/search/x86_64/value",
    "GET /api/labels/search/maintainer/key/lab/value",
  ]);
  assert.deepEqual(registry.unexpected, []);
});

Deno.test("labels that match nothing say so and exit 0; --json prints []", async () => {
  await using registry = await startFakeRegistry();
  await using home = await tempHome();
  await populate(registry);
  const env = registryEnv(home, registry);

  const table = await sregistry(["labels", "--key", "nothing"], { env });
  assert.equal(table.code, 0, table.stderr);
  assert.equal(table.stdout, "");
  assert.match(table.stderr, /No labels found/);

  const json = await sregistry(["labels", "--json", "--value", "nothing"], { env });
  assert.equal(json.code, 0, json.stderr);
  assert.deepEqual(JSON.parse(json.stdout), []);
  assert.deepEqual(registry.unexpected, []);
});

Deno.test("labels --client registry works when another client is active", async () => {
  await using registry = await startFakeRegistry();
  await using home = await tempHome();
  await populate(registry);
  const env = registryEnv(home, registry);
  delete env.SREGISTRY_CLIENT;

  const result = await sregistry(["labels", "--client", "registry", "--key", "gpu"], { env });

  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /gpu\s+yes\s+lab\/tools:2\.0/);

  const hub = await sregistry(["labels"], { env });
  assertFailure(hub, 1, /hub client cannot labels|cannot.*labels/);
  assert.deepEqual(registry.unexpected, []);
});

Deno.test("labels against a registry that is down gives one clear line and exit 1", async () => {
  await using home = await tempHome();
  const { port, env } = downRegistryEnv(home);

  const result = await sregistry(["labels", "--key", "gpu"], { env });

  assertFailure(result, 1, new RegExp(`127\\.0\\.0\\.1:${port}`));
});
