/**
 * Storage is a folder other people and programs touch: nothing under it is written, moved or
 * deleted through a symlink planted there, `get` prints only the file its record describes, a
 * record whose file is gone shows as missing, `add` of a symlink copies the file it names, and
 * /dev/shm (which the runtime refuses) is declined with a message that says why.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { sregistry } from "../support/cli.ts";
import { type TempHome, tempHome } from "../support/home.ts";
import {
  assertFailure,
  assertUnchanged,
  exists,
  md5,
  records,
  snapshot,
} from "../support/state.ts";
import { filesUnder, hubEnv, partFiles } from "../support/pulls.ts";
import { startFakeHub } from "../support/fake_hub.ts";

const CONTENT = "image bytes\n";
const VICTIM = "someone else's file\n";

async function added(home: TempHome, name: string, content = CONTENT): Promise<string> {
  const file = home.file(`${name.replaceAll("/", "_")}.sif`, content);
  const result = await sregistry(["add", file, "--name", name], { env: home.env });
  assert.equal(result.code, 0, result.stderr);
  return join(home.storage, ...name.split(":")[0].split("/"), `latest@${md5(content)}.sif`);
}

/** A file outside storage that a planted link points at, with its own content. */
function victim(home: TempHome): string {
  Deno.mkdirSync(join(home.path, "victim"), { recursive: true });
  return home.file("victim/keep.txt", VICTIM);
}

for (const depth of ["collection", "name"]) {
  Deno.test(`add refuses a ${depth} folder in storage that is a symlink; nothing moves`, async () => {
    await using home = await tempHome();
    await added(home, "other/first"); // the database and storage exist
    const elsewhere = join(home.path, "victim");
    Deno.mkdirSync(elsewhere);
    const link = depth === "collection"
      ? join(home.storage, "lab")
      : join(home.storage, "lab", "image");
    Deno.mkdirSync(join(link, ".."), { recursive: true });
    Deno.symlinkSync(elsewhere, link);
    const file = home.file("image.sif", CONTENT);
    const before = await snapshot(home);
    const result = await sregistry(["add", file, "--name", "lab/image"], { env: home.env });
    assertFailure(result, 1, /is a symlink; sregistry never writes through one/);
    assertUnchanged(before, await snapshot(home), "add");
    assert.deepEqual(filesUnder(elsewhere), []);
  });
}

Deno.test("add refuses an image path in storage that is a planted symlink; the user keeps the file", async () => {
  await using home = await tempHome();
  await added(home, "other/first");
  const target = victim(home);
  const path = join(home.storage, "lab", "image", `latest@${md5(CONTENT)}.sif`);
  Deno.mkdirSync(join(path, ".."), { recursive: true });
  Deno.symlinkSync(target, path);
  const file = home.file("image.sif", CONTENT);
  for (const copy of [[], ["--copy"]]) {
    const result = await sregistry(["add", file, "--name", "lab/image", ...copy], {
      env: home.env,
    });
    assertFailure(result, 1, /is not a regular file; nothing was written/);
    assert.equal(Deno.readTextFileSync(file), CONTENT, "the user's file stays");
    assert.equal(Deno.readTextFileSync(target), VICTIM, "the link's target is untouched");
  }
  assert.deepEqual(records(await sregistry(["images", "--json"], { env: home.env })).length, 1);
});

Deno.test("get, mv and images do not take a planted symlink for the recorded file", async () => {
  await using home = await tempHome();
  const stored = await added(home, "lab/image");
  const target = victim(home);
  // Same size as the image, so only the link itself gives it away.
  Deno.writeTextFileSync(target, "X".repeat(CONTENT.length));
  Deno.removeSync(stored);
  Deno.symlinkSync(target, stored);
  const got = await sregistry(["get", "lab/image"], { env: home.env });
  assertFailure(got, 1, /the image file of lab\/image:latest@\w+ is missing/);
  assert.match(got.stderr, /'sregistry rm lab\/image:latest@\w+' drops the record/);
  assert.equal(got.stdout, "");
  const moved = await sregistry(["mv", "lab/image", home.path], { env: home.env });
  assertFailure(moved, 1, /is missing/);
  assert.ok(exists(target) && !exists(join(home.path, `latest@${md5(CONTENT)}.sif`)));
  const table = await sregistry(["images"], { env: home.env });
  assert.match(table.stdout, /missing\s.*lab\/image:latest/);
  const inspected = JSON.parse(
    (await sregistry(["inspect", "lab/image"], { env: home.env })).stdout,
  );
  assert.equal(inspected.inspection, null, "the planted link's target is not read");
});

