/**
 * A process can die at any instruction: each command that moves, places or deletes image files
 * (add, add --copy, pull, pull --force, mv, mv across filesystems, rename, rmi, rmi --all) is
 * stopped at every named step of its journaled change (SREGISTRY_FAILPOINT), killed with
 * SIGKILL there, and the next command must leave a store where records and files agree, no
 * image bytes are lost, and the change either happened or did not.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { sregistry } from "../support/cli.ts";
import { assertConsistent, killAt } from "../support/crash.ts";
import { startFakeHub } from "../support/fake_hub.ts";
import { tempHome } from "../support/home.ts";
import { filesUnder, hubEnv } from "../support/pulls.ts";
import { canMount, exists, md5, mountTmpfs, type records } from "../support/state.ts";

const encoder = new TextEncoder();
const FIRST = encoder.encode("first image content\n");
const SECOND = encoder.encode("second image, other bytes\n");
const THIRD = encoder.encode("third image\n");

function storedMd5s(listed: ReturnType<typeof records>): string[] {
  return listed.map((r) => r.md5 ?? "").sort();
}

const JOURNAL_STEPS = ["intent", "commit", "committed"];

/** True for the steps after which a change has happened (its transaction committed). */
function committed(step: string): boolean {
  return /^(committed|drop)/.test(step);
}

for (const copy of [false, true]) {
  const command = copy ? "add --copy" : "add";
  for (const step of [...JOURNAL_STEPS, "link", "drop"]) {
    Deno.test(`${command} killed at add:${step}: the image is recorded or still the user's`, async () => {
      await using home = await tempHome();
      const file = home.file("image.sif", FIRST);
      const args = ["add", file, "--name", "lab/image:v1", ...(copy ? ["--copy"] : [])];
      await killAt(args, home.env, `add:${step}`);
      const listed = await assertConsistent(home);
      assert.deepEqual(storedMd5s(listed), committed(step) ? [md5(FIRST)] : []);
      // A copy never takes the user's file; a move takes it only once the image is recorded.
      assert.equal(exists(file), copy || !committed(step));
      // The store works on: the same add succeeds (or finds it done).
      if (exists(file)) {
        const again = await sregistry(args, { env: home.env });
        assert.equal(again.code, 0, again.stderr);
      }
      await assertConsistent(home);
    });
  }
}

for (const force of [false, true]) {
  const command = force ? "pull --force" : "pull";
  const steps = [...JOURNAL_STEPS, "link", "drop", ...(force ? ["set-aside", "drop#2"] : [])];
  for (const step of steps) {
    Deno.test(`${command} killed at pull:${step}: the image is recorded once or not at all`, async () => {
      await using hub = await startFakeHub();
      await using home = await tempHome();
      hub.addImage("lab", "hello", "latest", FIRST);
      const env = hubEnv(home, hub);
      if (force) assert.equal((await sregistry(["pull", "hub://lab/hello"], { env })).code, 0);
      await killAt(["pull", "hub://lab/hello", ...(force ? ["--force"] : [])], env, `pull:${step}`);
      const listed = await assertConsistent(home, env);
      assert.deepEqual(storedMd5s(listed), force || committed(step) ? [md5(FIRST)] : []);
      const again = await sregistry(["pull", "hub://lab/hello"], { env });
      assert.equal(again.code, 0, again.stderr);
      assert.deepEqual(storedMd5s(await assertConsistent(home, env)), [md5(FIRST)]);
    });
  }
}

for (const step of [...JOURNAL_STEPS, "link", "drop"]) {
  Deno.test(`mv killed at mv:${step}: the record names the file wherever it is`, async () => {
    await using home = await tempHome();
    const file = home.file("image.sif", FIRST);
    assert.equal(
      (await sregistry(["add", file, "--name", "lab/image:v1"], { env: home.env })).code,
      0,
    );
    const scratch = join(home.path, "scratch");
    Deno.mkdirSync(scratch);
    await killAt(["mv", "lab/image:v1", scratch], home.env, `mv:${step}`);
    const listed = await assertConsistent(home);
    const moved = join(scratch, `v1@${md5(FIRST)}.sif`);
    const stored = join(home.storage, "lab", "image", `v1@${md5(FIRST)}.sif`);
    assert.deepEqual(listed.map((r) => r.image), [committed(step) ? moved : stored]);
    // One file holds the image: the move did not leave a second one behind.
    assert.equal(exists(moved), committed(step));
    assert.equal(exists(stored), !committed(step));
  });
}

for (const step of [...JOURNAL_STEPS, "staged", "link", "drop", "drop#2"]) {
  Deno.test({
    name: `mv across filesystems killed at mv:${step}: one verified copy stays recorded`,
    ignore: !canMount(),
    fn: async () => {
      await using home = await tempHome();
      const file = home.file("image.sif", FIRST);
      assert.equal(
        (await sregistry(["add", file, "--name", "lab/image:v1"], { env: home.env })).code,
        0,
      );
      const scratch = join(home.path, "scratch");
      Deno.mkdirSync(scratch);
      using _tmpfs = mountTmpfs(scratch, "4m");
      await killAt(["mv", "lab/image:v1", scratch], home.env, `mv:${step}`);
      const listed = await assertConsistent(home);
      const moved = join(scratch, `v1@${md5(FIRST)}.sif`);
      assert.deepEqual(listed.map((r) => r.image !== null && r.image === moved), [committed(step)]);
      assert.deepEqual(filesUnder(scratch), committed(step) ? [`v1@${md5(FIRST)}.sif`] : []);
      assert.equal(filesUnder(home.storage).length, committed(step) ? 0 : 1);
    },
  });
}

