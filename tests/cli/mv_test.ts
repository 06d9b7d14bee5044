/**
 * `sregistry mv <uri> <path>`: moves an image file (out of storage too) and updates its record;
 * into an existing folder keeps the file name; never overwrites; a missing folder is an error.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { sregistry } from "../support/cli.ts";
import { type TempHome, tempHome } from "../support/home.ts";
import {
  assertFailure,
  assertUnchanged,
  canMount,
  exists,
  md5,
  mountTmpfs,
  records,
  snapshot,
  tempFiles,
} from "../support/state.ts";

const VERSION = md5("hello\n");

async function withImage(home: TempHome): Promise<string> {
  const added = await sregistry(["add", home.file("a.sif", "hello\n"), "--name", "vsoch/hello"], {
    env: home.env,
  });
  assert.equal(added.code, 0, added.stderr);
  return join(home.storage, "vsoch", "hello", `latest@${VERSION}.sif`);
}

Deno.test("mv moves the file out of storage, updates the record, and get prints the new path", async () => {
  await using home = await tempHome();
  const stored = await withImage(home);
  Deno.mkdirSync(join(home.path, "scratch"));
  const target = join(home.path, "scratch", "hello.sif");

  const moved = await sregistry(["mv", "vsoch/hello", target], { env: home.env });
  assert.equal(moved.code, 0, moved.stderr);
  assert.equal(moved.stdout, `${target}\n`);
  assert.match(moved.stderr, /^\[client\|hub\] \[database\|sqlite:\/\/\/.*\]\n/);
  assert.match(moved.stderr, new RegExp(`\\[move\\] ${stored} => ${target}\\n$`));

  assert.equal(Deno.readTextFileSync(target), "hello\n");
  assert.equal(exists(stored), false);
  assert.equal(exists(join(home.storage, "vsoch")), false, "emptied folders are pruned");
  assert.equal((await sregistry(["get", "vsoch/hello"], { env: home.env })).stdout, `${target}\n`);
  const [record] = records(await sregistry(["images", "--json"], { env: home.env }));
  assert.equal(record.image, target);
  assert.equal(record.md5, VERSION, "the rest of the record is kept");
});

Deno.test("mv into an existing folder keeps the file name; a relative path uses the cwd", async () => {
  await using home = await tempHome();
  const stored = await withImage(home);
  const folder = join(home.path, "images");
  Deno.mkdirSync(folder);
  const moved = await sregistry(["mv", "-q", "vsoch/hello", "images"], {
    env: home.env,
    cwd: home.path,
  });
  assert.equal(moved.code, 0, moved.stderr);
  const target = join(folder, `latest@${VERSION}.sif`);
  assert.equal(moved.stdout, `${target}\n`);
  assert.equal(moved.stderr, `[move] ${stored} => ${target}\n`, "--quiet drops the banner");
  assert.equal(Deno.readTextFileSync(target), "hello\n");

  // And back into storage (its emptied folder was pruned, so it is made first).
  Deno.mkdirSync(join(home.storage, "vsoch", "hello"), { recursive: true });
  const back = await sregistry(["mv", "-q", "vsoch/hello", stored], { env: home.env });
  assert.equal(back.code, 0, back.stderr);
  assert.equal(Deno.readTextFileSync(stored), "hello\n");
  assert.equal(exists(target), false);
  const db = new DatabaseSync(join(home.database, "sregistry.db"), { readOnly: true });
  const row = db.prepare("SELECT image FROM container").get();
  db.close();
  assert.equal(row?.image, `vsoch/hello/latest@${VERSION}.sif`, "recorded relative again");
});

Deno.test("mv refuses an existing target file, exit 1, nothing changed", async () => {
  await using home = await tempHome();
  await withImage(home);
  const target = home.file("taken.sif", "somebody else's file\n");
  const before = await snapshot(home);
  const refused = await sregistry(["mv", "vsoch/hello", target], { env: home.env });
  assertFailure(refused, 1, new RegExp(`${target} already exists; nothing was overwritten`));
  assertUnchanged(before, await snapshot(home));
});

Deno.test("mv to a folder that does not exist exits 1, nothing changed", async () => {
  await using home = await tempHome();
  await withImage(home);
  const before = await snapshot(home);
  const target = join(home.path, "no", "such", "folder", "x.sif");
  const refused = await sregistry(["mv", "vsoch/hello", target], { env: home.env });
  assertFailure(refused, 1, /folder .*\/no\/such\/folder does not exist; create it first/);
  assertUnchanged(before, await snapshot(home));
});

Deno.test("mv of a missing record, or onto itself, fails and changes nothing", async () => {
  await using home = await tempHome();
  const stored = await withImage(home);
  const before = await snapshot(home);
  assertFailure(
    await sregistry(["mv", "vsoch/missing", home.path], { env: home.env }),
    1,
    /no record of vsoch\/missing:latest/,
  );
  assertFailure(
    await sregistry(["mv", "vsoch/hello", stored], { env: home.env }),
    2,
    /is already where the image is/,
  );
  assertUnchanged(before, await snapshot(home));
});

Deno.test("mv of a remote-only record is refused: it has no file", async () => {
  await using home = await tempHome();
  await sregistry(["record", "vsoch/remote", "--url", "https://example.org/r.sif"], {
    env: home.env,
  });
  const before = await snapshot(home);
  assertFailure(
    await sregistry(["mv", "vsoch/remote", home.path], { env: home.env }),
    2,
    /remote-only record with no image file/,
  );
  assertUnchanged(before, await snapshot(home));
});

Deno.test({
  name: "mv to another filesystem copies, then removes the original, leaving no temp file",
  ignore: !canMount(),
  async fn() {
    await using home = await tempHome();
    const stored = await withImage(home);
    const other = join(home.path, "other-fs");
    using _mount = mountTmpfs(other, "1m");
    const moved = await sregistry(["mv", "-q", "vsoch/hello", other], { env: home.env });
    assert.equal(moved.code, 0, moved.stderr);
    const target = join(other, `latest@${VERSION}.sif`);
    assert.equal(Deno.readTextFileSync(target), "hello\n");
    assert.equal(exists(stored), false);
    assert.deepEqual(tempFiles(home.path), []);
    assert.equal(
      (await sregistry(["get", "vsoch/hello"], { env: home.env })).stdout,
      `${target}\n`,
    );
  },
});

Deno.test("mv back into storage recreates the folder that was pruned when it emptied", async () => {
  await using home = await tempHome();
  const stored = await withImage(home);
  const outside = join(home.path, "hello.sif");
  assert.equal((await sregistry(["mv", "vsoch/hello", outside], { env: home.env })).code, 0);
  assert.equal(exists(join(home.storage, "vsoch")), false);

  const back = await sregistry(["mv", "vsoch/hello", stored], { env: home.env });
  assert.equal(back.code, 0, back.stderr);
  assert.equal(Deno.readTextFileSync(stored), "hello\n");
  const [record] = records(await sregistry(["images", "--json"], { env: home.env }));
  assert.equal(record.image, stored);
});

Deno.test({
  name: "mv across filesystems refuses a stored file that no longer has its recorded MD5",
  ignore: !canMount(),
  async fn() {
    await using home = await tempHome();
    const stored = await withImage(home);
    // Same size, other bytes: only the MD5 of the copy tells.
    Deno.writeTextFileSync(stored, "HELLO\n");
    const other = join(home.path, "other-fs");
    using _mount = mountTmpfs(other, "1m");
    const before = await snapshot(home);
    const moved = await sregistry(["mv", "-q", "vsoch/hello", other], { env: home.env });
    assertFailure(
      moved,
      1,
      /has MD5 .* but vsoch\/hello:latest@.* was stored with .*nothing was moved/,
    );
    assertUnchanged(before, await snapshot(home), "a refused mv");
    assert.deepEqual([...Deno.readDirSync(other)], [], "no copy is left on the other side");
  },
});
