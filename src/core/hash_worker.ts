/**
 * The MD5 worker: hashes blocks posted by core/ingest.ts on a second core and hands each
 * block's buffer back for reuse, so copying, downloading and hashing overlap.
 */
/// <reference lib="deno.worker" />
import { createHash } from "node:crypto";

const hash = createHash("md5");

self.onmessage = (event: MessageEvent<{ buffer: ArrayBuffer; length: number } | "digest">) => {
  if (event.data === "digest") {
    self.postMessage({ md5: hash.digest("hex") });
    return;
  }
  const { buffer, length } = event.data;
  hash.update(new Uint8Array(buffer, 0, length));
  self.postMessage({ buffer }, [buffer]);
};