for (const step of [...JOURNAL_STEPS, "link", "drop"]) {
  Deno.test(`rename killed at rename:${step}: the record and its file move together`, async () => {
    await using home = await tempHome();
    const file = home.file("image.sif", FIRST);
    assert.equal(
      (await sregistry(["add", file, "--name", "lab/image:v1"], { env: home.env })).code,
      0,
    );
    await killAt(["rename", "lab/image:v1", "lab/other:v2"], home.env, `rename:${step}`);
    const listed = await assertConsistent(home);
    assert.deepEqual(
      listed.map((r) => r.uri),
      [`${committed(step) ? "lab/other:v2" : "lab/image:v1"}@${md5(FIRST)}`],
    );
  });
}

for (const step of [...JOURNAL_STEPS, "set-aside", "drop"]) {
  Deno.test(`rmi killed at rmi:${step}: the record and its file go together or stay`, async () => {
    await using home = await tempHome();
    const file = home.file("image.sif", FIRST);
    assert.equal(
      (await sregistry(["add", file, "--name", "lab/image:v1"], { env: home.env })).code,
      0,
    );
    await killAt(["rmi", "lab/image:v1"], home.env, `rmi:${step}`);
    const listed = await assertConsistent(home);
    assert.equal(listed.length, committed(step) ? 0 : 1);
    assert.deepEqual(filesUnder(home.storage).filter((f) => f.includes(".sregistry-removed-")), []);
  });
}

const ALL_STEPS = [
  ...JOURNAL_STEPS,
  "set-aside",
  "set-aside#2",
  "set-aside#3",
  "drop",
  "drop#2",
  "drop#3",
];
for (const step of ALL_STEPS) {
  Deno.test(`rmi --all killed at rmi-all:${step}: all records and files go, or all stay`, async () => {
    await using home = await tempHome();
    for (const [i, content] of [FIRST, SECOND, THIRD].entries()) {
      const file = home.file(`image${i}.sif`, content);
      assert.equal(
        (await sregistry(["add", file, "--name", `lab/image${i}`], { env: home.env })).code,
        0,
      );
    }
    await killAt(["rmi", "--all", "--yes"], home.env, `rmi-all:${step}`);
    const listed = await assertConsistent(home);
    const all = [md5(FIRST), md5(SECOND), md5(THIRD)].sort();
    assert.deepEqual(storedMd5s(listed), committed(step) ? [] : all);
  });
}

Deno.test("rmi --all failing part way puts back the files it had set aside, with their records", async () => {
  await using home = await tempHome();
  for (const [i, content] of [FIRST, SECOND, THIRD].entries()) {
    const file = home.file(`image${i}.sif`, content);
    assert.equal(
      (await sregistry(["add", file, "--name", `lab/image${i}`], { env: home.env })).code,
      0,
    );
  }
  const failed = await sregistry(["rmi", "--all", "--yes"], {
    env: { ...home.env, SREGISTRY_FAILPOINT: "rmi-all:set-aside#3=error" },
  });
  assert.equal(failed.code, 1, failed.stderr);
  assert.match(failed.stderr, /cannot write to storage/);
  // Put back by the failing command itself, before any other command could repair it.
  assert.deepEqual(filesUnder(home.storage).filter((f) => f.includes(".sregistry-")), []);
  assert.equal(filesUnder(home.storage).length, 3);
  const listed = await assertConsistent(home);
  assert.deepEqual(storedMd5s(listed), [md5(FIRST), md5(SECOND), md5(THIRD)].sort());
  assert.deepEqual(filesUnder(home.storage).filter((f) => f.includes(".sregistry-")), []);
});

Deno.test({
  name: "rmi --all failing on a read-only folder restores every file and record",
  ignore: !canMount(),
  fn: async () => {
    await using home = await tempHome();
    for (const [i, content] of [FIRST, SECOND].entries()) {
      const file = home.file(`image${i}.sif`, content);
      assert.equal(
        (await sregistry(["add", file, "--name", `lab/image${i}`], { env: home.env })).code,
        0,
      );
    }
    // The second image's folder becomes read-only: its set-aside fails after the first's.
    const folder = join(home.storage, "lab", "image1");
    const bind = new Deno.Command("mount", { args: ["--bind", folder, folder] }).outputSync();
    assert.ok(bind.success);
    try {
      const ro = new Deno.Command("mount", { args: ["-o", "remount,ro,bind", folder] })
        .outputSync();
      assert.ok(ro.success);
      const failed = await sregistry(["rmi", "--all", "--yes"], { env: home.env });
      assert.equal(failed.code, 1, failed.stderr);
    } finally {
      new Deno.Command("umount", { args: [folder] }).outputSync();
    }
    const listed = await assertConsistent(home);
    assert.deepEqual(storedMd5s(listed), [md5(FIRST), md5(SECOND)].sort());
  },
});

for (const step of [...JOURNAL_STEPS, "link"]) {
  Deno.test(`tag killed at tag:${step}: the second name exists with its link, or neither`, async () => {
    await using home = await tempHome();
    const file = home.file("image.sif", FIRST);
    assert.equal(
      (await sregistry(["add", file, "--name", "lab/image:v1"], { env: home.env })).code,
      0,
    );
    await killAt(["tag", "lab/image:v1", "lab/image:stable"], home.env, `tag:${step}`);
    const listed = await assertConsistent(home);
    assert.deepEqual(
      listed.map((r) => r.tag),
      committed(step) ? ["v1", "stable"] : ["v1"],
    );
  });
}
