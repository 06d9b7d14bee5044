/**
 * The MD5 worker: carries on a hash that core/ingest.ts began, over the blocks it posts in
 * batches, on a second core, and hands the buffers back for reuse, so copying, downloading and
 * hashing overlap.
 */
/// <reference lib="deno.worker" />
import { Md5, type Md5Snapshot } from "./md5.ts";

/** What ingest.ts posts: where the hash stands, then batches of blocks, then "digest". */
export type HashMessage =
  | { resume: Md5Snapshot }
  | { blocks: { buffer: ArrayBuffer; length: number }[] }
  | "digest";

/** What the worker answers: a batch's buffers, hashed and free again, or the digest. */
export type HashReply = { buffers: ArrayBuffer[] } | { md5: string };

let hash = new Md5();

function reply(message: HashReply, transfer: Transferable[] = []): void {
  self.postMessage(message, transfer);
}

self.onmessage = (event: MessageEvent<HashMessage>) => {
  const message = event.data;
  if (message === "digest") {
    reply({ md5: hash.digest() });
  } else if ("resume" in message) {
    hash = Md5.resume(message.resume);
  } else {
    const buffers = message.blocks.map(({ buffer, length }) => {
      hash.update(new Uint8Array(buffer, 0, length));
      return buffer;
    });
    reply({ buffers }, buffers);
  }
};
