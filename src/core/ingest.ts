/**
 * Writing an image file while hashing it: every byte is read once, hashed with MD5 and written
 * to a temporary file. Small chunks are coalesced into large blocks because node:crypto hashes
 * 1-4 MiB blocks about twice as fast as 64 KiB ones.
 */
import { createHash, type Hash } from "node:crypto";

const BLOCK_SIZE = 4 * 1024 * 1024;

/** Size and MD5 of a fully written or read image. */
export interface Digest {
  /** Bytes written. */
  size: number;
  /** Lower-case hex MD5 of the content. */
  md5: string;
}

/** Called with the running byte count while an image is copied or downloaded. */
export type ProgressCallback = (done: number) => void;

/**
 * A file being written chunk by chunk with a running MD5. Writes overlap with hashing: a block
 * is hashed while the previous block's write is still in flight.
 */
export class ImageWriter {
  readonly #file: Deno.FsFile;
  readonly #hash: Hash;
  #block = new Uint8Array(BLOCK_SIZE);
  #filled = 0;
  #size: number;
  #pending: Promise<void> = Promise.resolve();

  private constructor(file: Deno.FsFile, hash: Hash, size: number) {
    this.#file = file;
    this.#hash = hash;
    this.#size = size;
  }

  /**
   * Creates `path` (mode 0644 under the umask). With `resume`, an existing file is kept: its
   * bytes are hashed first and new chunks are appended.
   */
  static async create(path: string, options: { resume?: boolean } = {}): Promise<ImageWriter> {
    const hash = createHash("md5");
    let size = 0;
    if (options.resume) {
      size = await hashInto(path, hash).catch((error) => {
        if (error instanceof Deno.errors.NotFound) return 0;
        throw error;
      });
    }
    const file = await Deno.open(path, {
      write: true,
      create: true,
      truncate: !options.resume,
      append: options.resume,
      mode: 0o644,
    });
    return new ImageWriter(file, hash, size);
  }

  /** Bytes accepted so far, including resumed ones. */
  get size(): number {
    return this.#size;
  }

  /** Accepts a chunk; it is hashed and written in 4 MiB blocks. */
  async write(chunk: Uint8Array): Promise<void> {
    this.#size += chunk.byteLength;
    let offset = 0;
    while (offset < chunk.byteLength) {
      const take = Math.min(BLOCK_SIZE - this.#filled, chunk.byteLength - offset);
      this.#block.set(chunk.subarray(offset, offset + take), this.#filled);
      this.#filled += take;
      offset += take;
      if (this.#filled === BLOCK_SIZE) await this.#flush();
    }
  }

  /** Writes what is buffered, closes the file and returns its size and MD5. */
  async close(): Promise<Digest> {
    try {
      await this.#flush();
      await this.#pending;
    } finally {
      this.#file.close();
    }
    return { size: this.#size, md5: this.#hash.digest("hex") };
  }

  /** Closes the file without finishing; the caller decides whether to keep or delete it. */
  async abandon(): Promise<void> {
    await this.#pending.catch(() => {});
    try {
      this.#file.close();
    } catch {
      // already closed
    }
  }

  async #flush(): Promise<void> {
    if (this.#filled === 0) return;
    const block = this.#block.subarray(0, this.#filled);
    await this.#pending;
    this.#pending = writeAll(this.#file, block);
    // Awaited by the next flush or by close(); until then a failure (a full disk) must not
    // count as an unhandled rejection, which would end the process.
    this.#pending.catch(() => {});
    this.#hash.update(block);
    // The block in flight is owned by the pending write; fill a fresh one meanwhile.
    this.#block = new Uint8Array(BLOCK_SIZE);
    this.#filled = 0;
  }
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.byteLength) {
    written += await file.write(bytes.subarray(written));
  }
}

async function hashInto(path: string, hash: Hash, onProgress?: ProgressCallback): Promise<number> {
  using file = await Deno.open(path, { read: true });
  const buffer = new Uint8Array(BLOCK_SIZE);
  let size = 0;
  while (true) {
    let filled = 0;
    while (filled < BLOCK_SIZE) {
      const read = await file.read(buffer.subarray(filled));
      if (read === null) break;
      filled += read;
    }
    if (filled === 0) break;
    hash.update(buffer.subarray(0, filled));
    size += filled;
    onProgress?.(size);
    if (filled < BLOCK_SIZE) break;
  }
  return size;
}

/** Reads a file once and returns its size and MD5. */
export async function hashFile(path: string, onProgress?: ProgressCallback): Promise<Digest> {
  const hash = createHash("md5");
  const size = await hashInto(path, hash, onProgress);
  return { size, md5: hash.digest("hex") };
}

/** Copies `source` to a new file at `target` while hashing, reading the source once. */
export async function copyAndHash(
  source: string,
  target: string,
  onProgress?: ProgressCallback,
): Promise<Digest> {
  const writer = await ImageWriter.create(target);
  try {
    using file = await Deno.open(source, { read: true });
    const buffer = new Uint8Array(BLOCK_SIZE);
    while (true) {
      const read = await file.read(buffer);
      if (read === null) break;
      // write() copies into its own block, so the read buffer can be reused at once.
      await writer.write(buffer.subarray(0, read));
      onProgress?.(writer.size);
    }
    return await writer.close();
  } catch (error) {
    await writer.abandon();
    throw error;
  }
}
