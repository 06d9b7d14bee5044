/**
 * Hashing many files at once, on every core: a pool of workers (core/hash_files_worker.ts), each
 * reading and hashing one whole file at a time, the largest files first so the cores finish
 * together. Memory stays one block per worker, whatever the files' sizes.
 */
import type { HashAnswer, HashRequest } from "./hash_files_worker.ts";

/** A file's size and MD5, with the inode that was read; or why it could not be read. */
export type FileHash =
  | { md5: string; size: number; dev: number; ino: number }
  | { failure: "missing" | "unreadable"; reason: string };

/** How to hash. */
export interface HashFilesOptions {
  /** Workers to start (at most one per file); the machine's cores by default. */
  workers?: number;
  /** Called with the bytes hashed so far, over all files. */
  onProgress?: (done: number) => void;
}

/** Hashes each file once; the results are in the order of `files`. */
export async function hashFiles(
  files: { path: string; size: number }[],
  options: HashFilesOptions = {},
): Promise<FileHash[]> {
  const results: FileHash[] = new Array(files.length);
  const queue = files.map((file, index) => ({ ...file, index }))
    .sort((a, b) => b.size - a.size);
  const count = Math.min(
    queue.length,
    Math.max(1, options.workers ?? navigator.hardwareConcurrency),
  );
  let done = 0;
  const workers: Worker[] = [];
  try {
    await Promise.all(Array.from({ length: count }, () => {
      const worker = new Worker(new URL("./hash_files_worker.ts", import.meta.url), {
        type: "module",
      });
      workers.push(worker);
      return new Promise<void>((resolve, reject) => {
        const next = () => {
          const file = queue.shift();
          if (file === undefined) return resolve();
          worker.postMessage({ index: file.index, path: file.path } satisfies HashRequest);
        };
        worker.onmessage = (event: MessageEvent<HashAnswer>) => {
          const message = event.data;
          if ("progress" in message) {
            done += message.progress;
            options.onProgress?.(done);
            return;
          }
          const { index: _, ...result } = message;
          results[message.index] = result;
          next();
        };
        worker.onerror = (event) => {
          event.preventDefault();
          reject(new Error(`a hashing worker failed: ${event.message}`));
        };
        next();
      });
    }));
  } finally {
    for (const worker of workers) worker.terminate();
  }
  return results;
}
