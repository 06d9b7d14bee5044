/**
 * `sregistry rm` removes a record and keeps its file (saying where it is); `rmi` removes both.
 * `--all` asks on a terminal, refuses off one without `--yes`, and with `--yes` removes all.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { sregistry, sregistryInProcess } from "../support/cli.ts";
import { type TempHome, tempHome } from "../support/home.ts";
import {
  assertFailure,
  assertUnchanged,
  exists,
  fileTree,
  md5,
  records,
  snapshot,
} from "../support/state.ts";

function banner(home: TempHome): string {
  return `[client|hub] [database|sqlite:///${join(home.database, "sregistry.db")}]`;
}

/** Two local images and a remote-only record. */
async function populated(home: TempHome): Promise<void> {
  for (
    const args of [
      ["add", home.file("a.sif", "alpha\n"), "--name", "vsoch/a"],
      ["add", home.file("b.sif", "beta\n"), "--name", "vsoch/b"],
      ["record", "vsoch/remote", "--url", "https://example.org/r.sif"],
    ]
  ) {
    const result = await sregistry(args, { env: home.env });
    assert.equal(result.code, 0, result.stderr);
  }
}

const storedFiles = (home: TempHome) =>
  fileTree(home.storage).filter((entry) => !entry.endsWith("/"));

Deno.test("rm keeps the image file and says where it is", async () => {
  await using home = await tempHome();
  await populated(home);
  const path = join(home.storage, "vsoch", "a", `latest@${md5("alpha\n")}.sif`);
  const removed = await sregistry(["rm", "vsoch/a"], { env: home.env });
  assert.equal(removed.code, 0, removed.stderr);
  assert.equal(removed.stdout, `${path}\n`, "stdout is the kept file");
  assert.equal(
    removed.stderr,
    `${banner(home)}\n[rm] vsoch/a:latest@${md5("alpha\n")}: record removed; ` +
      `its image file is kept at ${path}\n`,
  );
  assert.equal(Deno.readTextFileSync(path), "alpha\n");
  const left = records(await sregistry(["images", "--json"], { env: home.env }));
  assert.deepEqual(left.map((r) => r.name), ["b", "remote"]);
  assert.equal((await sregistry(["get", "vsoch/a"], { env: home.env })).code, 1);
});

Deno.test("rmi removes the record and deletes the file, pruning empty folders", async () => {
  await using home = await tempHome();
  await populated(home);
  const path = join(home.storage, "vsoch", "a", `latest@${md5("alpha\n")}.sif`);
  const removed = await sregistry(["rmi", "--quiet", "vsoch/a"], { env: home.env });
  assert.equal(removed.code, 0, removed.stderr);
  assert.equal(removed.stdout, "");
  assert.equal(
    removed.stderr,
    `[rmi] vsoch/a:latest@${md5("alpha\n")}: record removed and ${path} deleted\n`,
    "no banner with --quiet",
  );
  assert.equal(exists(path), false);
  assert.equal(exists(join(home.storage, "vsoch", "a")), false, "the empty folder goes");
  assert.equal(exists(join(home.storage, "vsoch", "b")), true);
  assert.deepEqual(storedFiles(home), [`vsoch/b/latest@${md5("beta\n")}.sif 5 ${md5("beta\n")}`]);
});

Deno.test("rm of a remote-only record, and of a record whose file is gone, succeed", async () => {
  await using home = await tempHome();
  await populated(home);
  const remote = await sregistry(["rm", "-q", "vsoch/remote"], { env: home.env });
  assert.equal(remote.code, 0, remote.stderr);
  assert.equal(remote.stderr, "[rm] vsoch/remote:latest: remote-only record removed\n");

  const path = (await sregistry(["get", "vsoch/b"], { env: home.env })).stdout.trim();
  Deno.removeSync(path);
  const gone = await sregistry(["rmi", "-q", "vsoch/b"], { env: home.env });
  assert.equal(gone.code, 0, gone.stderr);
  assert.match(gone.stderr, /record removed; its image file .* was already gone\n$/);
  assert.deepEqual(
    records(await sregistry(["images", "--json"], { env: home.env })).map((r) => r.name),
    ["a"],
  );
});

Deno.test("rm and rmi of a missing record exit 1 and change nothing", async () => {
  await using home = await tempHome();
  await populated(home);
  const before = await snapshot(home);
  for (const verb of ["rm", "rmi"]) {
    const result = await sregistry([verb, "vsoch/missing"], { env: home.env });
    assertFailure(result, 1, /no record of vsoch\/missing:latest in the database/);
    assert.equal(result.stdout, "");
  }
  assertUnchanged(before, await snapshot(home));
});

Deno.test("rm --all off a terminal without --yes refuses with exit 2 and changes nothing", async () => {
  await using home = await tempHome();
  await populated(home);
  const before = await snapshot(home);
  for (const verb of ["rm", "rmi"]) {
    const refused = await sregistry([verb, "--all"], { env: home.env, stdin: "y\n" });
    assertFailure(refused, 2, /without confirmation; stdin is not a terminal; add --yes/);
  }
  // Neither a uri and --all together, nor neither of them.
  assertFailure(await sregistry(["rm"], { env: home.env }), 2, /needs either a uri or --all/);
  assertFailure(
    await sregistry(["rm", "--all", "--yes", "vsoch/a"], { env: home.env }),
    2,
    /needs either a uri or --all/,
  );
  assertUnchanged(before, await snapshot(home));
});

