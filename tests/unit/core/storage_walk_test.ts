/**
 * Storage seen as it is: a walk lists files and symlinks but never enters a symlinked folder,
 * an entry behind one is not seen, and bytes are freed only with a file's last link.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { Storage } from "../../../src/core/storage.ts";
import {
  FreedBytes,
  lstatEntry,
  StorageWalk,
  type StoredEntry,
} from "../../../src/core/storage_walk.ts";
import { tempHome } from "../../support/home.ts";

Deno.test("a walk lists files and symlinks, never entering a symlinked folder", async () => {
  await using home = await tempHome();
  const root = join(home.path, "storage");
  home.file("storage/a/b/image.sif", "image");
  home.file("outside/secret.sif", "not storage's");
  Deno.symlinkSync(join(home.path, "outside"), join(root, "linked"));
  Deno.symlinkSync(join(home.path, "outside", "secret.sif"), join(root, "a", "planted.sif"));
  home.file("storage/skipped.db", "database");
  const walk = new StorageWalk(new Storage(root), [join(root, "skipped.db")]);
  const contents = await walk.contents(1);
  assert.deepEqual(
    contents.entries.map((entry) => [entry.path.slice(root.length + 1), entry.type]).sort(),
    [["a/b/image.sif", "file"], ["a/planted.sif", "symlink"], ["linked", "symlink"]],
  );
  assert.deepEqual(contents.unreadable, []);
});

Deno.test("a large walk, split with a worker, finds what one thread finds", async () => {
  await using home = await tempHome();
  const root = join(home.path, "storage");
  for (let c = 0; c < 6; c++) {
    for (let i = 0; i < 5; i++) home.file(`storage/c${c}/n${i}/v${i}.sif`, `${c}-${i}`);
  }
  home.file("storage/top.sif", "top");
  Deno.symlinkSync(join(root, "c0"), join(root, "c0-link"));
  const listed = async (expected: number) =>
    (await new StorageWalk(new Storage(root)).contents(expected)).entries
      .map((entry) => `${entry.path} ${entry.type} ${entry.size}`).sort();
  const alone = await listed(1);
  assert.equal(alone.length, 6 * 5 + 2);
  assert.deepEqual(await listed(1_000_000), alone);
});

Deno.test("an entry behind a symlinked folder is not seen, as fileState counts it missing", async () => {
  await using home = await tempHome();
  const root = join(home.path, "storage");
  Deno.mkdirSync(root);
  home.file("elsewhere/name/v1.sif", "image");
  Deno.symlinkSync(join(home.path, "elsewhere"), join(root, "lab"));
  const storage = new Storage(root);
  const walk = new StorageWalk(storage);
  const behind = join(root, "lab", "name", "v1.sif");
  assert.equal(walk.entry(behind), null);
  assert.equal(storage.fileState(behind, 5), "missing");
  assert.equal(walk.entry(join(root, "lab"))?.type, "symlink");
  assert.equal(walk.entry(join(root, "nothing", "here.sif")), null);
});

Deno.test("bytes are freed only when every link of a file goes", async () => {
  await using home = await tempHome();
  const first = home.file("first.sif", "0123456789");
  const second = join(home.path, "second.sif");
  Deno.linkSync(first, second);
  const link = join(home.path, "link");
  Deno.symlinkSync(first, link);
  const entry = (path: string) => lstatEntry(path)!;
  const freed = (...entries: (StoredEntry | null)[]) => new FreedBytes(entries);
  assert.equal(freed(entry(first)).total, 0, "the other link keeps the bytes");
  const both = freed(entry(first), null, entry(second));
  assert.deepEqual([both.total, both.at(0), both.at(2)], [10, 0, 10], "put down to the last link");
  assert.equal(freed(entry(first), entry(first), entry(second)).total, 10, "a path counts once");
  assert.equal(freed(entry(link)).total, 0, "a symlink frees nothing of its target");
});
