/** Listing records as JSON in batches: every record once, oldest first, filters applied. */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { Container } from "../../../src/core/containers.ts";
import { containerRecordsJson } from "../../../src/core/container_json.ts";
import { listContainers } from "../../../src/core/container_listing.ts";
import { fieldsOf, insertContainer, updateContainer } from "../../../src/core/container_writes.ts";
import { formatImageName } from "../../../src/core/names.ts";
import { openRegistry, type Registry } from "../../../src/core/registry.ts";

async function registryWith(count: number): Promise<Registry & AsyncDisposable> {
  const folder = await Deno.makeTempDir({ prefix: "sregistry-containers-" });
  const registry = await openRegistry({
    databaseFolder: folder,
    storageRoot: join(folder, "shub"),
  });
  for (let i = 0; i < count; i++) {
    const image = {
      registry: null,
      collection: `lab${i % 3}`,
      name: `tool-${i}`,
      tag: i % 2 ? "latest" : "dev",
      version: null,
    };
    insertContainer(registry.db, {
      image,
      uri: formatImageName(image),
      file: null,
      url: `https://example.org/${i}`,
      client: "hub",
      metadata: { index: i },
      size: null,
      md5: null,
    });
  }
  return Object.assign(registry, {
    async [Symbol.asyncDispose]() {
      registry[Symbol.dispose]();
      await Deno.remove(folder, { recursive: true });
    },
  });
}

function listed(registry: Registry, queries: string[], batchSize: number): { id: number }[] {
  const batches = [
    ...containerRecordsJson(registry.db, registry.storage.root, queries, {
      batchSize,
      separator: ",",
    }),
  ];
  assert.ok(batches.every((batch) => batch.split('{"id"').length - 1 <= batchSize));
  return JSON.parse(`[${batches.join(",")}]`);
}

Deno.test("batches hold every record once, oldest first, whatever the batch size", async () => {
  await using registry = await registryWith(25);
  const ids = listContainers(registry.db, []).map((container) => container.id);
  assert.equal(ids.length, 25);
  for (const batchSize of [1, 4, 25, 1000]) {
    const records = listed(registry, [], batchSize);
    assert.deepEqual(records.map((record) => record.id), ids, `batches of ${batchSize}`);
  }
  const first = listed(registry, [], 7)[0] as unknown as Record<string, unknown>;
  assert.equal(first.collection, "lab0");
  assert.deepEqual(first.metadata, { index: 0 });
});

Deno.test("batches keep only what the queries match, as listContainers does", async () => {
  await using registry = await registryWith(25);
  for (const queries of [["lab1"], ["dev"], ["tool-1", "lab2"], ["nothing"]]) {
    const expected = listContainers(registry.db, queries).map((container) => container.id);
    const records = listed(registry, queries, 3);
    assert.deepEqual(records.map((record) => record.id), expected, queries.join(" "));
  }
  assert.deepEqual(listed(registry, ["nothing"], 3), []);
});

Deno.test("an update sets the image's metrics and keeps the keys it does not set (the Python client's)", async () => {
  await using registry = await registryWith(2);
  const [first, second] = listContainers(registry.db, []);
  registry.db.prepare("UPDATE container SET metrics = ? WHERE id = ?")
    .run('{"collection":"lab0","labels":{"old":"x"},"type":"container"}', first.id);
  registry.db.prepare("UPDATE container SET metrics = 'not json' WHERE id = ?").run(second.id);
  const metrics = { format: "sif", arch: null, labels: { new: "y" } };
  for (const container of [first, second]) {
    updateContainer(registry.db, container.id, {
      ...fieldsOf(container, image(container)),
      metrics,
    });
  }
  const [updated, repaired] = listContainers(registry.db, []);
  assert.deepEqual(updated.metrics, {
    collection: "lab0",
    labels: { new: "y" },
    type: "container",
    format: "sif",
    arch: null,
  });
  assert.deepEqual(repaired.metrics, metrics);
  updateContainer(registry.db, first.id, fieldsOf(updated, image(updated)));
  assert.deepEqual(listContainers(registry.db, [])[0].metrics, updated.metrics, "kept when unset");
});

function image(container: Container) {
  return {
    registry: null,
    collection: container.collection,
    name: container.name,
    tag: container.tag,
    version: container.version,
  };
}
