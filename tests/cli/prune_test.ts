/**
 * `sregistry prune`: what it removes (records whose file is gone, files no record knows,
 * leftovers of killed runs, unused and old images when asked) and what it never touches (live
 * files, CACHEDIR.TAG, a symlink's target, bytes another name still uses); --dry-run changes
 * nothing; the confirmation rules of `rm --all`; its JSON and exit codes.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { sregistry, sregistryInProcess } from "../support/cli.ts";
import { type TempHome, tempHome } from "../support/home.ts";
import { filesUnder } from "../support/pulls.ts";
import {
  assertFailure,
  assertUnchanged,
  exists,
  md5,
  records,
  snapshot,
} from "../support/state.ts";
import { daysAgo, holdLiveFiles, plantLeftovers, setUseTime } from "../support/store.ts";

async function addImages(
  home: TempHome,
  images: Record<string, string>,
): Promise<Record<string, string>> {
  const paths: Record<string, string> = {};
  for (const [name, content] of Object.entries(images)) {
    const file = home.file(`sources/${name.replace(/[/:@]/g, "-")}.sif`, content);
    const added = await sregistry(["add", "--copy", file, "--name", name, "--json"], {
      env: home.env,
    });
    assert.equal(added.code, 0, added.stderr);
    paths[name] = JSON.parse(added.stdout).image;
  }
  return paths;
}

interface PruneJson {
  dry_run: boolean;
  restored: { uri: string; image: string; tombstone: string }[];
  records: { uri: string; image: string; reason: string; size: number | null; freed: number }[];
  files: { path: string; reason: string; size: number; freed: number }[];
  kept: { uri: string; image: string; reason: string }[];
  skipped: number;
  freed: number;
}

async function pruneJson(home: TempHome, args: string[]): Promise<PruneJson> {
  const result = await sregistry(["prune", "--json", ...args], { env: home.env });
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout);
}

const uris = (home: TempHome) =>
  sregistry(["images", "--json"], { env: home.env }).then((result) =>
    records(result).map((record) => record.uri.split("@")[0])
  );

/** A store with something of every kind for prune to remove, and things it must keep. */
async function untidyStore(home: TempHome) {
  const paths = await addImages(home, {
    "lab/gone:v1": "gone\n",
    "lab/kept:v1": "kept\n",
    "lab/short:v1": "truncated later\n",
  });
  Deno.removeSync(paths["lab/gone:v1"]);
  Deno.truncateSync(paths["lab/short:v1"], 3);
  const stray = home.file(".singularity/shub/lab/stray/old.sif", "kept by an rm\n");
  const tag = home.file(".singularity/shub/CACHEDIR.TAG", "Signature: 8a477f59\n");
  const planted = plantLeftovers(home, join(home.storage, "lab", "kept"));
  return { paths, stray, tag, planted };
}

Deno.test("prune --dry-run lists what prune would remove and changes nothing", async () => {
  await using home = await tempHome();
  const { stray, planted } = await untidyStore(home);
  const before = await snapshot(home);
  const dry = await sregistry(["prune", "--dry-run"], { env: home.env });
  assert.equal(dry.code, 0, dry.stderr);
  const rows = dry.stdout.trim().split("\n");
  assert.match(rows[0], /^action\s+what\s+why\s+freed$/);
  assert.match(rows[1], /^remove\s+lab\/gone:v1@\S+\s+its file is gone\s+-$/);
  assert.ok(rows.some((row) => row.startsWith("delete") && row.includes(stray)));
  assert.ok(rows.some((row) => /partial download no pull holds/.test(row)));
  assert.equal(rows.length, 1 + 1 + 7);
  assert.match(
    dry.stderr,
    /^prune --dry-run: would remove 1 record and delete 7 files, freeing \d+ B; nothing was changed$/m,
  );
  assert.match(dry.stderr, /kept 1 record whose file changed size/);
  assertUnchanged(before, await snapshot(home), "prune --dry-run");
  const json = await pruneJson(home, ["--dry-run"]);
  assert.equal(json.dry_run, true);
  assert.deepEqual(
    json.files.map((file) => file.path).sort(),
    [
      planted.temporary,
      ...planted.partial,
      planted.tombstone,
      planted.ownerLock,
      stray,
    ].sort(),
  );
  assertUnchanged(before, await snapshot(home), "prune --dry-run --json");
});

