/**
 * Our zlib decompression against node:zlib's compression: every level, strategy and window, text
 * and random bytes, stored, fixed and dynamic blocks; bombs, corrupt streams and wrong checksums
 * are one-line InvalidImageErrors.
 */
import assert from "node:assert/strict";
import { constants, deflateSync } from "node:zlib";
import { InvalidImageError } from "../../../src/errors.ts";
import { inflate } from "../../../src/core/inflate.ts";

function random(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let state = seed;
  for (let i = 0; i < length; i++) {
    state = (state * 1664525 + 1013904223) >>> 0;
    bytes[i] = state >>> 24;
  }
  return bytes;
}

function compress(input: Uint8Array, options: Parameters<typeof deflateSync>[1] = {}): Uint8Array {
  return new Uint8Array(deflateSync(input, options));
}

Deno.test("what node:zlib compresses, inflate gives back, at every level, strategy and window", () => {
  const text = new TextEncoder().encode(
    Array.from({ length: 3000 }, (_, i) => `export VAR_${i % 97}="value ${i * 7}"\n`).join(""),
  );
  const inputs = [
    new Uint8Array(),
    new Uint8Array([42]),
    text,
    random(70_000, 1),
    new Uint8Array(200_000),
    Uint8Array.from({ length: 100_000 }, (_, i) => (i * i) % 7),
  ];
  const strategies = [
    constants.Z_DEFAULT_STRATEGY,
    constants.Z_FILTERED,
    constants.Z_HUFFMAN_ONLY,
    constants.Z_RLE,
    constants.Z_FIXED,
  ];
  let checked = 0;
  for (const input of inputs) {
    for (let level = 0; level <= 9; level += 3) {
      for (const strategy of strategies) {
        for (const windowBits of [9, 15]) {
          const compressed = compress(input, { level, strategy, windowBits });
          const what = `${input.length} bytes, level ${level}, strategy ${strategy}`;
          assert.deepEqual(inflate(compressed, input.length, what), input, what);
          checked++;
        }
      }
    }
  }
  assert.equal(checked, 240);
});

Deno.test("a decompression bomb stops at its cap with a one-line error", () => {
  const bomb = compress(new Uint8Array(64 * 1024 * 1024));
  assert.ok(bomb.length < 100_000, "a small input");
  assert.throws(
    () => inflate(bomb, 8192, "a metadata block"),
    (error) =>
      error instanceof InvalidImageError &&
      error.message === "a metadata block expands past 8192 bytes (damaged or crafted)",
  );
  const exact = compress(new Uint8Array(8192).fill(1));
  assert.equal(inflate(exact, 8192, "exactly the cap").length, 8192);
  assert.throws(() => inflate(exact, 8191, "one byte over"), /expands past 8191 bytes/);
});

Deno.test("corrupt streams, wrong checksums and bad headers are InvalidImageErrors", () => {
  const good = compress(new TextEncoder().encode("hello world, hello world, hello world"));
  const cases: [string, Uint8Array][] = [
    ["a wrong checksum", Uint8Array.from(good, (b, i) => i === good.length - 1 ? b ^ 1 : b)],
    ["no checksum", good.subarray(0, good.length - 4)],
    ["cut short", good.subarray(0, 8)],
    ["a gzip header", Uint8Array.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3])],
    ["a bad header check", Uint8Array.from(good, (b, i) => i === 1 ? b ^ 1 : b)],
    ["a reserved block type", Uint8Array.from([0x78, 0x9c, 0x07, 0, 0, 0, 0, 0])],
    ["a bad stored length", Uint8Array.from([0x78, 0x01, 0x01, 5, 0, 5, 0, 1, 2, 3, 4, 5, 0, 0])],
    ["empty", new Uint8Array()],
  ];
  for (const [what, bytes] of cases) {
    assert.throws(
      () => inflate(bytes, 1000, "a block"),
      (error) =>
        error instanceof InvalidImageError &&
        /a block is not a valid zlib stream/.test(error.message),
      what,
    );
  }
  // Flipped bits anywhere: a typed error or, rarely, other bytes with a matching checksum.
  for (let i = 0; i < 2000; i++) {
    const bytes = good.slice();
    bytes[i % bytes.length] ^= 1 << (i % 8);
    try {
      inflate(bytes, 1000, "a block");
    } catch (error) {
      assert.ok(error instanceof InvalidImageError, `flip ${i}: ${error}`);
    }
  }
});
