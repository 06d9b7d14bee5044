/**
 * Writing an image file while hashing it: every byte is read once, written to a temporary file
 * and hashed with MD5, never copied in between. Bytes move in 128 KiB blocks that live in the
 * hash's shared WebAssembly memory, small enough that each is still in the core's cache when it
 * is written and hashed: with 4 MiB blocks reading and writing 1 GiB took twice as long here.
 * Once an image has passed 4 MiB, a worker carries the hash on over the following blocks on
 * another core while the next ones are read and written, and gives each block back; smaller
 * images are hashed in this thread (a worker costs more than it saves). An OCI pull also asks
 * for SHA-256: node:crypto's (SHA-NI) hashes each block in this thread, about 0.6 s per GiB here
 * against 2.1 s for `sha256sum`, while the worker does MD5; passes that do not ask never load it.
 */
import type { HashBlock, HashMessage, HashReply } from "./hash_worker.ts";
import { HEADER_BYTES, Md5, md5Memory } from "./md5.ts";
import { InterruptedError } from "../errors.ts";

const BLOCK_SIZE = 128 * 1024;
// Blocks per message to the worker: a message per block cost the worker a wake-up each, and
// a third of its time went to waiting and waking instead of hashing.
const BATCH = 16;
// Blocks in flight to the worker; bounds memory at BUFFERS x BLOCK_SIZE.
const BUFFERS = 64;
// Bytes hashed in this thread before the worker takes over.
const WORKER_AFTER = 4 * 1024 * 1024;

/** Size and MD5 of a fully written or read image. */
export interface Digest {
  /** Bytes written. */
  size: number;
  /** Lower-case hex MD5 of the content. */
  md5: string;
  /** Lower-case hex SHA-256 of the content, when the pass was asked for it. */
  sha256?: string;
}

/** What a writer or a pass hashes besides MD5. */
export interface HashOptions {
  /** Also compute the SHA-256 (OCI digests), in the same pass. */
  sha256?: boolean;
}

// The part of node:crypto's Hash a pass uses.
interface Sha256 {
  update(bytes: Uint8Array): unknown;
  digest(encoding: "hex"): string;
}

async function sha256Hash(options: HashOptions): Promise<Sha256 | null> {
  if (!options.sha256) return null;
  const { createHash } = await import("node:crypto");
  return createHash("sha256");
}

/** Called with the running byte count while an image is copied or downloaded. */
export type ProgressCallback = (done: number) => void;

/** How a pass over a file reports progress and is stopped. */
export interface PassOptions {
  /** Called with the running byte count. */
  onProgress?: ProgressCallback;
  /** Aborting (Ctrl-C) ends the pass with an InterruptedError; the caller removes what it made. */
  signal?: AbortSignal;
}

/**
 * MD5 over blocks that live in one shared memory, hashed where they lie: in this thread until
 * the image proves large, then by a worker on another core. Owns the block buffers.
 */
class BlockHasher {
  readonly #memory = md5Memory(BUFFERS * BLOCK_SIZE);
  #hash: Md5 | null = new Md5(this.#memory); // this thread's, until handed to the worker
  #hashed = 0; // bytes hashed in this thread
  #worker: Worker | null = null;
  #free: Uint8Array[] = [];
  #allocated = 0;
  #waiting: ((buffer: Uint8Array) => void)[] = [];
  #batch: HashBlock[] = [];
  #digest: ((md5: string) => void) | null = null;
  #failure: Error | null = null;

