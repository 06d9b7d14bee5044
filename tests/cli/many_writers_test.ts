/**
 * Many writers on one store: 16 processes, each running 50 mixed operations (add, tag, rm,
 * rmi, pull from a local server, prune, verify) through `sregistry shell`, all at once. Nothing is
 * lost (each process's own names end exactly as its operations say, with their content), no
 * process sees "database is locked" or fails unexpectedly, and prune then verify are clean.
 */
import assert from "node:assert/strict";
import { sregistry } from "../support/cli.ts";
import { assertConsistent } from "../support/crash.ts";
import { startFakeHub } from "../support/fake_hub.ts";
import { tempHome } from "../support/home.ts";
import { hubEnv } from "../support/pulls.ts";
import { md5, records } from "../support/state.ts";

const PROCESSES = 16;
const ROUNDS = 10; // of 5 operations each
const MIB = 1024 * 1024;

Deno.test(`${PROCESSES} processes x ${ROUNDS * 5} mixed operations on one store lose nothing`, async () => {
  await using hub = await startFakeHub();
  await using home = await tempHome();
  const env = hubEnv(home, hub);
  // Three contents shared by every process: identical content is stored once, as hard links,
  // so one process's rmi takes a name whose bytes other processes' names use.
  const contents = [0, 1, 2].map((i) => new Uint8Array(2 * MIB + i).fill(7 * i + 1));
  const sources = contents.map((bytes, i) => home.file(`source-${i}.sif`, bytes));
  for (let j = 0; j < 3; j++) hub.addImage("hub", `image-${j}`, "latest", contents[j]);

  const script = (p: number) =>
    Array.from({ length: ROUNDS }, (_, k) => [
      `add --copy ${sources[(p + k) % 3]} --name p${p}/image-${k}`,
      `tag p${p}/image-${k} p${p}/tagged-${k}`,
      // rm keeps the file: one no record knows, for a prune to delete while others add.
      ...(k > 0 ? [`${k % 2 ? "rm" : "rmi"} p${p}/image-${k - 1}`] : [`verify --quick`]),
      `pull hub://hub/image-${(p + k) % 3}`,
      k % 2 ? "prune --yes" : "verify",
    ]).flat().join("\n") + "\n";
  const results = await Promise.all(
    Array.from({ length: PROCESSES }, (_, p) => sregistry(["shell"], { env, stdin: script(p) })),
  );
  for (const [p, result] of results.entries()) {
    assert.equal(result.code, 0, `process ${p}: ${result.stderr}`);
    assert.doesNotMatch(result.stderr, /database is locked|busy|unexpected error/i);
    // verify may see another process's change half-way (a file set aside, not yet committed);
    // every other operation must succeed.
    const failures = result.stderr.split("\n").filter((line) =>
      line.startsWith("sregistry: ") && !line.startsWith("sregistry: verify found")
    );
    assert.deepEqual(failures, [], `process ${p}`);
  }

  const listed = records(await sregistry(["images", "--json"], { env }));
  for (let p = 0; p < PROCESSES; p++) {
    const own = listed.filter((r) => r.collection === `p${p}`)
      .map((r) => [r.name, r.md5]).sort();
    const expected = [
      [`image-${ROUNDS - 1}`, md5(contents[(p + ROUNDS - 1) % 3])],
      ...Array.from({ length: ROUNDS }, (_, k) => [`tagged-${k}`, md5(contents[(p + k) % 3])]),
    ].sort();
    assert.deepEqual(own, expected, `process ${p}'s names`);
  }
  assert.deepEqual(
    listed.filter((r) => r.collection === "hub").map((r) => r.name).sort(),
    ["image-0", "image-1", "image-2"],
  );
  const pruned = await sregistry(["prune", "--yes"], { env });
  assert.equal(pruned.code, 0, pruned.stderr);
  const verified = await sregistry(["verify"], { env });
  assert.equal(verified.code, 0, verified.stdout + verified.stderr);
  await assertConsistent(home, env);
});