Deno.test("prune off a terminal without --yes refuses with exit 2 and changes nothing", async () => {
  await using home = await tempHome();
  await untidyStore(home);
  const before = await snapshot(home);
  const refused = await sregistry(["prune"], { env: home.env });
  assertFailure(refused, 2, /refusing to prune without confirmation.*add --yes/);
  assertUnchanged(before, await snapshot(home), "a refused prune");
});

Deno.test("prune on a terminal asks; 'n' keeps everything, 'y' prunes", async () => {
  await using home = await tempHome();
  await untidyStore(home);
  const before = await snapshot(home);
  const options = { env: home.env, stdinTerminal: true, stderrTerminal: true };
  const declined = await sregistryInProcess(["prune"], { ...options, stdin: "n\n" });
  assert.equal(declined.code, 0, declined.stderr);
  assert.match(declined.stderr, /Remove 1 record and delete 7 files, freeing \d+ B\? \[y\/N\] /);
  assert.match(declined.stderr, /Nothing removed\./);
  assertUnchanged(before, await snapshot(home), "a declined prune");
  const accepted = await sregistryInProcess(["prune"], { ...options, stdin: "y\n" });
  assert.equal(accepted.code, 0, accepted.stderr);
  assert.match(accepted.stderr, /prune: removed 1 record and deleted 7 files, freeing \d+ B/);
  assert.deepEqual(await uris(home), ["lab/kept:v1", "lab/short:v1"]);
});

Deno.test("prune --yes removes what is broken or left over and keeps the rest", async () => {
  await using home = await tempHome();
  const { paths, stray, tag, planted } = await untidyStore(home);
  using live = holdLiveFiles(home, join(home.storage, "lab", "kept"));
  const deleted = [
    stray,
    planted.temporary,
    ...planted.partial,
    planted.tombstone,
    planted.ownerLock,
  ];
  const bytes = deleted.reduce((sum, path) => sum + Deno.statSync(path).size, 0);
  const result = await sregistry(["prune", "--yes"], { env: home.env });
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /^removed\s+lab\/gone:v1@/m);
  assert.match(result.stderr, new RegExp(`freeing ${bytes} B`));
  for (const path of deleted) assert.ok(!exists(path), `${path} deleted`);
  for (const path of [paths["lab/kept:v1"], paths["lab/short:v1"], tag, ...live.files]) {
    assert.ok(exists(path), `${path} kept`);
  }
  assert.ok(!exists(join(home.storage, "lab", "stray")), "the emptied folder is pruned");
  assert.ok(!exists(join(home.storage, "lab", "gone")), "the missing image's folder is pruned");
  assert.deepEqual(await uris(home), ["lab/kept:v1", "lab/short:v1"]);
  // What is left is only what live commands hold and the changed image prune leaves to the user.
  const verify = await sregistry(["verify", "--json"], { env: home.env });
  assert.deepEqual(
    JSON.parse(verify.stdout).images.map((check: { status: string }) => check.status),
    ["ok", "changed"],
  );
  assert.deepEqual(JSON.parse(verify.stdout).files, []);
  const again = await sregistry(["prune", "--yes"], { env: home.env });
  assert.match(again.stderr, /^Nothing to prune\.$/m);
});

