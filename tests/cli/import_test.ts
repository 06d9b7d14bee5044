/**
 * `import` adopts images that already exist: SIF and Singularity 2.x files under folders (named
 * after file and folder) and the entries of Apptainer's and Singularity's caches, copied, moved
 * or hard-linked as asked, with every skipped file and its reason reported.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { type CliResult, sregistry } from "../support/cli.ts";
import { type TempHome, tempHome } from "../support/home.ts";
import { assertFailure, assertUnchanged, exists, records, snapshot } from "../support/state.ts";

/** Bytes that start like a SIF (the magic at offset 32), different for each `seed`. */
function sifBytes(seed: string): Uint8Array {
  const bytes = new Uint8Array(256);
  bytes.set(new TextEncoder().encode("#!/usr/bin/env run-singularity\n"), 0);
  bytes.set(new TextEncoder().encode("SIF_MAGIC\0" + "01\0" + seed), 32);
  return bytes;
}

function simgBytes(seed: string): Uint8Array {
  return new TextEncoder().encode(`#!/usr/bin/env run-singularity\nhsqs${seed}`);
}

function write(home: TempHome, path: string, content: Uint8Array | string): string {
  const full = join(home.path, path);
  Deno.mkdirSync(join(full, ".."), { recursive: true });
  if (typeof content === "string") Deno.writeTextFileSync(full, content);
  else Deno.writeFileSync(full, content);
  return full;
}

function uris(result: CliResult): string[] {
  return records(result).map((r) => r.uri.split("@")[0]).sort();
}

Deno.test("import names files after themselves and their folder, skips what is not an image, and copies by default", async () => {
  await using home = await tempHome();
  const lolcow = write(home, "images/lolcow_latest.sif", sifBytes("a"));
  write(home, "images/tool_1.2.sif", sifBytes("b"));
  write(home, "images/sub/deep.simg", simgBytes("c"));
  write(home, "images/notes.txt", "not an image");
  write(home, "images/.hidden.sif", sifBytes("d"));
  const imported = await sregistry(["import", join(home.path, "images")], { env: home.env });
  assert.equal(imported.code, 0, imported.stderr);
  assert.match(imported.stderr, /\[skip\] .*notes\.txt: not a SIF, Singularity 2\.x/);
  assert.match(imported.stderr, /3 imported, 2 skipped, 0 failed/);
  assert.deepEqual(uris(await sregistry(["images", "--json"], { env: home.env })), [
    "images/lolcow:latest",
    "images/tool:1.2",
    "sub/deep:latest",
  ]);
  assert.ok(exists(lolcow), "a copy leaves the file");
});

Deno.test("import --collection names every image's collection; a second import changes nothing", async () => {
  await using home = await tempHome();
  write(home, "images/a.sif", sifBytes("a"));
  write(home, "images/b/b.sif", sifBytes("b"));
  const args = ["import", join(home.path, "images"), "--collection", "lab"];
  assert.equal((await sregistry(args, { env: home.env })).code, 0);
  assert.deepEqual(uris(await sregistry(["images", "--json"], { env: home.env })), [
    "lab/a:latest",
    "lab/b:latest",
  ]);
  const before = await snapshot(home);
  const again = await sregistry(args, { env: home.env });
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /\(update\)/);
  assert.deepEqual(records(before.images).length, 2);
  assert.deepEqual(
    records(await sregistry(["images", "--json"], { env: home.env })).map((r) => r.uri),
    records(before.images).map((r) => r.uri),
  );
});

Deno.test("import --move takes the files, --link shares them and leaves them", async () => {
  await using home = await tempHome();
  const moved = write(home, "m/a.sif", sifBytes("a"));
  const linked = write(home, "l/b.sif", sifBytes("b"));
  assert.equal(
    (await sregistry(["import", "--move", join(home.path, "m")], { env: home.env })).code,
    0,
  );
  assert.ok(!exists(moved));
  assert.equal(
    (await sregistry(["import", "--link", join(home.path, "l")], { env: home.env })).code,
    0,
  );
  const stored = (await sregistry(["get", "l/b"], { env: home.env })).stdout.trim();
  assert.equal(Deno.statSync(stored).ino, Deno.statSync(linked).ino, "one file, no extra space");
  assertFailure(
    await sregistry(["import", "--move", "--link", home.path], { env: home.env }),
    2,
    /choose one of --copy, --move and --link/,
  );
});