Deno.test("rmi of a record whose file was replaced by a symlink removes the link, never its target", async () => {
  await using home = await tempHome();
  const stored = await added(home, "lab/image");
  const target = victim(home);
  Deno.removeSync(stored);
  Deno.symlinkSync(target, stored);
  const removed = await sregistry(["rmi", "lab/image"], { env: home.env });
  assert.equal(removed.code, 0, removed.stderr);
  assert.equal(Deno.readTextFileSync(target), VICTIM);
  assert.ok(!exists(stored));
});

Deno.test("a record whose file is gone or truncated shows as missing or changed, and get says what to run", async () => {
  await using home = await tempHome();
  const gone = await added(home, "lab/gone");
  const cut = await added(home, "lab/cut", "a longer image content\n");
  await added(home, "lab/fine", "fine\n");
  Deno.removeSync(gone);
  Deno.truncateSync(cut, 3);
  const table = await sregistry(["images"], { env: home.env });
  assert.match(table.stdout, /missing\s.*lab\/gone:latest/);
  assert.match(table.stdout, /changed\s.*lab\/cut:latest/);
  assert.match(table.stdout, /local\s.*lab\/fine:latest/);
  const listed = records(await sregistry(["images", "--json"], { env: home.env }));
  assert.deepEqual(
    Object.fromEntries(listed.map((r) => [r.name, r.location])),
    { gone: "missing", cut: "changed", fine: "local" },
  );
  const inspected = await sregistry(["inspect", "lab/gone"], { env: home.env });
  assert.equal(JSON.parse(inspected.stdout).location, "missing");
  assertFailure(
    await sregistry(["get", "lab/cut"], { env: home.env }),
    1,
    /the image file of lab\/cut:latest@\w+ changed: .* is not 23 bytes; 'sregistry rm/,
  );
  assertFailure(await sregistry(["get", "lab/gone"], { env: home.env }), 1, /is missing/);
});

Deno.test("adding the right content again mends a truncated image of the same version", async () => {
  await using home = await tempHome();
  const stored = await added(home, "lab/image");
  Deno.truncateSync(stored, 2);
  const again = await sregistry(["add", home.file("again.sif", CONTENT), "--name", "lab/image"], {
    env: home.env,
  });
  assert.equal(again.code, 0, again.stderr);
  assert.equal(Deno.readTextFileSync(stored), CONTENT);
  assert.equal((await sregistry(["get", "lab/image"], { env: home.env })).stdout, stored + "\n");
});

Deno.test("add of a symlink copies the file it names; the link and the file stay", async () => {
  await using home = await tempHome();
  const file = home.file("real.sif", CONTENT);
  const link = join(home.path, "link.sif");
  Deno.symlinkSync(file, link);
  const result = await sregistry(["add", link, "--name", "lab/linked"], { env: home.env });
  assert.equal(result.code, 0, result.stderr);
  assert.equal(Deno.readLinkSync(link), file);
  assert.equal(Deno.readTextFileSync(file), CONTENT);
  const stored = (await sregistry(["get", "lab/linked"], { env: home.env })).stdout.trim();
  assert.equal(Deno.readTextFileSync(stored), CONTENT);
  assert.ok(!Deno.lstatSync(stored).isSymlink);
  assert.notEqual(Deno.statSync(stored).ino, Deno.statSync(file).ino, "a copy, not a link");
});

