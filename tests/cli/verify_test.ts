/**
 * `sregistry verify`: every kind of problem it reports (missing, changed size or content,
 * unreadable, files no record knows, planted symlinks, leftovers of killed runs), what it leaves
 * out (files live commands hold), its exit codes, its JSON, and that it changes nothing.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { sregistry, sregistryInProcess } from "../support/cli.ts";
import { type TempHome, tempHome } from "../support/home.ts";
import { sregistryAsOtherUser } from "../support/other_user.ts";
import { assertUnchanged, md5, records, snapshot } from "../support/state.ts";
import { holdLiveFiles, plantLeftovers } from "../support/store.ts";

/** Adds (copies) images under the given names; returns their stored paths by name. */
async function addImages(
  home: TempHome,
  images: Record<string, string | Uint8Array>,
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

interface VerifyJson {
  images: { uri: string; image: string; status: string; size: number | null; md5: string | null }[];
  files: { path: string; problem: string; size: number }[];
  summary: Record<string, number | boolean>;
}

async function verifyJson(home: TempHome, args: string[] = []): Promise<{
  code: number;
  report: VerifyJson;
  stderr: string;
}> {
  const result = await sregistry(["verify", "--json", ...args], { env: home.env });
  return { code: result.code, report: JSON.parse(result.stdout), stderr: result.stderr };
}

Deno.test("verify of a clean store exits 0, prints nothing on stdout and says so on stderr", async () => {
  await using home = await tempHome();
  await addImages(home, { "lab/a:v1": "alpha\n", "lab/b:v1": "beta\n" });
  const before = await snapshot(home);
  const result = await sregistry(["verify"], { env: home.env });
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, "");
  assert.match(
    result.stderr,
    /^verify: 2 images checked \(11 B hashed\) and storage; no problems\n$/,
  );
  assertUnchanged(before, await snapshot(home), "verify");
  const quiet = await sregistry(["-q", "verify"], { env: home.env });
  assert.deepEqual([quiet.code, quiet.stdout, quiet.stderr], [0, "", ""]);
});

Deno.test("verify reports missing, truncated and changed images; --quick sees size only", async () => {
  await using home = await tempHome();
  const paths = await addImages(home, {
    "lab/gone:v1": "gone\n",
    "lab/short:v1": "truncated later\n",
    "lab/flipped:v1": "same size, other bytes\n",
    "lab/fine:v1": "fine\n",
  });
  Deno.removeSync(paths["lab/gone:v1"]);
  Deno.truncateSync(paths["lab/short:v1"], 4);
  Deno.writeTextFileSync(paths["lab/flipped:v1"], "SAME SIZE, OTHER BYTES\n");
  const before = await snapshot(home);

  const full = await sregistry(["verify"], { env: home.env });
  assert.equal(full.code, 1);
  const rows = full.stdout.trim().split("\n");
  assert.match(rows[0], /^problem\s+image\s+file\s+detail$/);
  assert.equal(rows.length, 4);
  assert.match(
    rows[1],
    /^missing\s+lab\/gone:v1@\S+\s+\S+gone\/v1@\S+\.sif\s+no regular file there/,
  );
  assert.match(rows[2], /^changed\s+lab\/short:v1@\S+ .* 4 bytes, recorded 16$/);
  const flipped = md5("SAME SIZE, OTHER BYTES\n");
  assert.match(
    rows[3],
    new RegExp(`^changed .*MD5 ${flipped}, recorded ${md5("same size, other bytes\n")}$`),
  );
  assert.match(
    full.stderr,
    /^sregistry: verify found 3 problems; 4 images checked \(28 B hashed\); /m,
  );
  assert.match(full.stderr, /'sregistry prune' removes .* records whose file is gone/);

  const quick = await sregistry(["verify", "--quick"], { env: home.env });
  assert.equal(quick.code, 1);
  assert.deepEqual(
    quick.stdout.trim().split("\n").slice(1).map((row) => row.split(/\s+/)[0]),
    ["missing", "changed"],
    "same-size content is only seen by hashing",
  );
  assert.match(quick.stderr, /verify found 2 problems; 4 images checked;/);
  assertUnchanged(before, await snapshot(home), "verify");
});