Deno.test("import --cache adopts Apptainer's and Singularity's cache entries, old layouts too", async () => {
  await using home = await tempHome();
  const cache = join(home.path, ".apptainer", "cache");
  write(home, ".apptainer/cache/library/sha256.1111aaaa2222bbbb3333", sifBytes("lib"));
  write(home, ".apptainer/cache/oras/sha256:4444cccc5555dddd6666", sifBytes("oras"));
  write(home, ".apptainer/cache/oci-tmp/7777eeee8888ffff9999", sifBytes("oci"));
  write(home, ".apptainer/cache/oras/tmp_123", sifBytes("partial"));
  write(home, ".apptainer/cache/blob/blobs/sha256/abcd", "a layer");
  write(home, ".singularity/cache/shub/0123456789abcdef0123/hello.simg", simgBytes("old"));
  const imported = await sregistry(["import", "--cache", "--json"], { env: home.env });
  assert.equal(imported.code, 0, imported.stderr);
  const report = JSON.parse(imported.stdout);
  assert.deepEqual(report.imported.map((i: { uri: string }) => i.uri.split("@")[0]).sort(), [
    "apptainer-cache/library-1111aaaa2222bbbb:latest",
    "apptainer-cache/oci-tmp-7777eeee8888ffff:latest",
    "apptainer-cache/oras-4444cccc5555dddd:latest",
    "singularity-cache/shub-0123456789abcdef:latest",
  ]);
  assert.deepEqual(report.skipped, [
    { path: join(cache, "oras", "tmp_123"), reason: "an unfinished download of the cache" },
  ]);
  assert.deepEqual(report.failed, []);
  const [record] = records(await sregistry(["images", "--json", "oras-"], { env: home.env }));
  assert.deepEqual(record.metadata, {
    imported: { cache: "oras", key: "sha256:4444cccc5555dddd6666" },
  });
});

Deno.test("import --cache reads APPTAINER_CACHEDIR, and says so when there is no cache", async () => {
  await using home = await tempHome();
  assertFailure(
    await sregistry(["import", "--cache"], { env: home.env }),
    2,
    /no Apptainer or Singularity cache was found/,
  );
  write(home, "scratch/ac/cache/oras/sha256:abcdef0123456789", sifBytes("x"));
  const env = { ...home.env, APPTAINER_CACHEDIR: join(home.path, "scratch", "ac") };
  assert.equal((await sregistry(["import", "--cache"], { env })).code, 0);
  assert.deepEqual(uris(await sregistry(["images", "--json"], { env })), [
    "ac-cache/oras-abcdef0123456789:latest",
  ]);
});

Deno.test("import --dry-run shows what it would do and changes nothing", async () => {
  await using home = await tempHome();
  write(home, "images/a.sif", sifBytes("a"));
  assert.equal((await sregistry(["images"], { env: home.env })).code, 0);
  const before = await snapshot(home);
  const dry = await sregistry(["import", "--dry-run", join(home.path, "images")], {
    env: home.env,
  });
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stderr, /images\/a:latest \(dry run\)/);
  assertUnchanged(before, await snapshot(home), "import --dry-run");
});

Deno.test("import of a file it cannot add reports it as failed, imports the rest, exits 1", async () => {
  await using home = await tempHome();
  write(home, "images/a.sif", sifBytes("a"));
  const b = write(home, "images/b.sif", sifBytes("b"));
  // A folder where b's image folder would go: that add fails, a's succeeds.
  write(home, ".singularity/shub/images/b", "in the way");
  const result = await sregistry(["import", join(home.path, "images")], { env: home.env });
  assert.equal(result.code, 1, result.stderr);
  assert.match(result.stderr, new RegExp(`\\[failed\\] ${b}: `));
  assert.match(result.stderr, /1 imported, 0 skipped, 1 failed/);
  assert.deepEqual(uris(await sregistry(["images", "--json"], { env: home.env })), [
    "images/a:latest",
  ]);
});

Deno.test("import reports every file it passes over, fails on a path that is not there, and escapes names", async () => {
  await using home = await tempHome();
  write(home, "images/a.sif", sifBytes("a"));
  write(home, "images/.hidden.sif", sifBytes("h"));
  write(home, "images/.sregistry-tmp-x", "left over");
  write(home, "images/evil\u001b[2J.sif", "not an image");
  new Deno.Command("mkfifo", { args: [join(home.path, "images", "pipe")] }).outputSync();
  Deno.symlinkSync("/dev/null", join(home.path, "images", "null.sif"));
  const imported = await sregistry(["import", join(home.path, "images")], { env: home.env });
  assert.equal(imported.code, 0, imported.stderr);
  assert.match(imported.stderr, /\[skip\] .*\.hidden\.sif: hidden/);
  assert.match(imported.stderr, /\[skip\] .*\.sregistry-tmp-x: a file sregistry writes/);
  assert.match(imported.stderr, /\[skip\] .*pipe: is not a regular file/);
  assert.match(
    imported.stderr,
    /\[skip\] .*null\.sif: is a symlink to something that is not a regular file/,
  );
  assert.match(imported.stderr, /\[skip\] .*evil\\u001b\[2J\.sif: not a SIF/);
  assert.ok(!imported.stderr.includes("\u001b"), "no raw escape reaches the terminal");
  assert.match(imported.stderr, /1 imported, 5 skipped, 0 failed/);
  const missing = await sregistry(["import", join(home.path, "nowhere")], { env: home.env });
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /\[failed\] .*nowhere: does not exist/);
});