Deno.test("prune removes planted symlinks, never their targets", async () => {
  await using home = await tempHome();
  const paths = await addImages(home, { "lab/a:v1": "alpha\n", "lab/b:v1": "beta\n" });
  const target = home.file("precious/data.sif", "alpha\n");
  Deno.removeSync(paths["lab/a:v1"]);
  Deno.symlinkSync(target, paths["lab/a:v1"]);
  // The planted folder holds a file of the very name the record's file has.
  const folder = home.file(`precious/folder/${paths["lab/b:v1"].split("/").pop()}`, "beta\n");
  Deno.removeSync(join(home.storage, "lab", "b"), { recursive: true });
  Deno.symlinkSync(join(folder, ".."), join(home.storage, "lab", "b"));
  Deno.symlinkSync(target, join(home.storage, "lab", "loose-link"));
  const result = await pruneJson(home, ["--yes"]);
  assert.deepEqual(result.records.map((r) => [r.uri.split("@")[0], r.reason]), [
    ["lab/a:v1", "missing"],
    ["lab/b:v1", "missing"],
  ]);
  // The link at lab/a's path goes with its record; the others as files no record names.
  assert.deepEqual(result.files.map((file) => [file.path, file.reason]).sort(), [
    [join(home.storage, "lab", "b"), "symlink"],
    [join(home.storage, "lab", "loose-link"), "symlink"],
  ]);
  assert.equal(result.freed, 0);
  assert.equal(Deno.readTextFileSync(target), "alpha\n");
  assert.equal(Deno.readTextFileSync(folder), "beta\n");
  assert.deepEqual(filesUnder(home.storage), []);
});

Deno.test("prune puts back a tombstone that holds a missing image instead of dropping its record", async () => {
  await using home = await tempHome();
  const paths = await addImages(home, { "lab/stranded:v1": "stranded image\n" });
  const tombstone = join(home.storage, "lab", "stranded", ".sregistry-removed-7-0000abcd");
  Deno.renameSync(paths["lab/stranded:v1"], tombstone);
  const result = await pruneJson(home, ["--yes"]);
  assert.deepEqual(result.restored, [{
    uri: `lab/stranded:v1@${md5("stranded image\n")}`,
    image: paths["lab/stranded:v1"],
    tombstone,
  }]);
  assert.deepEqual(result.records, []);
  assert.equal(Deno.readTextFileSync(paths["lab/stranded:v1"]), "stranded image\n");
  assert.ok(!exists(tombstone));
  const verify = await sregistry(["verify"], { env: home.env });
  assert.equal(verify.code, 0, verify.stdout + verify.stderr);
});

Deno.test("prune counts bytes per file: a name another record keeps frees nothing", async () => {
  await using home = await tempHome();
  const content = "one image under two names\n";
  const paths = await addImages(home, { "lab/tool:v1": content });
  const tagged = await sregistry(["tag", "lab/tool:v1", "lab/tool:stable"], { env: home.env });
  assert.equal(tagged.code, 0, tagged.stderr);
  setUseTime(home, "lab/tool:v1@%", { usedAt: daysAgo(100) });
  setUseTime(home, "lab/tool:stable@%", { usedAt: daysAgo(1) });
  const one = await pruneJson(home, ["--unused", "30", "--yes"]);
  assert.deepEqual(one.records.map((r) => [r.uri.split("@")[0], r.reason, r.freed]), [
    ["lab/tool:v1", "unused", 0],
  ]);
  assert.equal(one.freed, 0);
  assert.ok(!exists(paths["lab/tool:v1"]));
  setUseTime(home, "lab/tool:stable@%", { usedAt: daysAgo(100) });
  const last = await pruneJson(home, ["--unused", "30", "--yes"]);
  assert.equal(last.freed, content.length, "the last name frees the bytes");
  assert.deepEqual(filesUnder(home.storage), []);
});

