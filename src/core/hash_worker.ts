/**
 * The MD5 worker: carries on a hash that core/ingest.ts began, over the blocks it posts, on a
 * second core, and hands each block's buffer back for reuse, so copying, downloading and
 * hashing overlap.
 */
/// <reference lib="deno.worker" />
import { Md5, type Md5Snapshot } from "./md5.ts";

/** What ingest.ts posts: where the hash stands, then blocks, then "digest". */
export type HashMessage =
  | { resume: Md5Snapshot }
  | { buffer: ArrayBuffer; length: number }
  | "digest";

let hash = new Md5();

self.onmessage = (event: MessageEvent<HashMessage>) => {
  const message = event.data;
  if (message === "digest") {
    self.postMessage({ md5: hash.digest() });
  } else if ("resume" in message) {
    hash = Md5.resume(message.resume);
  } else {
    hash.update(new Uint8Array(message.buffer, 0, message.length));
    self.postMessage({ buffer: message.buffer }, [message.buffer]);
  }
};