Deno.test("verify --json lists every check and a summary, and exits 1 on a problem", async () => {
  await using home = await tempHome();
  const paths = await addImages(home, { "lab/a:v1": "alpha\n", "lab/b:v1": "beta\n" });
  const clean = await verifyJson(home);
  assert.equal(clean.code, 0, clean.stderr);
  assert.equal(clean.stderr, "", "no progress or messages with --json");
  assert.deepEqual(clean.report.images.map((check) => [check.uri.split("@")[0], check.status]), [
    ["lab/a:v1", "ok"],
    ["lab/b:v1", "ok"],
  ]);
  assert.deepEqual(Object.keys(clean.report.images[0]), [
    "uri",
    "image",
    "status",
    "size",
    "md5",
    "recorded_size",
    "recorded_md5",
  ]);
  assert.equal(clean.report.images[0].md5, md5("alpha\n"));
  assert.deepEqual(clean.report.summary, {
    images: 2,
    ok: 2,
    unverified: 0,
    missing: 0,
    changed: 0,
    unreadable: 0,
    files: 0,
    problems: 0,
    bytes_hashed: 11,
    quick: false,
    storage_checked: true,
  });

  Deno.removeSync(paths["lab/b:v1"]);
  home.file(".singularity/shub/lab/stray.sif", "stray");
  const broken = await verifyJson(home);
  assert.equal(broken.code, 1);
  assert.equal(broken.report.images[1].status, "missing");
  assert.deepEqual(broken.report.files, [
    { path: join(home.storage, "lab", "stray.sif"), problem: "unknown", size: 5 },
  ]);
  assert.equal(broken.report.summary.problems, 2);
  assert.deepEqual(JSON.parse(broken.stderr).error.code, "integrity");
});

Deno.test("verify reports files no record knows and leftovers of killed runs, not live ones", async () => {
  await using home = await tempHome();
  await addImages(home, { "lab/a:v1": "alpha\n" });
  const folder = join(home.storage, "lab", "a");
  const planted = plantLeftovers(home, folder);
  using live = holdLiveFiles(home, folder);
  // CACHEDIR.TAG at the top of storage is for backup tools, not a stray file.
  home.file(".singularity/shub/CACHEDIR.TAG", "Signature: 8a477f597d28d172789f06886806bc55\n");
  home.file(".singularity/shub/lab/old.sif", "kept by rm");
  const before = await snapshot(home);
  const { code, report } = await verifyJson(home);
  assert.equal(code, 1);
  assert.deepEqual(
    report.files.map((file) => [file.problem, file.path]).sort(),
    [
      ["owner-lock", planted.ownerLock],
      ...planted.partial.map((path) => ["partial", path]),
      ["temporary", planted.temporary],
      ["tombstone", planted.tombstone],
      ["unknown", join(home.storage, "lab", "old.sif")],
    ].sort(),
  );
  for (const file of live.files) {
    assert.ok(!report.files.some((f) => f.path === file), `${file} is held by a live process`);
  }
  assertUnchanged(before, await snapshot(home), "verify");

  const table = await sregistry(["verify"], { env: home.env });
  assert.match(
    table.stdout,
    /\ntemporary\s+-\s+\S+\s+a temporary copy left by a run that died, 11 B\n/,
  );
  assert.match(table.stdout, /\ntombstone\s+-\s+\S+\s+an image a killed rmi was deleting/);
});

Deno.test("verify never follows a planted symlink: not at an image's path, not as a folder", async () => {
  await using home = await tempHome();
  const paths = await addImages(home, { "lab/a:v1": "alpha\n", "lab/b:v1": "beta\n" });
  // The record's file replaced by a link to a file of the very same content.
  const twin = home.file("outside/twin.sif", "alpha\n");
  Deno.removeSync(paths["lab/a:v1"]);
  Deno.symlinkSync(twin, paths["lab/a:v1"]);
  // A collection folder replaced by a link to a copy of it.
  const elsewhere = join(home.path, "elsewhere");
  Deno.mkdirSync(join(elsewhere, "b"), { recursive: true });
  Deno.copyFileSync(paths["lab/b:v1"], join(elsewhere, "b", paths["lab/b:v1"].split("/").pop()!));
  Deno.removeSync(join(home.storage, "lab", "b"), { recursive: true });
  Deno.symlinkSync(join(elsewhere, "b"), join(home.storage, "lab", "b"));
  const planted = join(home.storage, "lab", "planted.sif");
  Deno.symlinkSync("/etc/passwd", planted);

  const { code, report } = await verifyJson(home);
  assert.equal(code, 1);
  assert.deepEqual(report.images.map((check) => check.status), ["missing", "missing"]);
  assert.deepEqual(
    report.files.map((file) => [file.problem, file.path]).sort(),
    [["symlink", join(home.storage, "lab", "b")], ["symlink", planted]],
  );
  assert.equal(report.summary.bytes_hashed, 0, "nothing behind a link was read");
});

