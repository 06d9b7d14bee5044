/**
 * `sregistry du`: bytes per collection and in total (a file shared by hard links counted once),
 * what shared content saves, what prune would reclaim (the same plan as prune --dry-run), bars
 * on a terminal only, JSON in bytes; and it changes nothing.
 */
import assert from "node:assert/strict";
import { sregistry, sregistryInProcess } from "../support/cli.ts";
import { type TempHome, tempHome } from "../support/home.ts";
import { assertUnchanged, snapshot } from "../support/state.ts";
import { plantLeftovers } from "../support/store.ts";
import { join } from "node:path";

const KIB = 1024;

/** lab: a 40 KiB image under two names and a 10 KiB one; other: a 30 KiB one. */
async function store(home: TempHome): Promise<Record<string, string>> {
  const paths: Record<string, string> = {};
  const images: [string, number][] = [["lab/big:v1", 40], ["lab/small:v1", 10], [
    "other/x:v1",
    30,
  ]];
  for (const [name, kib] of images) {
    const file = home.file(`${name.replace(/\W/g, "-")}.sif`, "x".repeat(kib * KIB - 1) + name[0]);
    const added = await sregistry(["add", file, "--name", name, "--json"], { env: home.env });
    assert.equal(added.code, 0, added.stderr);
    paths[name] = JSON.parse(added.stdout).image;
  }
  const tagged = await sregistry(["tag", "lab/big:v1", "lab/big:stable"], { env: home.env });
  assert.equal(tagged.code, 0, tagged.stderr);
  return paths;
}

Deno.test("du counts each file once, per collection and in total, and says what sharing saves", async () => {
  await using home = await tempHome();
  await store(home);
  const before = await snapshot(home);
  const result = await sregistry(["du", "--json"], { env: home.env });
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(JSON.parse(result.stdout), {
    collections: [
      { collection: "lab", records: 3, files: 2, bytes: 50 * KIB },
      { collection: "other", records: 1, files: 1, bytes: 30 * KIB },
    ],
    total: { records: 4, files: 3, bytes: 80 * KIB },
    unrecorded: { files: 0, bytes: 0 },
    shared: { record_bytes: 120 * KIB, file_bytes: 80 * KIB, saved: 40 * KIB },
    reclaimable: { records: 0, files: 0, bytes: 0 },
  });
  const table = await sregistry(["du"], { env: home.env });
  assert.equal(
    table.stdout,
    [
      "collection  images    size",
      "lab              3  50 KiB",
      "other            1  30 KiB",
      "total            4  80 KiB",
      "shared content saves 40 KiB (120 KiB of images in 80 KiB of files)",
      "prune would reclaim 0 B (0 records, 0 files)",
      "",
    ].join("\n"),
  );
  assertUnchanged(before, await snapshot(home), "du");
});

Deno.test("du shows what prune would reclaim, as prune --dry-run plans it", async () => {
  await using home = await tempHome();
  const paths = await store(home);
  Deno.removeSync(paths["lab/small:v1"]);
  home.file(".singularity/shub/other/stray/latest.sif", "y".repeat(5 * KIB));
  plantLeftovers(home, join(home.storage, "other", "x"));
  const du = JSON.parse((await sregistry(["du", "--json"], { env: home.env })).stdout);
  const dry = JSON.parse(
    (await sregistry(["prune", "--dry-run", "--json"], { env: home.env })).stdout,
  );
  assert.deepEqual(du.reclaimable, {
    records: dry.records.length,
    files: dry.files.length,
    bytes: dry.freed,
  });
  assert.equal(du.reclaimable.records, 1);
  assert.ok(du.reclaimable.bytes > 5 * KIB);
  assert.equal(du.total.bytes, 70 * KIB, "the missing file takes nothing");
  assert.equal(du.unrecorded.files, 1 + 6, "the stray file and every leftover");
  const table = await sregistry(["du"], { env: home.env });
  assert.match(table.stdout, /^\(no record\)\s+-\s+\d+\.\d KiB$/m);
  assert.match(table.stdout, /^\(no record\): 7 files no record names or runs left behind$/m);
});

Deno.test("du with a query counts only the matching records", async () => {
  await using home = await tempHome();
  await store(home);
  home.file(".singularity/shub/lab/stray/latest.sif", "stray");
  const result = JSON.parse((await sregistry(["du", "--json", "other"], { env: home.env })).stdout);
  assert.deepEqual(result.collections, [
    { collection: "other", records: 1, files: 1, bytes: 30 * KIB },
  ]);
  assert.equal(result.unrecorded, null);
  assert.equal(result.reclaimable.files, 1, "prune's plan is the whole store's");
  const none = await sregistry(["du", "nothing-matches"], { env: home.env });
  assert.deepEqual([none.code, none.stdout, none.stderr], [0, "", "No matching images.\n"]);
});

Deno.test("du draws a bar per row on a terminal, the largest the longest, and none off it", async () => {
  await using home = await tempHome();
  await store(home);
  const terminal = await sregistryInProcess(["du"], {
    env: home.env,
    cwd: home.path,
    stdoutTerminal: true,
  });
  assert.equal(terminal.code, 0, terminal.stderr);
  const bars = terminal.stdout.split("\n").slice(1, 3).map((row) => /#+$/.exec(row)?.[0].length);
  assert.ok(bars[0]! > bars[1]!, `lab's bar is longer: ${bars}`);
  assert.equal(Math.round((bars[0]! * 30) / 50), bars[1], "bars are in proportion");
  const piped = await sregistryInProcess(["du"], { env: home.env, cwd: home.path });
  assert.doesNotMatch(piped.stdout, /#/);
});