  /** A buffer to fill; waits while every buffer is with the worker. */
  async buffer(): Promise<Uint8Array> {
    this.#check();
    const free = this.#free.pop();
    if (free) return free;
    if (this.#allocated < BUFFERS) {
      return this.#block(HEADER_BYTES + BLOCK_SIZE * this.#allocated++);
    }
    this.#postBatch(); // every buffer may be waiting in the batch
    return await new Promise((resolve) => this.#waiting.push(resolve));
  }

  /** Hashes the first `length` bytes of `block`, which the hasher owns from now on. */
  update(block: Uint8Array, length: number): void {
    this.#check();
    if (this.#worker === null && length === BLOCK_SIZE && this.#hashed >= WORKER_AFTER) {
      this.#startWorker();
    }
    if (this.#worker === null) {
      this.#hash!.updateAt(block.byteOffset, length);
      this.#hashed += length;
      this.#release(block);
      return;
    }
    this.#batch.push({ offset: block.byteOffset, length });
    if (this.#batch.length === BATCH) this.#postBatch();
  }

  /** The MD5 of everything hashed; ends the worker. */
  async digest(): Promise<string> {
    if (this.#worker === null) return this.#hash!.digest();
    const worker = this.#worker;
    try {
      return await new Promise<string>((resolve, reject) => {
        this.#digest = resolve;
        worker.onerror = (event) => {
          event.preventDefault();
          reject(new Error(`the hashing worker failed: ${event.message}`));
        };
        this.#postBatch();
        this.#post("digest");
      });
    } finally {
      this.close();
    }
  }

  /** Ends the worker without a digest. */
  close(): void {
    this.#worker?.terminate();
    this.#worker = null;
  }

  #startWorker(): void {
    const worker = new Worker(new URL("./hash_worker.ts", import.meta.url), { type: "module" });
    worker.onmessage = (event: MessageEvent<HashReply>) => {
      const reply = event.data;
      if ("md5" in reply) this.#digest?.(reply.md5);
      else for (const offset of reply.offsets) this.#release(this.#block(offset));
    };
    worker.onerror = (event) => {
      event.preventDefault();
      this.#failure = new Error(`the hashing worker failed: ${event.message}`);
    };
    this.#worker = worker;
    this.#post({ carryOn: this.#hash!.handoff() });
    this.#hash = null;
  }

  #postBatch(): void {
    if (this.#batch.length === 0) return;
    this.#post({ blocks: this.#batch });
    this.#batch = [];
  }

  #post(message: HashMessage): void {
    this.#worker!.postMessage(message);
  }

  #block(offset: number): Uint8Array {
    return new Uint8Array(this.#memory.buffer, offset, BLOCK_SIZE);
  }

  #release(buffer: Uint8Array): void {
    const waiter = this.#waiting.shift();
    if (waiter) waiter(buffer);
    else this.#free.push(buffer);
  }

  #check(): void {
    if (this.#failure) throw this.#failure;
  }
}

/** A file being written chunk by chunk with a running MD5. */
export class ImageWriter {
  readonly #file: Deno.FsFile;
  readonly #hasher: BlockHasher;
  readonly #sha256: Sha256 | null;
  #block: Uint8Array | null = null;
  #filled = 0;
  #size: number;

  private constructor(file: Deno.FsFile, hasher: BlockHasher, sha256: Sha256 | null, size: number) {
    this.#file = file;
    this.#hasher = hasher;
    this.#sha256 = sha256;
    this.#size = size;
  }

  /**
   * Creates `path` exclusively (mode 0644 under the umask), after unlinking whatever was there:
   * a planted symlink is removed, never followed. With `resume`, an existing regular file is
   * kept instead: its bytes are hashed first and new chunks are appended (anything else there
   * is replaced, and the writer starts empty). With `sha256`, SHA-256 is computed too.
   */
  static async create(
    path: string,
    options: { resume?: boolean } & HashOptions = {},
  ): Promise<ImageWriter> {
    const sha256 = await sha256Hash(options);
    const hasher = new BlockHasher();
    try {
      const existing = options.resume ? openRegularFile(path) : null;
      if (existing !== null) {
        try {
          const size = await hashInto(existing, hasher, {}, sha256);
          return new ImageWriter(existing, hasher, sha256, size);
        } catch (error) {
          existing.close();
          throw error;
        }
      }
      try {
        Deno.removeSync(path);
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }
      const file = await Deno.open(path, { write: true, createNew: true, mode: 0o644 });
      return new ImageWriter(file, hasher, sha256, 0);
    } catch (error) {
      hasher.close();
      throw error;
    }
  }

  /** Bytes accepted so far, including resumed ones. */
  get size(): number {
    return this.#size;
  }

