/**
 * prune killed at every named step (SREGISTRY_FAILPOINT) loses no image bytes: each record still
 * names its file with its content, and the next prune finishes the job, after which verify is
 * clean. Then add, pull, tag, rmi, prune and import killed with SIGKILL at random moments, many times:
 * prune and verify are clean afterwards and no image a record held is lost.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { sregistry, startSregistry } from "../support/cli.ts";
import { assertConsistent, killAt } from "../support/crash.ts";
import { startFakeHub } from "../support/fake_hub.ts";
import { type TempHome, tempHome } from "../support/home.ts";
import { hubEnv } from "../support/pulls.ts";
import { exists, md5, records } from "../support/state.ts";

/**
 * Every record's file is there with its recorded content (but those of `broken`, names whose
 * file a test removed on purpose): no image bytes were lost.
 */
async function assertNoBytesLost(home: TempHome, env = home.env, broken: string[] = []) {
  const listed = records(await sregistry(["images", "--json"], { env }));
  const checked = listed.filter((r) => r.image !== null && !broken.includes(r.uri.split("@")[0]));
  for (const record of checked) {
    assert.ok(exists(record.image!), `${record.uri}: ${record.image} exists`);
    assert.equal(md5(Deno.readFileSync(record.image!)), record.md5, `${record.uri}: content`);
  }
  return listed;
}

/** prune, then verify: both succeed and verify finds nothing wrong. */
async function assertPrunedClean(home: TempHome, env = home.env): Promise<void> {
  const pruned = await sregistry(["prune", "--yes"], { env });
  assert.equal(pruned.code, 0, pruned.stderr);
  const verified = await sregistry(["verify"], { env });
  assert.equal(verified.code, 0, `verify after prune:\n${verified.stdout}${verified.stderr}`);
}

async function add(home: TempHome, name: string, content: string): Promise<string> {
  const file = home.file(`sources/${name.replace(/\W/g, "-")}.sif`, content);
  const added = await sregistry(["add", "--copy", file, "--name", name, "--json"], {
    env: home.env,
  });
  assert.equal(added.code, 0, added.stderr);
  return JSON.parse(added.stdout).image;
}

// A store where prune --keep 1 puts a tombstone back, removes a record whose file is gone and
// an old version with its file, and deletes two files no record knows.
async function pruneWork(home: TempHome): Promise<void> {
  const stranded = await add(home, "lab/stranded:v1", "stranded image\n");
  Deno.renameSync(stranded, join(home.storage, "lab", "stranded", ".sregistry-removed-1-0000abcd"));
  Deno.removeSync(await add(home, "lab/gone:v1", "gone\n"));
  await add(home, "lab/tool:latest@v1", "tool version one\n");
  await add(home, "lab/tool:latest@v2", "tool version two\n");
  home.file(".singularity/shub/lab/stray/one.sif", "stray one");
  home.file(".singularity/shub/lab/stray/two.sif", "stray two");
}

const PRUNE_STEPS = [
  "restore",
  "intent",
  "set-aside",
  "commit",
  "committed",
  "drop",
  "unlink",
  "unlink#2",
];

for (const step of PRUNE_STEPS) {
  Deno.test(`prune killed at prune:${step} loses nothing; the next prune finishes`, async () => {
    await using home = await tempHome();
    await pruneWork(home);
    await killAt(["prune", "--yes", "--keep", "1"], home.env, `prune:${step}`);
    const listed = await assertNoBytesLost(home, home.env, ["lab/gone:v1", "lab/stranded:v1"]);
    assert.ok(listed.some((r) => r.uri.startsWith("lab/tool:latest@v2")), "the newest stays");
    const again = await sregistry(["prune", "--yes", "--keep", "1"], { env: home.env });
    assert.equal(again.code, 0, again.stderr);
    const after = await assertConsistent(home);
    assert.deepEqual(after.map((r) => r.uri).sort(), [
      `lab/stranded:v1@${md5("stranded image\n")}`,
      "lab/tool:latest@v2",
    ]);
    const verified = await sregistry(["verify"], { env: home.env });
    assert.equal(verified.code, 0, verified.stdout + verified.stderr);
  });
}

/** Starts a command and kills it with SIGKILL after `delay` ms (or lets it end first). */
async function killAfter(args: string[], env: Record<string, string>, delay: number) {
  const child = startSregistry(args, { env });
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch {
      // ended already
    }
  }, delay);
  const output = await child.output();
  clearTimeout(timer);
  return {
    code: output.code,
    signal: output.signal,
    stderr: new TextDecoder().decode(output.stderr),
  };
}

const ROUNDS = 60;
const MIB = 1024 * 1024;

Deno.test(`add, pull, tag, rmi, prune and import killed at random moments ${ROUNDS} times lose no image`, async () => {
  await using hub = await startFakeHub();
  await using home = await tempHome();
  const env = hubEnv(home, hub);
  const content = (i: number) => {
    const bytes = new Uint8Array(16 * MIB + i);
    bytes.fill(i + 1);
    return bytes;
  };
  // Images that no operation below removes: they must come through every kill intact.
  const anchors = [0, 1].map((i) => home.file(`anchor-${i}.sif`, content(100 + i)));
  for (const [i, file] of anchors.entries()) {
    const added = await sregistry(["add", "--copy", file, "--name", `keep/anchor-${i}`], { env });
    assert.equal(added.code, 0, added.stderr);
  }
  const kept = (await assertNoBytesLost(home, env)).map((r) => [r.uri, r.md5]);
  for (let i = 0; i < 3; i++) hub.addImage("hub", `image-${i}`, "latest", content(10 + i));
  const sources = [0, 1, 2].map((i) => home.file(`source-${i}.sif`, content(i)));
  // Images import adopts (and leaves where they are: it copies or links).
  const sourceFolder = join(home.path, "to-import");
  Deno.mkdirSync(sourceFolder);
  for (const i of [0, 1, 2]) {
    const image = content(50 + i);
    image.set(new TextEncoder().encode("SIF_MAGIC\0"), 32); // what import takes for a SIF
    Deno.writeFileSync(join(sourceFolder, `i${i}.sif`), image);
  }

  // Deterministic pseudo-random choices, so a failure can be replayed.
  let seed = 20260601;
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const operations = [
    () => ["add", "--copy", sources[random(3)], "--name", `work/image-${random(3)}`],
    () => ["pull", `hub://hub/image-${random(3)}`],
    () => ["tag", `work/image-${random(3)}`, `work/tagged-${random(3)}`],
    () => ["rmi", `work/${random(2) ? "image" : "tagged"}-${random(3)}`],
    () => ["prune", "--yes", ...(random(2) ? ["--keep", "1"] : [])],
    () => ["import", "--collection", "imported", ...(random(2) ? ["--link"] : []), sourceFolder],
  ];
  const outcomes: string[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const args = operations[random(operations.length)]();
    // A command here takes 20-200 ms, start-up included: kill anywhere in it, or let it end.
    const result = await killAfter(args, env, random(200));
    outcomes.push(`${args[0]}:${result.signal ?? result.code}`);
    assert.doesNotMatch(result.stderr, /unexpected error|database is locked/, result.stderr);
    await assertNoBytesLost(home, env);
  }
  assert.ok(outcomes.some((o) => o.endsWith("SIGKILL")), `some runs were killed: ${outcomes}`);
  await assertPrunedClean(home, env);
  await assertConsistent(home, env);
  const listed = await assertNoBytesLost(home, env);
  for (const [uri, sum] of kept) {
    assert.ok(listed.some((r) => r.uri === uri && r.md5 === sum), `${uri} survived`);
  }
});
