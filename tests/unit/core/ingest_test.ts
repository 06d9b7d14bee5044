/**
 * Hashing while writing: hashFile, copyAndHash and ImageWriter (with resume) against known MD5
 * vectors and against `md5sum` for a generated 10 MiB file, which spans many blocks and the
 * hand-over to the hashing worker.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { copyAndHash, hashFile, ImageWriter } from "../../../src/core/ingest.ts";
import { InterruptedError } from "../../../src/errors.ts";
import { canMount, installed, mountTmpfs } from "../../support/state.ts";
import { tempHome } from "../../support/home.ts";

// Known vectors (RFC 1321 and coreutils): the reference's hashtest.txt itself is not available.
const VECTORS: [content: string, md5: string][] = [
  ["", "d41d8cd98f00b204e9800998ecf8427e"],
  ["hello\n", "b1946ac92492d2347c6235b4d2611184"],
  ["The quick brown fox jumps over the lazy dog", "9e107d9d372bb6826bd81d3542a419d6"],
  ["a", "0cc175b9c0f1b6a831c399e269772661"],
  ["abc", "900150983cd24fb0d6963f7d28e17f72"],
];

const MIB = 1024 * 1024;

/** Deterministic pseudo-random bytes (xorshift32), so failures are reproducible. */
function generated(size: number, seed = 0x2545f491): Uint8Array {
  const bytes = new Uint8Array(size);
  const words = new Uint32Array(bytes.buffer, 0, Math.floor(size / 4));
  let state = seed;
  for (let i = 0; i < words.length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    words[i] = state >>> 0;
  }
  for (let i = words.length * 4; i < size; i++) bytes[i] = i & 0xff;
  return bytes;
}

async function md5sum(path: string): Promise<string> {
  const output = await new Deno.Command("md5sum", { args: [path], stdout: "piped" }).output();
  assert.ok(output.success, "md5sum runs");
  return new TextDecoder().decode(output.stdout).split(" ")[0];
}

for (const [content, expected] of VECTORS) {
  Deno.test(`hashFile gives the known MD5 of ${JSON.stringify(content)}`, async () => {
    await using folder = await tempHome();
    const digest = await hashFile(folder.file("vector", content));
    assert.deepEqual(digest, { size: new TextEncoder().encode(content).length, md5: expected });
  });

  Deno.test(`copyAndHash copies ${JSON.stringify(content)} exactly and hashes it`, async () => {
    await using folder = await tempHome();
    const target = join(folder.path, "copy");
    const digest = await copyAndHash(folder.file("vector", content), target);
    assert.equal(digest.md5, expected);
    assert.equal(Deno.readTextFileSync(target), content);
  });
}

Deno.test({
  name: "a 10 MiB file hashes to what md5sum says, by hashFile, copyAndHash and ImageWriter",
  ignore: !installed("md5sum"),
  async fn() {
    await using folder = await tempHome();
    // 10 MiB + 3 bytes: 4 MiB hashed in this thread, then the worker, a partial block, an odd tail.
    const bytes = generated(10 * MIB + 3);
    const source = folder.file("big.sif", bytes);
    const expected = await md5sum(source);
    assert.equal(createHash("md5").update(bytes).digest("hex"), expected);

    assert.deepEqual(await hashFile(source), { size: bytes.length, md5: expected });

    const copy = join(folder.path, "copy.sif");
    assert.deepEqual(await copyAndHash(source, copy), { size: bytes.length, md5: expected });
    assert.equal(await md5sum(copy), expected, "the copy is byte for byte the same");

    // Uneven chunks, including ones larger than a block and ones that straddle block edges.
    const written = join(folder.path, "written.sif");
    const writer = await ImageWriter.create(written);
    const sizes = [1, 7, 65536, 5 * MIB, 3, 4 * MIB - 1];
    let offset = 0;
    for (let i = 0; offset < bytes.length; i++) {
      const end = Math.min(bytes.length, offset + sizes[i % sizes.length]);
      await writer.write(bytes.subarray(offset, end));
      offset = end;
      assert.equal(writer.size, offset);
    }
    assert.deepEqual(await writer.close(), { size: bytes.length, md5: expected });
    assert.equal(await md5sum(written), expected);
  },
});

Deno.test("ImageWriter resumes a partial file: it hashes what is there and appends", async () => {
  await using folder = await tempHome();
  const bytes = generated(6 * MIB + 12345);
  const split = 4 * MIB + 777;
  const path = folder.file("partial", bytes.subarray(0, split));

  const writer = await ImageWriter.create(path, { resume: true });
  assert.equal(writer.size, split, "the resumed bytes count");
  await writer.write(bytes.subarray(split));
  const digest = await writer.close();

  assert.deepEqual(digest, {
    size: bytes.length,
    md5: createHash("md5").update(bytes).digest("hex"),
  });
  assert.deepEqual(Deno.readFileSync(path), bytes);
});

Deno.test("ImageWriter with resume and no file starts from zero", async () => {
  await using folder = await tempHome();
  const path = join(folder.path, "fresh");
  const writer = await ImageWriter.create(path, { resume: true });
  assert.equal(writer.size, 0);
  await writer.write(new TextEncoder().encode("hello\n"));
  assert.deepEqual(await writer.close(), { size: 6, md5: "b1946ac92492d2347c6235b4d2611184" });
});

