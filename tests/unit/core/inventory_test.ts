/**
 * The inventory: each record's file as it is on disk, files no record names, and leftovers of
 * dead runs told apart from files live processes still hold.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { addImage } from "../../../src/core/add.ts";
import { takeInventory } from "../../../src/core/inventory.ts";
import { holdOwnerLock } from "../../../src/core/journal.ts";
import { parseImageName } from "../../../src/core/names.ts";
import { openRegistry, type Registry } from "../../../src/core/registry.ts";
import { STALE_AFTER_MS, TEMP_PREFIX, TOMBSTONE_PREFIX } from "../../../src/core/storage.ts";
import { type TempHome, tempHome } from "../../support/home.ts";
import { holdLiveFiles, plantLeftovers } from "../../support/store.ts";

function openStore(home: TempHome, storage = home.storage): Promise<Registry> {
  return openRegistry({ databaseFolder: home.database, storageRoot: storage });
}

async function add(registry: Registry, home: TempHome, name: string, content: string) {
  const file = home.file(`sources/${name.replaceAll("/", "-")}.sif`, content);
  return await addImage(registry, { file, name: parseImageName(name), client: "test", copy: true });
}

Deno.test("each record's file is seen as it is: there, changed, missing or a planted symlink", async () => {
  await using home = await tempHome();
  using registry = await openStore(home);
  const ok = await add(registry, home, "lab/ok:v1", "fine");
  const changed = await add(registry, home, "lab/changed:v1", "twelve bytes");
  const gone = await add(registry, home, "lab/gone:v1", "gone");
  const linked = await add(registry, home, "lab/linked:v1", "linked");
  Deno.writeTextFileSync(changed.path, "short");
  Deno.removeSync(gone.path);
  const target = home.file("outside.sif", "linked");
  Deno.removeSync(linked.path);
  Deno.symlinkSync(target, linked.path);
  const inventory = await takeInventory(registry, []);
  assert.deepEqual(
    inventory.records.map((file) => [file.record.uri.split(":")[0], file.state, file.other?.type]),
    [
      ["lab/ok", "file", undefined],
      ["lab/changed", "changed", undefined],
      ["lab/gone", "missing", undefined],
      ["lab/linked", "missing", "symlink"],
    ],
  );
  assert.equal(inventory.records[0].entry?.path, ok.path);
  assert.deepEqual(inventory.unknown, [], "a record names the planted link");
  assert.equal(inventory.complete, true);
});

Deno.test("files no record names are unknown; CACHEDIR.TAG and the database's files are not", async () => {
  await using home = await tempHome();
  // The database folder inside storage: its files are not storage's.
  using registry = await openStore(home, home.database);
  await add(registry, home, "lab/ok:v1", "fine");
  home.file(".singularity/CACHEDIR.TAG", "Signature: 8a477f597d28d172789f06886806bc55\n");
  home.file(".singularity/lab/stray.sif", "no record");
  home.file(".singularity/lab/.sregistry-mine", "reserved prefix, unknown kind");
  const inventory = await takeInventory(registry, []);
  assert.deepEqual(inventory.unknown.map((entry) => entry.path).sort(), [
    join(home.database, "lab", ".sregistry-mine"),
    join(home.database, "lab", "stray.sif"),
  ]);
  assert.deepEqual(inventory.leftovers, []);
});

Deno.test("leftovers of dead runs are found; what live processes hold is not", async () => {
  await using home = await tempHome();
  using registry = await openStore(home);
  const folder = join(home.storage, "lab", "image");
  const planted = plantLeftovers(home, folder);
  using live = holdLiveFiles(home, folder);
  // This process's own temporary file, and one of an older version, touched just now.
  holdOwnerLock(registry);
  Deno.writeTextFileSync(registry.storage.tempPath(folder, registry.owner), "mine");
  Deno.writeTextFileSync(join(folder, `${TEMP_PREFIX}77-0011aabb`), "fresh, old-style");
  const stale = join(folder, `${TEMP_PREFIX}78-2233ccdd`);
  Deno.writeTextFileSync(stale, "stale, old-style");
  const old = new Date(Date.now() - 2 * STALE_AFTER_MS);
  Deno.utimeSync(stale, old, old);
  // A tombstone a pending change names: a live rmi, or one the next command repairs.
  const pending = join(folder, `${TOMBSTONE_PREFIX}99-00000000`);
  Deno.writeTextFileSync(pending, "an image an rmi in flight set aside");
  registry.db.prepare(
    "INSERT INTO journal (owner, state, steps, created_at) VALUES ('elsewhere', 'intent', ?, '')",
  ).run(JSON.stringify([{
    op: "set-aside",
    file: "lab/image/v1.sif",
    tombstone: "lab/image/.sregistry-removed-99-00000000",
  }]));

  const inventory = await takeInventory(registry, []);
  const found = inventory.leftovers.map((leftover) => [leftover.kind, leftover.entry.path]).sort();
  assert.deepEqual(
    found,
    [
      ["owner-lock", planted.ownerLock],
      ...planted.partial.map((path) => ["partial", path]),
      ["temporary", planted.temporary],
      ["temporary", stale],
      ["tombstone", planted.tombstone],
    ].sort(),
  );
  const reported = new Set([
    ...found.map(([, path]) => path),
    ...inventory.unknown.map((e) => e.path),
  ]);
  for (const file of live.files) assert.ok(!reported.has(file), `${file} is held, not reported`);
  assert.ok(!reported.has(pending), "a tombstone the journal names is not a leftover");
});

Deno.test("with queries only the matching records are looked at, not storage as a whole", async () => {
  await using home = await tempHome();
  using registry = await openStore(home);
  await add(registry, home, "lab/one:v1", "one");
  await add(registry, home, "other/two:v1", "two");
  home.file(".singularity/shub/lab/stray.sif", "no record");
  const inventory = await takeInventory(registry, ["lab/"]);
  assert.deepEqual(inventory.records.map((file) => file.record.collection), ["lab"]);
  assert.equal(inventory.complete, false);
  assert.deepEqual(inventory.unknown, []);
});