Deno.test("rm --all --yes removes every record and keeps the files", async () => {
  await using home = await tempHome();
  await populated(home);
  const files = storedFiles(home);
  const removed = await sregistry(["rm", "--all", "--yes", "--json"], { env: home.env });
  assert.equal(removed.code, 0, removed.stderr);
  assert.deepEqual(JSON.parse(removed.stdout).map((r: { file: string }) => r.file), [
    "kept",
    "kept",
    "none",
  ]);
  assert.deepEqual(records(await sregistry(["images", "--json"], { env: home.env })), []);
  assert.deepEqual(storedFiles(home), files);
});

Deno.test("rmi --all --yes removes every record and every image file", async () => {
  await using home = await tempHome();
  await populated(home);
  const removed = await sregistry(["rmi", "--all", "-y"], { env: home.env });
  assert.equal(removed.code, 0, removed.stderr);
  assert.deepEqual(records(await sregistry(["images", "--json"], { env: home.env })), []);
  assert.deepEqual(storedFiles(home), []);
  assert.deepEqual(fileTree(home.storage), [], "empty folders are pruned too");

  const again = await sregistry(["rmi", "--all", "-y", "-q"], { env: home.env });
  assert.deepEqual([again.code, again.stderr], [0, "There are no records to remove.\n"]);
});

Deno.test("rm --all on a terminal asks; 'n' keeps everything, 'y' removes all", async () => {
  await using home = await tempHome();
  await populated(home);
  const before = await snapshot(home);
  const options = { env: home.env, stdinTerminal: true, stderrTerminal: true };

  const declined = await sregistryInProcess(["rmi", "--all"], { ...options, stdin: "n\n" });
  assert.equal(declined.code, 0, declined.stderr);
  assert.match(declined.stderr, /Remove all 3 records and their image files\? \[y\/N\] /);
  assert.match(declined.stderr, /Nothing removed\.\n$/);
  assertUnchanged(before, await snapshot(home));

  // An unclear answer is asked again; end of input counts as no.
  const unclear = await sregistryInProcess(["rm", "--all"], { ...options, stdin: "maybe\n" });
  assert.match(unclear.stderr, /Please answer yes or no\./);
  assert.match(unclear.stderr, /Nothing removed\.\n$/);
  assertUnchanged(before, await snapshot(home));

  const accepted = await sregistryInProcess(["rm", "--all"], { ...options, stdin: "y\n" });
  assert.equal(accepted.code, 0, accepted.stderr);
  assert.match(accepted.stderr, /Remove all 3 records\? \[y\/N\] /);
  assert.deepEqual(records(await sregistry(["images", "--json"], { env: home.env })), []);
  assert.equal(storedFiles(home).length, 2, "rm keeps the files");
});

Deno.test("rm and rmi of several names remove them together, each once", async () => {
  await using home = await tempHome();
  await populated(home);
  const a = join(home.storage, "vsoch", "a", `latest@${md5("alpha\n")}.sif`);
  const b = join(home.storage, "vsoch", "b", `latest@${md5("beta\n")}.sif`);
  const removed = await sregistry(["rm", "vsoch/b", "vsoch/remote", "vsoch/b", "--json"], {
    env: home.env,
  });
  assert.equal(removed.code, 0, removed.stderr);
  assert.deepEqual(JSON.parse(removed.stdout), [
    { uri: `vsoch/b:latest@${md5("beta\n")}`, image: b, file: "kept" },
    { uri: "vsoch/remote:latest", image: null, file: "none" },
  ]);
  assert.ok(exists(b), "rm keeps the file");
  const left = records(await sregistry(["images", "--json"], { env: home.env }));
  assert.deepEqual(left.map((r) => r.name), ["a"]);

  await sregistry(["add", home.file("c.sif", "gamma\n"), "--name", "vsoch/c"], { env: home.env });
  await sregistry(["tag", "vsoch/c", "vsoch/c:v2"], { env: home.env });
  const deleted = await sregistry(["rmi", "vsoch/c:v2", "vsoch/a", "vsoch/c"], { env: home.env });
  assert.equal(deleted.code, 0, deleted.stderr);
  assert.equal(deleted.stdout, "");
  assert.match(
    deleted.stderr,
    /\[rmi\] vsoch\/c:v2@.*\n\[rmi\] vsoch\/a:latest@.*\n\[rmi\] vsoch\/c:latest@/,
  );
  assert.deepEqual(records(await sregistry(["images", "--json"], { env: home.env })), []);
  assert.deepEqual(
    storedFiles(home).map((entry) => entry.split(" ")[0]),
    [`vsoch/b/latest@${md5("beta\n")}.sif`],
    "only the file rm kept is left",
  );
  assert.ok(!exists(a));
});

Deno.test("rm and rmi of several names remove nothing when one has no record", async () => {
  await using home = await tempHome();
  await populated(home);
  const before = await snapshot(home);
  for (const verb of ["rm", "rmi"]) {
    const result = await sregistry([verb, "vsoch/a", "vsoch/nothing", "vsoch/b", "vsoch/rmote"], {
      env: home.env,
    });
    assertFailure(
      result,
      1,
      /no record of vsoch\/nothing:latest, vsoch\/rmote:latest in the database; for vsoch\/rmote:latest, did you mean vsoch\/remote:latest\?/,
    );
    assert.equal(result.stdout, "");
    assertUnchanged(before, await snapshot(home), `${verb} with an unknown name`);
  }
  assertFailure(
    await sregistry(["rm", "vsoch/a", "--all", "--yes"], { env: home.env }),
    2,
    /needs either a uri or --all/,
  );
  assertUnchanged(before, await snapshot(home));
});
