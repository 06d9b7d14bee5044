/**
 * The MD5 worker: carries on a hash that core/ingest.ts began, on a second core, over blocks
 * that sit in the memory the two threads share: it is told where each batch lies, hashes it in
 * place and says which blocks are free again, so copying, downloading and hashing overlap.
 */
/// <reference lib="deno.worker" />
import { Md5, type Md5Handoff } from "./md5.ts";

/** A block of image bytes in the shared memory. */
export interface HashBlock {
  offset: number;
  length: number;
}

/** What ingest.ts posts: the hash to carry on, then batches of blocks, then "digest". */
export type HashMessage = { carryOn: Md5Handoff } | { blocks: HashBlock[] } | "digest";

/** What the worker answers: the offsets of a batch's blocks, hashed, or the digest. */
export type HashReply = { offsets: number[] } | { md5: string };

let hash: Md5 | null = null;

function reply(message: HashReply): void {
  self.postMessage(message);
}

self.onmessage = (event: MessageEvent<HashMessage>) => {
  const message = event.data;
  if (message === "digest") {
    reply({ md5: hash!.digest() });
  } else if ("carryOn" in message) {
    hash = Md5.carryOn(message.carryOn);
  } else {
    for (const block of message.blocks) hash!.updateAt(block.offset, block.length);
    reply({ offsets: message.blocks.map((block) => block.offset) });
  }
};
