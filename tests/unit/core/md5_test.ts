/**
 * Our WebAssembly MD5 against RFC 1321's test suite and against node:crypto (an independent
 * implementation) for every length around the padding edges, uneven updates, and an input long
 * enough that its length in bits needs the high 32-bit word.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { HEADER_BYTES, Md5, md5Memory } from "../../../src/core/md5.ts";

const encode = (text: string) => new TextEncoder().encode(text);
const reference = (...parts: Uint8Array[]) => {
  const hash = createHash("md5");
  for (const part of parts) hash.update(part);
  return hash.digest("hex");
};

/** Deterministic pseudo-random bytes (xorshift32). */
function generated(size: number, seed = 0x9e3779b9): Uint8Array {
  const bytes = new Uint8Array(size);
  let state = seed;
  for (let i = 0; i < size; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    bytes[i] = state & 0xff;
  }
  return bytes;
}

Deno.test("the RFC 1321 test suite", () => {
  const suite: [string, string][] = [
    ["", "d41d8cd98f00b204e9800998ecf8427e"],
    ["a", "0cc175b9c0f1b6a831c399e269772661"],
    ["abc", "900150983cd24fb0d6963f7d28e17f72"],
    ["message digest", "f96b697d7cb7938d525a2f31aaf161d0"],
    ["abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"],
    [
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
      "d174ab98d277d9f5a5611c2c9f419d9f",
    ],
    ["1234567890".repeat(8), "57edf4a22be3c955ac49da2e2107b67a"],
  ];
  for (const [text, md5] of suite) {
    assert.equal(new Md5().update(encode(text)).digest(), md5, JSON.stringify(text));
  }
});

Deno.test("every length from 0 to 300 bytes matches node:crypto", () => {
  const bytes = generated(300);
  for (let length = 0; length <= 300; length++) {
    const part = bytes.subarray(0, length);
    assert.equal(new Md5().update(part).digest(), reference(part), `${length} bytes`);
  }
});

Deno.test("updates of any size add up to the hash of the whole", () => {
  // Over 64 KiB (the chunk the module copies in at a time) and not a multiple of 64.
  const bytes = generated(3 * 65536 + 12345, 7);
  const whole = reference(bytes);
  for (const sizes of [[1], [63, 1, 65], [64], [65535, 2], [100_000], [3 * 65536 + 12345]]) {
    const hash = new Md5();
    for (let offset = 0, i = 0; offset < bytes.length; i++) {
      const end = Math.min(bytes.length, offset + sizes[i % sizes.length]);
      hash.update(bytes.subarray(offset, end));
      offset = end;
    }
    assert.equal(hash.digest(), whole, `pieces of ${sizes.join(", ")}`);
  }
  assert.equal(new Md5().update(new Uint8Array(0)).update(bytes).digest(), whole);
});

Deno.test("two hashes at once do not share state", () => {
  const [one, two] = [new Md5(), new Md5()];
  one.update(encode("abc"));
  two.update(encode("message "));
  two.update(encode("digest"));
  assert.equal(one.digest(), "900150983cd24fb0d6963f7d28e17f72");
  assert.equal(two.digest(), "f96b697d7cb7938d525a2f31aaf161d0");
});

Deno.test("an input over 512 MiB (its bit length has a high word) matches node:crypto", () => {
  const block = generated(1024 * 1024, 11);
  const count = 513;
  const ours = new Md5();
  const theirs = createHash("md5");
  for (let i = 0; i < count; i++) {
    block[0] = i & 0xff; // every MiB differs from the one before
    ours.update(block);
    theirs.update(block);
  }
  ours.update(block.subarray(0, 3));
  theirs.update(block.subarray(0, 3));
  assert.equal(ours.digest(), theirs.digest("hex"));
});

Deno.test("a hash handed off carries on where it stood, over bytes in its memory", () => {
  const bytes = generated(70_000, 5);
  for (const cut of [0, 63, 64, 65, 65536, 69_999]) {
    const memory = md5Memory(bytes.length);
    new Uint8Array(memory.buffer).set(bytes, HEADER_BYTES);
    const first = new Md5(memory).updateAt(HEADER_BYTES, cut);
    // As a worker would receive it: the memory is shared, the counters are copied.
    const carried = Md5.carryOn(structuredClone(first.handoff()));
    carried.updateAt(HEADER_BYTES + cut, bytes.length - cut);
    assert.equal(carried.digest(), reference(bytes), `cut at ${cut}`);
  }
});

Deno.test("bytes hashed where they lie, in uneven pieces, give the hash of the whole", () => {
  const bytes = generated(200_000, 9);
  const memory = md5Memory(bytes.length);
  new Uint8Array(memory.buffer).set(bytes, HEADER_BYTES);
  const hash = new Md5(memory);
  for (let offset = 0, size = 1; offset < bytes.length; size = size * 3 + 1) {
    const length = Math.min(size, bytes.length - offset);
    hash.updateAt(HEADER_BYTES + offset, length);
    offset += length;
  }
  assert.equal(hash.digest(), reference(bytes));
});
