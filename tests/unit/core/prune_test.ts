/**
 * Planning and carrying out a prune: what is chosen (missing files, unknown files, leftovers,
 * --unused, --keep, both), bytes counted per file across hard links, tombstones put back, and
 * every step checked again so that what another command did since the plan is never undone.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { addImage } from "../../../src/core/add.ts";
import { insertContainer } from "../../../src/core/container_writes.ts";
import { LockFile } from "../../../src/core/file_lock.ts";
import { parseImageName } from "../../../src/core/names.ts";
import { prune, type PruneCriteria } from "../../../src/core/prune.ts";
import { planPrune, type PrunePlan } from "../../../src/core/prune_plan.ts";
import { openRegistry, type Registry } from "../../../src/core/registry.ts";
import { exists, TOMBSTONE_PREFIX } from "../../../src/core/storage.ts";
import { tagImage } from "../../../src/core/tag.ts";
import { type TempHome, tempHome } from "../../support/home.ts";
import { plantLeftovers } from "../../support/store.ts";

function openStore(home: TempHome): Promise<Registry> {
  return openRegistry({ databaseFolder: home.database, storageRoot: home.storage });
}

async function add(registry: Registry, home: TempHome, name: string, content: string) {
  const file = home.file(`sources/${name.replace(/[/:@]/g, "-")}.sif`, content);
  return await addImage(registry, { file, name: parseImageName(name), client: "test", copy: true });
}

function setUsed(registry: Registry, uriPrefix: string, usedAt: string): void {
  registry.db.prepare("UPDATE container SET used_at = ? WHERE uri LIKE ?").run(
    usedAt,
    `${uriPrefix}%`,
  );
}

function summary(plan: PrunePlan) {
  return {
    records: plan.records.map((r) => [r.record.uri.split("@")[0], r.reason, r.freed]),
    files: plan.files.map((f) => [f.entry.path.split("/").slice(-2).join("/"), f.reason, f.freed]),
    restores: plan.restores.map((r) => r.record.uri.split("@")[0]),
    bytes: plan.bytes,
  };
}

const NOW: PruneCriteria = { now: new Date("2026-06-01T00:00:00Z") };

Deno.test("a plan removes records whose file is gone, unknown files and leftovers", async () => {
  await using home = await tempHome();
  using registry = await openStore(home);
  const gone = await add(registry, home, "lab/gone:v1", "gone");
  await add(registry, home, "lab/kept:v1", "kept");
  Deno.removeSync(gone.path);
  home.file(".singularity/shub/lab/kept/stray.sif", "12345");
  const planted = plantLeftovers(home, join(home.storage, "lab", "kept"));
  const plan = await planPrune(registry, NOW);
  assert.deepEqual(summary(plan).records, [["lab/gone:v1", "missing", 0]]);
  assert.deepEqual(
    plan.files.map((f) => [f.entry.path, f.reason]).sort(),
    [
      [join(home.storage, "lab", "kept", "stray.sif"), "unknown"],
      [planted.temporary, "temporary"],
      ...planted.partial.map((path) => [path, "partial"]),
      [planted.tombstone, "tombstone"],
      [planted.ownerLock, "owner-lock"],
    ].sort(),
  );
  const sizes = plan.files.filter((f) => f.reason !== "owner-lock")
    .reduce((sum, f) => sum + f.entry.size, 0);
  assert.equal(plan.bytes, sizes + Deno.statSync(planted.ownerLock).size);

  const outcome = prune(registry, plan, NOW);
  assert.equal(outcome.skipped, 0);
  assert.equal(outcome.bytes, plan.bytes);
  for (const file of plan.files) assert.ok(!exists(file.entry.path), `${file.entry.path} deleted`);
  assert.equal(
    registry.db.prepare("SELECT count(*) AS n FROM container").get()!.n,
    1,
    "the kept image stays",
  );
  assert.deepEqual((await planPrune(registry, NOW)).files, [], "nothing left to prune");
});

Deno.test("bytes are counted per file: a hard link another record or file keeps frees nothing", async () => {
  await using home = await tempHome();
  using registry = await openStore(home);
  const content = "shared content, ten bytes x".repeat(10);
  const first = await add(registry, home, "lab/tool:v1", content);
  tagImage(registry, parseImageName("lab/tool:v1"), parseImageName("lab/tool:stable"));
  // A third name of the same file that no record knows.
  const stray = join(home.storage, "lab", "tool", "stray.sif");
  Deno.linkSync(first.path, stray);
  setUsed(registry, "lab/tool:v1", "2020-01-01 00:00:00");
  setUsed(registry, "lab/tool:stable", "2026-05-30 00:00:00");
  let plan = await planPrune(registry, { ...NOW, unusedDays: 30 });
  assert.deepEqual(summary(plan).records, [["lab/tool:v1", "unused", 0]]);
  assert.deepEqual(summary(plan).files, [["tool/stray.sif", "unknown", 0]]);
  assert.equal(plan.bytes, 0, "lab/tool:stable keeps the bytes");

  setUsed(registry, "lab/tool:stable", "2020-01-01 00:00:00");
  plan = await planPrune(registry, { ...NOW, unusedDays: 30 });
  assert.equal(plan.bytes, content.length, "the last of three links frees the bytes, once");
  const outcome = prune(registry, plan, { ...NOW, unusedDays: 30 });
  assert.equal(outcome.bytes, content.length);
  assert.ok(!exists(first.path) && !exists(stray));
});

Deno.test("--keep keeps the newest versions of each name; with --unused, only both choose", async () => {
  await using home = await tempHome();
  using registry = await openStore(home);
  for (const version of ["v1", "v2", "v3"]) {
    await add(registry, home, `lab/tool:latest@${version}`, `tool ${version}`);
  }
  await add(registry, home, "lab/other:latest@v1", "other v1");
  const keep = await planPrune(registry, { ...NOW, keep: 1 });
  assert.deepEqual(summary(keep).records.map(([uri, reason]) => [uri, reason]), [
    ["lab/tool:latest", "old-version"],
    ["lab/tool:latest", "old-version"],
  ]);
  assert.deepEqual(keep.records.map((r) => r.record.uri), [
    "lab/tool:latest@v1",
    "lab/tool:latest@v2",
  ]);
  setUsed(registry, "lab/%", "2026-05-31 00:00:00");
  setUsed(registry, "lab/tool:latest@v1", "2020-01-01 00:00:00");
  const both = await planPrune(registry, { ...NOW, keep: 1, unusedDays: 30 });
  assert.deepEqual(both.records.map((r) => r.record.uri), ["lab/tool:latest@v1"]);
  const unused = await planPrune(registry, { ...NOW, unusedDays: 30 });
  assert.deepEqual(unused.records.map((r) => r.record.uri), ["lab/tool:latest@v1"]);
  // Without a use, the creation time counts.
  registry.db.prepare("UPDATE container SET used_at = NULL, created_at = '2020-01-01 00:00:00'")
    .run();
  assert.equal((await planPrune(registry, { ...NOW, unusedDays: 30 })).records.length, 4);
});

Deno.test("a tombstone holding a missing file's content is put back instead of the record going", async () => {
  await using home = await tempHome();
  using registry = await openStore(home);
  const stranded = await add(registry, home, "lab/stranded:v1", "the stranded image");
  const other = await add(registry, home, "lab/other:v1", "other image content");
  // What an older version could leave: the file renamed to a tombstone, its record kept.
  const tombstone = join(home.storage, "lab", "stranded", `${TOMBSTONE_PREFIX}1-00000001`);
  Deno.renameSync(stranded.path, tombstone);
  // A tombstone of the same size but other content is not the record's file.
  const impostor = join(home.storage, "lab", "other", `${TOMBSTONE_PREFIX}1-00000002`);
  Deno.renameSync(other.path, impostor);
  Deno.writeTextFileSync(impostor, "OTHER IMAGE CONTENT");
  const plan = await planPrune(registry, NOW);
  assert.deepEqual(summary(plan).restores, ["lab/stranded:v1"]);
  assert.deepEqual(summary(plan).records, [["lab/other:v1", "missing", 0]]);
  assert.deepEqual(summary(plan).files, [["other/.sregistry-removed-1-00000002", "tombstone", 19]]);
  const outcome = prune(registry, plan, NOW);
  assert.equal(outcome.restored.length, 1);
  assert.equal(Deno.readTextFileSync(stranded.path), "the stranded image");
  assert.ok(!exists(tombstone) && !exists(impostor));
  assert.ok(!exists(join(home.storage, "lab", "other")), "the emptied folder is pruned");
});

Deno.test("prune leaves what changed since its plan: a file back, a file recorded, a lock taken", async () => {
  await using home = await tempHome();
  using registry = await openStore(home);
  const back = await add(registry, home, "lab/back:v1", "back again");
  Deno.removeSync(back.path);
  const adopted = home.file(".singularity/shub/lab/adopted/v1.sif", "adopted");
  const planted = plantLeftovers(home, join(home.storage, "lab", "busy"));
  const plan = await planPrune(registry, NOW);
  assert.equal(plan.records.length, 1);
  assert.equal(plan.files.filter((f) => f.reason === "partial").length, 3);

  // Meanwhile: the file is put back, another command records the stray file, a pull starts.
  Deno.writeTextFileSync(back.path, "back again");
  insertContainer(registry.db, {
    image: parseImageName("lab/adopted:v1"),
    uri: "lab/adopted:v1",
    file: registry.storage.toRecord(adopted),
    url: null,
    client: "test",
    metadata: null,
    size: 7,
    md5: null,
  });
  Deno.removeSync(planted.partial[2]);
  const pull = LockFile.create(planted.partial[2])!;

  const outcome = prune(registry, plan, NOW);
  pull.release();
  assert.deepEqual(outcome.records, []);
  assert.ok(exists(back.path) && exists(adopted));
  for (const path of planted.partial.slice(0, 2)) {
    assert.ok(exists(path), `${path} kept: a pull held it`);
  }
  assert.equal(outcome.skipped, 1 + 1 + 3);
  assert.ok(!exists(planted.temporary) && !exists(planted.tombstone));
});