  /** Accepts a chunk; it is written and hashed in blocks. */
  async write(chunk: Uint8Array): Promise<void> {
    this.#size += chunk.byteLength;
    let offset = 0;
    while (offset < chunk.byteLength) {
      this.#block ??= await this.#hasher.buffer();
      const take = Math.min(BLOCK_SIZE - this.#filled, chunk.byteLength - offset);
      this.#block.set(chunk.subarray(offset, offset + take), this.#filled);
      this.#filled += take;
      offset += take;
      if (this.#filled === BLOCK_SIZE) this.#flush();
    }
  }

  /** Copies all of `source` in, reading straight into the block buffers. */
  async copyFrom(source: Deno.FsFile, options: PassOptions = {}): Promise<void> {
    while (true) {
      this.#block ??= await this.#hasher.buffer();
      throwIfAborted(options.signal);
      const read = source.readSync(this.#block.subarray(this.#filled));
      if (read === null) return;
      this.#filled += read;
      this.#size += read;
      if (this.#filled === BLOCK_SIZE) this.#flush();
      options.onProgress?.(this.#size);
    }
  }

  /** Writes what is buffered, closes the file and returns its size and MD5. */
  async close(): Promise<Digest> {
    try {
      this.#flush();
      const digest: Digest = { size: this.#size, md5: await this.#hasher.digest() };
      if (this.#sha256) digest.sha256 = this.#sha256.digest("hex");
      return digest;
    } finally {
      this.#hasher.close();
      this.#file.close();
    }
  }

  /** Closes the file without finishing; the caller decides whether to keep or delete it. */
  abandon(): void {
    this.#hasher.close();
    try {
      this.#file.close();
    } catch {
      // already closed
    }
  }

  #flush(): void {
    if (this.#block === null || this.#filled === 0) return;
    const block = this.#block;
    const length = this.#filled;
    this.#block = null;
    this.#filled = 0;
    writeAll(this.#file, block.subarray(0, length));
    // Before the block goes to the MD5 worker, which owns it from then on.
    this.#sha256?.update(block.subarray(0, length));
    this.#hasher.update(block, length);
  }
}

// Reads and writes are synchronous: an async one costs a thread hop per 128 KiB block (and a
// write an extra copy), while the worker keeps hashing meanwhile.
function writeAll(file: Deno.FsFile, bytes: Uint8Array): void {
  let written = 0;
  while (written < bytes.byteLength) {
    written += file.writeSync(bytes.subarray(written));
  }
}

// The loops read synchronously, so a signal is seen whenever they wait for the hashing worker
// (every few MiB) and checked before each block.
function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new InterruptedError("interrupted");
}

// Opens an existing regular file to read and append, never through a symlink: the file opened
// must be the one lstat saw. Null when there is none, or something else is there (the caller
// then replaces it with a new file).
function openRegularFile(path: string): Deno.FsFile | null {
  let seen: Deno.FileInfo;
  try {
    seen = Deno.lstatSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
  if (!seen.isFile) return null;
  const file = Deno.openSync(path, { read: true, append: true });
  const opened = file.statSync();
  if (opened.ino !== seen.ino || opened.dev !== seen.dev) {
    file.close();
    return null;
  }
  return file;
}

// Reads an open file from its start in full blocks into the hasher (and the SHA-256, when
// given); returns its size.
async function hashInto(
  file: Deno.FsFile,
  hasher: BlockHasher,
  options: PassOptions = {},
  sha256: Sha256 | null = null,
): Promise<number> {
  let size = 0;
  while (true) {
    const block = await hasher.buffer();
    throwIfAborted(options.signal);
    let filled = 0;
    while (filled < BLOCK_SIZE) {
      const read = file.readSync(block.subarray(filled));
      if (read === null) break;
      filled += read;
    }
    size += filled;
    sha256?.update(block.subarray(0, filled));
    hasher.update(block, filled);
    if (filled > 0) options.onProgress?.(size);
    if (filled < BLOCK_SIZE) return size;
  }
}

/** Reads a file once and returns its size and MD5. */
export async function hashFile(path: string, options: PassOptions = {}): Promise<Digest> {
  const hasher = new BlockHasher();
  try {
    using file = await Deno.open(path, { read: true });
    const size = await hashInto(file, hasher, options);
    return { size, md5: await hasher.digest() };
  } finally {
    hasher.close();
  }
}

/** Copies `source` to a new file at `target` while hashing, reading the source once. */
export async function copyAndHash(
  source: string,
  target: string,
  options: PassOptions & HashOptions = {},
): Promise<Digest> {
  using file = await Deno.open(source, { read: true });
  const writer = await ImageWriter.create(target, { sha256: options.sha256 });
  try {
    await writer.copyFrom(file, options);
    return await writer.close();
  } catch (error) {
    writer.abandon();
    throw error;
  }
}
