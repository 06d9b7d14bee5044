/**
 * `tag` and shared content: a second name takes no extra space (a hard link in storage), adding
 * or pulling content storage already holds links it instead of keeping a second copy, and
 * removing one name never removes bytes another name still uses.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { sregistry } from "../support/cli.ts";
import { startFakeHub } from "../support/fake_hub.ts";
import { type TempHome, tempHome } from "../support/home.ts";
import { filesUnder, hubEnv } from "../support/pulls.ts";
import { assertFailure, assertUnchanged, md5, records, snapshot } from "../support/state.ts";

const CONTENT = "an image, five hundred megabytes in real life\n";

async function run(home: TempHome, args: string[], env = home.env): Promise<string> {
  const result = await sregistry(args, { env });
  assert.equal(result.code, 0, `${args.join(" ")}: ${result.stderr}`);
  return result.stdout.trim();
}

function inode(path: string): number {
  return Deno.statSync(path).ino!;
}

Deno.test("tag gives an image a second name whose file is a hard link of the first", async () => {
  await using home = await tempHome();
  await run(home, ["add", home.file("tool.sif", CONTENT), "--name", "lab/tool:1.4.2"]);
  const tagged = await sregistry(["tag", "lab/tool:1.4.2", "lab/tool:stable"], { env: home.env });
  assert.equal(tagged.code, 0, tagged.stderr);
  const path = join(home.storage, "lab", "tool", `stable@${md5(CONTENT)}.sif`);
  assert.equal(tagged.stdout, path + "\n");
  assert.match(tagged.stderr, /\[container\]\[new\] lab\/tool:stable@/);
  const first = await run(home, ["get", "lab/tool:1.4.2"]);
  assert.equal(await run(home, ["get", "lab/tool:stable"]), path);
  assert.equal(inode(first), inode(path), "one file, two names");
  assert.equal(Deno.statSync(path).nlink, 2);
  const listed = records(await sregistry(["images", "--json"], { env: home.env }));
  assert.deepEqual(listed.map((r) => [r.uri, r.md5, r.size]), [
    [`lab/tool:1.4.2@${md5(CONTENT)}`, md5(CONTENT), CONTENT.length],
    [`lab/tool:stable@${md5(CONTENT)}`, md5(CONTENT), CONTENT.length],
  ]);
});

Deno.test("removing one name keeps the bytes the other name uses; removing both frees them", async () => {
  await using home = await tempHome();
  await run(home, ["add", home.file("tool.sif", CONTENT), "--name", "lab/tool:1"]);
  await run(home, ["tag", "lab/tool:1", "other/copy:x"]);
  const kept = await run(home, ["get", "other/copy:x"]);
  await run(home, ["rmi", "lab/tool:1"]);
  assert.equal(Deno.readTextFileSync(kept), CONTENT);
  assert.equal(await run(home, ["get", "other/copy:x"]), kept);
  await run(home, ["rmi", "other/copy:x"]);
  assert.deepEqual(filesUnder(home.storage), []);
});

Deno.test("adding or copying content storage already holds links the stored file", async () => {
  await using home = await tempHome();
  await run(home, ["add", home.file("a.sif", CONTENT), "--name", "lab/a"]);
  const stored = await run(home, ["get", "lab/a"]);
  const moved = home.file("b.sif", CONTENT);
  await run(home, ["add", moved, "--name", "lab/b"]);
  const copied = home.file("c.sif", CONTENT);
  await run(home, ["add", "--copy", copied, "--name", "lab/c"]);
  for (const name of ["lab/b", "lab/c"]) {
    assert.equal(inode(await run(home, ["get", name])), inode(stored), `${name} shares the file`);
  }
  assert.equal(Deno.statSync(stored).nlink, 3);
  assert.throws(() => Deno.statSync(moved), "a move takes the user's file");
  assert.equal(Deno.readTextFileSync(copied), CONTENT, "a copy leaves it");
});

Deno.test("pulling content storage already holds links the stored file", async () => {
  await using hub = await startFakeHub();
  await using home = await tempHome();
  hub.addImage("lab", "hello", "latest", new TextEncoder().encode(CONTENT));
  const env = hubEnv(home, hub);
  await run(home, ["add", home.file("a.sif", CONTENT), "--name", "mine/local"], env);
  await run(home, ["pull", "hub://lab/hello"], env);
  const pulled = await run(home, ["get", "lab/hello"], env);
  assert.equal(inode(pulled), inode(await run(home, ["get", "mine/local"], env)));
});

Deno.test("tag of a remote-only record records the same URL under the new name", async () => {
  await using home = await tempHome();
  await run(home, ["record", "lab/big:v1", "--url", "https://example.org/big.sif"]);
  assert.equal(
    await run(home, ["tag", "lab/big:v1", "lab/big:stable"]),
    "https://example.org/big.sif",
  );
  assert.equal(await run(home, ["get", "lab/big:stable"]), "https://example.org/big.sif");
});

Deno.test("tag refuses a taken name, an unknown image and an invalid name, changing nothing", async () => {
  await using home = await tempHome();
  await run(home, ["add", home.file("a.sif", CONTENT), "--name", "lab/a:1"]);
  await run(home, ["tag", "lab/a:1", "lab/b:1"]);
  const before = await snapshot(home);
  assertFailure(
    await sregistry(["tag", "lab/a:1", "lab/b:1"], { env: home.env }),
    1,
    /a record of lab\/b:1@\w+ already exists/,
  );
  assertFailure(
    await sregistry(["tag", "lab/nothing", "lab/x"], { env: home.env }),
    1,
    /no record of lab\/nothing:latest/,
  );
  assertFailure(await sregistry(["tag", "lab/a:1", "lab/../x"], { env: home.env }), 2, /'\.\.'/);
  assertUnchanged(before, await snapshot(home), "a refused tag");
});

Deno.test("mv refuses a file that another record names too", async () => {
  await using home = await tempHome();
  await run(home, ["add", home.file("a.sif", CONTENT), "--name", "lab/a"]);
  const db = join(home.database, "sregistry.db");
  const { DatabaseSync } = await import("node:sqlite");
  const sqlite = new DatabaseSync(db);
  // As a database written by another tool may have it: two records, one path.
  sqlite.exec(`INSERT INTO container (created_at, metrics, name, tag, image, url, uri, client,
    version, collection_id, size, md5) SELECT created_at, metrics, 'b', tag, image, url,
    'lab/b:latest@' || version, client, version, collection_id, size, md5 FROM container`);
  sqlite.close();
  const before = await snapshot(home);
  assertFailure(
    await sregistry(["mv", "lab/a", home.path], { env: home.env }),
    1,
    /is also the image of another record; nothing was moved/,
  );
  assertUnchanged(before, await snapshot(home), "a refused mv");
  const removed = await sregistry(["rmi", "lab/a"], { env: home.env });
  assert.match(removed.stderr, /stays, another record uses it/);
  assert.equal(Deno.readTextFileSync(await run(home, ["get", "lab/b"])), CONTENT);
});
