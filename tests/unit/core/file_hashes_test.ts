/**
 * Hashing many files at once: each result matches node:crypto's MD5, in the order asked, with
 * one worker or several; progress reaches the total; a missing or unreadable file is said so.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { hashFiles } from "../../../src/core/file_hashes.ts";
import { tempHome } from "../../support/home.ts";

const SIZES = [0, 1, 256 * 1024, 3 * 1024 * 1024 + 7, 10 * 1024 * 1024];

function content(size: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + seed * 7 + (i >> 9)) & 0xff;
  return bytes;
}

for (const workers of [1, 3]) {
  Deno.test(`hashFiles with ${workers} worker(s) gives each file's MD5 and size, in order`, async () => {
    await using home = await tempHome();
    const files = SIZES.map((size, i) => {
      const bytes = content(size, i);
      return {
        path: home.file(`file-${i}`, bytes),
        size,
        md5: createHash("md5").update(bytes).digest("hex"),
      };
    });
    let done = 0;
    const hashes = await hashFiles(files, { workers, onProgress: (bytes) => done = bytes });
    assert.deepEqual(
      hashes.map((hash) => "md5" in hash ? [hash.md5, hash.size] : hash),
      files.map((file) => [file.md5, file.size]),
    );
    assert.equal(done, SIZES.reduce((sum, size) => sum + size, 0));
    const info = Deno.statSync(files[2].path);
    assert.deepEqual(
      [(hashes[2] as { dev: number }).dev, (hashes[2] as { ino: number }).ino],
      [info.dev, info.ino],
      "the inode that was read",
    );
  });
}

Deno.test("hashFiles says which files are missing or cannot be read", async () => {
  await using home = await tempHome();
  const folder = join(home.path, "a-folder"); // reading a folder fails, even for root
  Deno.mkdirSync(folder);
  const hashes = await hashFiles([
    { path: join(home.path, "gone.sif"), size: 1 },
    { path: folder, size: 1 },
    { path: home.file("ok.sif", "ok"), size: 2 },
  ]);
  assert.equal("failure" in hashes[0] && hashes[0].failure, "missing");
  assert.equal("failure" in hashes[1] && hashes[1].failure, "unreadable");
  assert.equal("md5" in hashes[2] && hashes[2].md5, createHash("md5").update("ok").digest("hex"));
});
