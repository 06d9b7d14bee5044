/**
 * A worker of core/file_hashes.ts: reads whole files and hashes them with core/md5.ts, one file
 * per request, in blocks read straight into the hash's memory (hashed where they lie), so its
 * memory stays one block however large the file.
 */
/// <reference lib="deno.worker" />
import { HEADER_BYTES, Md5, md5Memory } from "./md5.ts";

const BLOCK_SIZE = 256 * 1024;
// Progress is told every this many bytes: often enough for a bar, rarely enough to cost nothing.
const PROGRESS_EVERY = 16 * 1024 * 1024;

/** A file to hash. */
export interface HashRequest {
  /** Its index in the caller's list. */
  index: number;
  /** The file. */
  path: string;
}

/** Bytes hashed since the last report, the result of a file, or why it could not be read. */
export type HashAnswer =
  | { index: number; progress: number }
  | { index: number; md5: string; size: number; dev: number; ino: number }
  | { index: number; failure: "missing" | "unreadable"; reason: string };

const memory = md5Memory(BLOCK_SIZE);
const block = new Uint8Array(memory.buffer, HEADER_BYTES, BLOCK_SIZE);

function answer(message: HashAnswer): void {
  self.postMessage(message);
}

self.onmessage = (event: MessageEvent<HashRequest>) => {
  const { index, path } = event.data;
  try {
    using file = Deno.openSync(path, { read: true });
    const info = file.statSync();
    const hash = new Md5(memory);
    let size = 0;
    let told = 0;
    for (let read = file.readSync(block); read !== null; read = file.readSync(block)) {
      hash.updateAt(HEADER_BYTES, read);
      size += read;
      if (size - told >= PROGRESS_EVERY) {
        answer({ index, progress: size - told });
        told = size;
      }
    }
    if (size > told) answer({ index, progress: size - told });
    answer({ index, md5: hash.digest(), size, dev: info.dev, ino: info.ino ?? 0 });
  } catch (error) {
    const failure = error instanceof Deno.errors.NotFound ? "missing" : "unreadable";
    answer({ index, failure, reason: error instanceof Error ? error.message : String(error) });
  }
};
