/**
 * An image file opened for reading its metadata: positioned reads of a bounded length, never the
 * whole file, under a budget of bytes per opening, so reading metadata costs the same whatever the
 * size of the image and a crafted file cannot make a reader loop over it.
 */
import { ConfigError, InvalidImageError, NotFoundError, reason, UsageError } from "../errors.ts";

/** Bytes one opening may read in all (metadata, a few small files, a little fuzz slack). */
const READ_BUDGET = 256 * 1024 * 1024;
/** The largest single read. */
export const MAX_READ = 64 * 1024 * 1024;

/** A regular file open for bounded positioned reads; dispose it to close. */
export class ImageFile implements Disposable {
  /** The path it was opened with. */
  readonly path: string;
  /** How messages name it: its path, or what the user knows it by. */
  readonly name: string;
  /** Its size in bytes when opened. */
  readonly size: number;
  readonly #file: Deno.FsFile;
  #budget = READ_BUDGET;

  private constructor(path: string, name: string, file: Deno.FsFile, size: number) {
    this.path = path;
    this.name = name;
    this.#file = file;
    this.size = size;
  }

  /**
   * Opens a regular file; a missing file, a folder, a FIFO or device, or an unreadable file is a
   * one-line error. It is looked at before it is opened (opening a FIFO would wait for a writer)
   * and again once open. Messages call it `name` (a temporary file's user-facing name), by
   * default its path.
   */
  static open(path: string, name = path): ImageFile {
    try {
      checkRegular(Deno.statSync(path), name);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) throw new NotFoundError(`${name} does not exist`);
      if (error instanceof UsageError) throw error;
      throw new ConfigError(`cannot read ${name}: ${reason(error)}`);
    }
    let file: Deno.FsFile;
    try {
      file = Deno.openSync(path, { read: true });
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) throw new NotFoundError(`${name} does not exist`);
      throw new ConfigError(`cannot read ${name}: ${reason(error)}`);
    }
    try {
      const info = file.statSync();
      checkRegular(info, name);
      return new ImageFile(path, name, file, info.size);
    } catch (error) {
      file.close();
      throw error;
    }
  }

  /**
   * Exactly `length` bytes at `offset`; a range past the end of the file is an InvalidImageError
   * naming `what` was being read.
   */
  read(offset: number, length: number, what: string): Uint8Array {
    if (
      !Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 ||
      offset + length > this.size
    ) {
      throw new InvalidImageError(
        `${this.name} is truncated or damaged: ${what} lies past the end of the file`,
      );
    }
    if (length > MAX_READ) {
      throw new InvalidImageError(`${this.name}: ${what} is too large to read (${length} bytes)`);
    }
    this.#budget -= length;
    if (this.#budget < 0) {
      throw new InvalidImageError(`${this.name}: reading its metadata needs too many reads`);
    }
    const bytes = new Uint8Array(length);
    this.#file.seekSync(offset, Deno.SeekMode.Start);
    let filled = 0;
    while (filled < length) {
      const read = this.#file.readSync(bytes.subarray(filled));
      if (read === null) {
        throw new InvalidImageError(`${this.name} changed while it was read: ${what} is missing`);
      }
      filled += read;
    }
    return bytes;
  }

  /** Bytes read so far. */
  get bytesRead(): number {
    return READ_BUDGET - this.#budget;
  }

  /** At most `length` bytes at `offset`: fewer near the end of the file. */
  readUpTo(offset: number, length: number, what: string): Uint8Array {
    return this.read(offset, Math.max(0, Math.min(length, this.size - offset)), what);
  }

  /** Closes the file. */
  [Symbol.dispose](): void {
    this.#file.close();
  }
}

function checkRegular(info: Deno.FileInfo, name: string): void {
  if (info.isDirectory) {
    throw new UsageError(`${name} is a folder, not an image file`, {
      hint: "sregistry reads image files (SIF, Singularity 2.x .simg, squashfs)",
    });
  }
  if (!info.isFile) {
    const kind = info.isFifo
      ? "a FIFO"
      : info.isCharDevice || info.isBlockDevice
      ? "a device"
      : info.isSocket
      ? "a socket"
      : "not a regular file";
    throw new UsageError(`${name} is ${kind}, not an image file`);
  }
}
