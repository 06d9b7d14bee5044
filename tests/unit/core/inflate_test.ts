/** zlib decompression with a hard output cap: bombs and corrupt streams are one-line errors. */
import assert from "node:assert/strict";
import { deflateSync } from "node:zlib";
import { InvalidImageError } from "../../../src/errors.ts";
import { inflate } from "../../../src/core/inflate.ts";

Deno.test("a block that fits its cap decompresses to its bytes", async () => {
  const text = new TextEncoder().encode("labels.json ".repeat(500));
  assert.deepEqual(await inflate(new Uint8Array(deflateSync(text)), text.length, "a block"), text);
});

Deno.test("a decompression bomb stops at its cap with a one-line error", async () => {
  const bomb = new Uint8Array(deflateSync(new Uint8Array(64 * 1024 * 1024)));
  assert.ok(bomb.length < 100_000, "a small input");
  await assert.rejects(
    () => inflate(bomb, 8192, "a metadata block"),
    (error) =>
      error instanceof InvalidImageError &&
      error.message === "a metadata block expands past 8192 bytes (damaged or crafted)",
  );
});

Deno.test("a corrupt stream is an InvalidImageError, not a TypeError", async () => {
  const stream = new Uint8Array(deflateSync(new TextEncoder().encode("hello world")));
  stream[4] ^= 0xff;
  await assert.rejects(
    () => inflate(new Uint8Array([...stream, 1, 2, 3]), 100, "a block"),
    (error) => error instanceof InvalidImageError && /not a valid zlib stream/.test(error.message),
  );
  await assert.rejects(
    () => inflate(new Uint8Array([0x78, 0xda, 0xff, 0xff]), 100, "a block"),
    InvalidImageError,
  );
});