Deno.test("verify hashes content shared by hard links once, and checks only what queries match", async () => {
  await using home = await tempHome();
  await addImages(home, { "lab/tool:v1": "shared content\n", "other/x:v1": "other\n" });
  const tagged = await sregistry(["tag", "lab/tool:v1", "lab/tool:stable"], { env: home.env });
  assert.equal(tagged.code, 0, tagged.stderr);
  home.file(".singularity/shub/lab/stray.sif", "stray");
  const all = await verifyJson(home);
  assert.equal(all.report.summary.images, 3);
  assert.equal(all.report.summary.bytes_hashed, 15 + 6, "the shared file is read once");
  const some = await verifyJson(home, ["lab/tool"]);
  assert.equal(some.code, 0, "the stray file is not looked for with a query");
  assert.deepEqual(some.report.images.map((check) => check.uri.split("@")[0]), [
    "lab/tool:v1",
    "lab/tool:stable",
  ]);
  assert.equal(some.report.summary.storage_checked, false);
  assert.deepEqual(some.report.files, []);
});

Deno.test("verify shows a progress bar on a terminal and nothing with --json", async () => {
  await using home = await tempHome();
  const big = join(home.path, "big.sif");
  Deno.writeFileSync(big, new Uint8Array(0));
  Deno.truncateSync(big, 64 * 1024 * 1024);
  const added = await sregistry(["add", big, "--name", "lab/big:v1"], { env: home.env });
  assert.equal(added.code, 0, added.stderr);
  const options = { env: home.env, cwd: home.path, stderrTerminal: true };
  const bar = await sregistryInProcess(["verify"], options);
  assert.equal(bar.code, 0, bar.stderr);
  assert.match(bar.stderr, /\rverify \[[= ]+\] 100% 64 MiB \/ 64 MiB/);
  assert.ok(bar.stderr.includes("\r\x1b[K"), "the bar is cleared");
  const json = await sregistryInProcess(["verify", "--json"], options);
  assert.equal(json.stderr, "");
  const lines = await sregistryInProcess(["verify"], { ...options, stderrTerminal: false });
  assert.match(lines.stderr, /^verify: 100% 64 MiB \/ 64 MiB at /m);
  assert.doesNotMatch(lines.stderr, /\r/);
});

// Runs sregistry as a user other than the store's owner (root reads any file, so another user
// has to be the one who cannot).
async function asOtherUser(
  home: TempHome,
  args: string[],
): Promise<{ code: number; stdout: string }> {
  const result = Deno.uid() === 0
    ? await sregistryAsOtherUser(args, { env: home.env })
    : await sregistry(args, { env: home.env });
  return { code: result.code, stdout: result.stdout };
}

Deno.test("verify reports image files and folders the user cannot read; prune keeps them", async () => {
  await using home = await tempHome();
  const paths = await addImages(home, {
    "lab/open:v1": "anyone may read\n",
    "lab/closed:v1": "owner only\n",
    "private/hidden:v1": "in a closed folder\n",
  });
  const make = (mode: number) => (path: string) => Deno.chmodSync(path, mode);
  [home.path, home.database, home.storage].forEach(make(0o755));
  Deno.chmodSync(join(home.database, "sregistry.db"), 0o644);
  Deno.chmodSync(paths["lab/closed:v1"], Deno.uid() === 0 ? 0o600 : 0o000);
  Deno.chmodSync(join(home.storage, "private"), Deno.uid() === 0 ? 0o700 : 0o000);
  try {
    const { code, stdout } = await asOtherUser(home, ["verify", "--json"]);
    assert.equal(code, 1);
    const report = JSON.parse(stdout) as VerifyJson;
    assert.deepEqual(report.images.map((check) => [check.uri.split("@")[0], check.status]), [
      ["lab/open:v1", "ok"],
      ["lab/closed:v1", "unreadable"],
      ["private/hidden:v1", "unreadable"],
    ]);
    assert.deepEqual(report.files, [
      { path: join(home.storage, "private"), problem: "unreadable", size: 0 },
    ]);
    // What a folder hides may well be there: prune never takes it for missing.
    const pruned = await asOtherUser(home, ["prune", "--dry-run", "--json"]);
    assert.equal(pruned.code, 0);
    const plan = JSON.parse(pruned.stdout);
    assert.deepEqual(plan.records, []);
    assert.deepEqual(
      plan.kept.map((
        kept: { uri: string; reason: string },
      ) => [kept.uri.split("@")[0], kept.reason]),
      [["private/hidden:v1", "unreadable"]],
    );
  } finally {
    Deno.chmodSync(join(home.storage, "private"), 0o755);
  }
  assert.equal(records(await sregistry(["images", "--json"], { env: home.env })).length, 3);
});

Deno.test("verify of a query that matches no image says so and fails, so a typo is not a clean store", async () => {
  await using home = await tempHome();
  await addImages(home, { "lab/a:v1": "alpha\n" });
  const none = await sregistry(["verify", "lab/nothing"], { env: home.env });
  assert.equal(none.code, 1);
  assert.match(none.stderr, /no local image matches lab\/nothing/);
});