Deno.test("/dev/shm as storage, database, mv target or pull --name folder is declined, saying why", async () => {
  await using home = await tempHome();
  await added(home, "lab/image");
  const why = /cannot use \/dev\/shm\S*: the runtime sregistry is built on \(Deno\) opens \/dev/;
  for (const variable of ["SREGISTRY_STORAGE", "SREGISTRY_DATABASE"]) {
    const result = await sregistry(["images"], {
      env: { ...home.env, [variable]: "/dev/shm/sregistry-test" },
    });
    assertFailure(result, 1, why);
    assert.doesNotMatch(result.stderr, /allow-all/);
  }
  // Reached through a symlink, too.
  const link = join(home.path, "shm");
  Deno.symlinkSync("/dev/shm", link);
  const moved = await sregistry(["mv", "lab/image", link], { env: home.env });
  assertFailure(moved, 2, /cannot use .*shm \(\/dev\/shm\): the runtime/);
  assert.doesNotMatch(moved.stderr, /allow-all/);
  const pulled = await sregistry(["pull", "hub://lab/x", "--name", "/dev/shm/x.sif"], {
    env: { ...home.env, SREGISTRY_HUB_BASE: "http://127.0.0.1:9/api" },
  });
  assertFailure(pulled, 2, why);
});

for (const planted of ["the part file", "its sidecar"]) {
  Deno.test(`pull never writes through a symlink planted at a partial download: ${planted}`, async () => {
    await using hub = await startFakeHub({ mode: "stall" });
    await using home = await tempHome();
    const image = hub.addImage("lab", "big", "latest", { size: 256 * 1024, seed: 3 });
    const env = hubEnv(home, hub, { SREGISTRY_TIMEOUT: "1" });
    assert.equal((await sregistry(["pull", "hub://lab/big"], { env })).code, 1);
    const [part] = partFiles(home.storage);
    assert.ok(part, "an interrupted pull keeps its part file");
    const path = planted === "the part file" ? part.path : `${part.path}.json`;
    const target = victim(home);
    Deno.removeSync(path);
    Deno.symlinkSync(target, path);
    hub.setMode("ok");
    const pulled = await sregistry(["pull", "hub://lab/big"], { env });
    assert.equal(pulled.code, 0, pulled.stderr);
    assert.equal(Deno.readTextFileSync(target), VICTIM, "the link's target is untouched");
    const [record] = records(await sregistry(["images", "--json"], { env }));
    assert.equal(record.md5, await image.md5());
    assert.equal(md5(Deno.readFileSync(record.image!)), await image.md5());
  });
}

Deno.test("a damaged stored image is never trusted: adding a good copy mends it, a new name gets good bytes", async () => {
  await using home = await tempHome();
  await added(home, "lab/a:v1");
  const stored = (await sregistry(["get", "lab/a:v1"], { env: home.env })).stdout.trim();
  // Same size, other bytes: only the MD5 tells.
  Deno.writeTextFileSync(stored, "X".repeat(CONTENT.length));
  const other = home.file("other.sif", CONTENT);
  const again = await sregistry(["add", other, "--name", "lab/b:v1"], { env: home.env });
  assert.equal(again.code, 0, again.stderr);
  const b = (await sregistry(["get", "lab/b:v1"], { env: home.env })).stdout.trim();
  assert.equal(Deno.readTextFileSync(b), CONTENT, "not linked to the damaged file");
  assert.notEqual(Deno.statSync(b).ino, Deno.statSync(stored).ino);
  const good = home.file("good.sif", CONTENT);
  const mended = await sregistry(["add", good, "--name", "lab/a:v1"], { env: home.env });
  assert.equal(mended.code, 0, mended.stderr);
  assert.equal(Deno.readTextFileSync(stored), CONTENT, "the good copy replaced the damaged one");
  const verified = await sregistry(["verify"], { env: home.env });
  assert.equal(verified.code, 0, verified.stdout + verified.stderr);
});

Deno.test("mv inside storage goes only to the image's own path, so no other name's file is taken", async () => {
  await using home = await tempHome();
  await added(home, "lab/a:v1");
  const a = (await sregistry(["get", "lab/a:v1"], { env: home.env })).stdout.trim();
  const bPath = join(home.storage, "lab", "b", `latest@${md5("b\n")}.sif`);
  Deno.mkdirSync(join(bPath, ".."), { recursive: true });
  assertFailure(
    await sregistry(["mv", "lab/a:v1", bPath], { env: home.env }),
    2,
    /is inside storage, where each image has its name's path; 'sregistry rename'/,
  );
  assert.equal(Deno.readTextFileSync(a), CONTENT);
  assertFailure(
    await sregistry(["mv", "lab/a:v1", join(home.path, "no-such-folder") + "/"], { env: home.env }),
    1,
    /folder .*no-such-folder does not exist/,
  );
  assert.ok(!exists(join(home.path, "no-such-folder")));
});