Deno.test("prune --unused uses the last use, else the creation time; --keep keeps the newest", async () => {
  await using home = await tempHome();
  await addImages(home, {
    "lab/tool:latest@v1": "tool v1\n",
    "lab/tool:latest@v2": "tool v2\n",
    "lab/tool:latest@v3": "tool v3\n",
    "lab/other:latest@v1": "other v1\n",
  });
  setUseTime(home, "lab/%", { createdAt: daysAgo(200), usedAt: null });
  setUseTime(home, "lab/tool:latest@v3", { usedAt: daysAgo(2) });
  const before = await snapshot(home);
  const unused = await pruneJson(home, ["--unused", "90", "--dry-run"]);
  assert.deepEqual(unused.records.map((r) => r.uri), [
    "lab/tool:latest@v1",
    "lab/tool:latest@v2",
    "lab/other:latest@v1",
  ]);
  const keep = await pruneJson(home, ["--keep", "2", "--dry-run"]);
  assert.deepEqual(keep.records.map((r) => [r.uri, r.reason]), [
    ["lab/tool:latest@v1", "old-version"],
  ]);
  assertUnchanged(before, await snapshot(home), "prune --dry-run");
  const both = await pruneJson(home, ["--keep", "1", "--unused", "90", "--yes"]);
  assert.deepEqual(both.records.map((r) => r.uri), ["lab/tool:latest@v1", "lab/tool:latest@v2"]);
  assert.deepEqual(await uris(home), ["lab/tool:latest", "lab/other:latest"]);
});

Deno.test("prune refuses a --unused or --keep that is not a whole number of at least 1", async () => {
  await using home = await tempHome();
  await addImages(home, { "lab/a:v1": "alpha\n" });
  const before = await snapshot(home);
  for (
    const args of [["--unused", "0"], ["--unused", "soon"], ["--keep", "-1"], ["--keep", "1.5"]]
  ) {
    const result = await sregistry(["prune", "--yes", ...args], { env: home.env });
    assertFailure(result, 2, new RegExp(`${args[0]} takes a whole number`));
  }
  assertUnchanged(before, await snapshot(home), "a refused prune");
});

Deno.test("prune of a tidy store says so and exits 0, with --json too", async () => {
  await using home = await tempHome();
  await addImages(home, { "lab/a:v1": "alpha\n" });
  const tidy = await sregistry(["prune", "--yes"], { env: home.env });
  assert.deepEqual([tidy.code, tidy.stdout, tidy.stderr], [0, "", "Nothing to prune.\n"]);
  const json = await pruneJson(home, []);
  assert.deepEqual(json, {
    dry_run: false,
    restored: [],
    records: [],
    files: [],
    kept: [],
    left: [],
    skipped: 0,
    freed: 0,
  });
});

Deno.test("prune leaves files no record names outside sregistry's layout, and in another database's storage", async () => {
  await using home = await tempHome();
  await addImages(home, { "lab/a:v1": "alpha\n" });
  const notes = home.file(".singularity/shub/README.txt", "my notes\n");
  const top = home.file(".singularity/shub/mytool.sif", "my own image\n");
  const stray = home.file(".singularity/shub/lab/stray/latest.sif", "no record\n");
  const pruned = await sregistry(["prune", "--yes"], { env: home.env });
  assert.equal(pruned.code, 0, pruned.stderr);
  assert.ok(!exists(stray), "a file in the layout no record names goes");
  assert.ok(exists(notes) && exists(top), "files outside the layout stay");
  assert.match(
    pruned.stderr,
    /left 2 files no record names and that are not in sregistry's layout/,
  );

  // Another database (a fresh one, a lost one) meeting this storage takes nothing for garbage.
  const other = { ...home.env, SREGISTRY_DATABASE: join(home.path, "other-db") };
  const foreign = await sregistry(["prune", "--yes", "--json"], { env: other });
  assert.equal(foreign.code, 0, foreign.stderr);
  assert.match(
    foreign.stderr,
    /this storage folder belongs to another database \(its \.sregistry-store names [0-9a-f]{32}\)/,
  );
  assert.deepEqual(JSON.parse(foreign.stdout).files, []);
  const image = (await sregistry(["get", "lab/a:v1"], { env: home.env })).stdout.trim();
  assert.equal(
    Deno.readTextFileSync(image),
    "alpha\n",
    "the first database's image is still there",
  );
});