Deno.test("ImageWriter without resume truncates an existing file", async () => {
  await using folder = await tempHome();
  const path = folder.file("old", "old content that is longer");
  const writer = await ImageWriter.create(path);
  await writer.write(new TextEncoder().encode("hello\n"));
  assert.equal((await writer.close()).md5, "b1946ac92492d2347c6235b4d2611184");
  assert.equal(Deno.readTextFileSync(path), "hello\n");
});

Deno.test("a new image file is mode 0644 under the umask", async () => {
  await using folder = await tempHome();
  const target = join(folder.path, "copy");
  await copyAndHash(folder.file("source", "x"), target);
  const expected = 0o644 & ~Deno.umask();
  assert.equal(Deno.statSync(target).mode! & 0o777, expected);
});

Deno.test("abandon closes the file and keeps what was written", async () => {
  await using folder = await tempHome();
  const path = join(folder.path, "abandoned");
  const writer = await ImageWriter.create(path);
  await writer.write(generated(5 * MIB + 100));
  writer.abandon();
  writer.abandon(); // twice is harmless
  assert.equal(Deno.statSync(path).size, 5 * MIB, "the full blocks were written, the rest dropped");
});

Deno.test("progress reports rise to the file size", async () => {
  await using folder = await tempHome();
  const bytes = generated(9 * MIB);
  const source = folder.file("source", bytes);
  for (
    const run of [
      (report: (done: number) => void) => hashFile(source, { onProgress: report }),
      (report: (done: number) => void) =>
        copyAndHash(source, join(folder.path, "c"), { onProgress: report }),
    ]
  ) {
    const seen: number[] = [];
    await run((done) => seen.push(done));
    assert.ok(seen.length >= 3, `several reports, got ${seen.length}`);
    assert.deepEqual(seen, [...seen].sort((a, b) => a - b), "never decreasing");
    assert.equal(seen.at(-1), bytes.length);
  }
});

Deno.test("hashing or copying a missing file fails with NotFound", async () => {
  await using folder = await tempHome();
  const missing = join(folder.path, "missing");
  await assert.rejects(hashFile(missing), Deno.errors.NotFound);
  await assert.rejects(copyAndHash(missing, join(folder.path, "target")), Deno.errors.NotFound);
});

Deno.test({
  name: "a full disk fails the write with ENOSPC and the writer can still be abandoned",
  ignore: !canMount(),
  async fn() {
    await using folder = await tempHome();
    const small = join(folder.path, "small");
    using _tmpfs = mountTmpfs(small, "1m");
    const writer = await ImageWriter.create(join(small, "image"));
    await assert.rejects(
      async () => {
        await writer.write(generated(4 * MIB));
        await writer.write(generated(4 * MIB));
        await writer.close();
      },
      /No space left on device/,
    );
    writer.abandon();
  },
});

Deno.test("an image larger than every buffer in flight copies and hashes right", async () => {
  // 24 MiB + 5: the worker takes over after 4 MiB and all its buffers go round several times.
  await using folder = await tempHome();
  const bytes = generated(24 * MIB + 5, 0x1234567);
  const source = folder.file("large.sif", bytes);
  const expected = { size: bytes.length, md5: createHash("md5").update(bytes).digest("hex") };
  const copy = join(folder.path, "copy.sif");
  assert.deepEqual(await copyAndHash(source, copy), expected);
  assert.deepEqual(await hashFile(copy), expected, "the copy holds the same bytes");
});

Deno.test("an aborted signal stops hashing and copying with InterruptedError", async () => {
  await using folder = await tempHome();
  const source = folder.file("large.sif", generated(24 * MIB, 3));
  for (const pass of ["hash", "copy"] as const) {
    const controller = new AbortController();
    const seen: number[] = [];
    const options = {
      signal: controller.signal,
      // Ctrl-C arrives once a few MiB have gone by.
      onProgress: (done: number) => {
        seen.push(done);
        if (done >= 6 * MIB) controller.abort();
      },
    };
    const target = join(folder.path, `${pass}-target`);
    await assert.rejects(
      pass === "hash" ? hashFile(source, options) : copyAndHash(source, target, options),
      InterruptedError,
    );
    assert.ok(seen.at(-1)! < 24 * MIB, `${pass} stopped early, at ${seen.at(-1)}`);
  }
});

Deno.test("with sha256, a resumed writer and a copy give the SHA-256 too, in the same pass", async () => {
  await using folder = await tempHome();
  const bytes = generated(10 * MIB + 123);
  const expected = createHash("sha256").update(bytes).digest("hex");
  const path = join(folder.path, "part");
  const split = 6 * MIB + 7;
  Deno.writeFileSync(path, bytes.subarray(0, split));
  const writer = await ImageWriter.create(path, { resume: true, sha256: true });
  await writer.write(bytes.subarray(split));
  const digest = await writer.close();
  assert.deepEqual(digest, {
    size: bytes.byteLength,
    md5: createHash("md5").update(bytes).digest("hex"),
    sha256: expected,
  });
  const copied = await copyAndHash(path, join(folder.path, "copy"), { sha256: true });
  assert.equal(copied.sha256, expected);
  const plain = await copyAndHash(path, join(folder.path, "plain"));
  assert.equal(plain.sha256, undefined, "MD5-only passes compute no SHA-256");
});
