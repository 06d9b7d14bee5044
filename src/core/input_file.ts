/**
 * Reading a small input file (the secrets file, a `--metadata` file): only a regular file, only
 * up to a size cap, checked before a byte is read, so a FIFO never blocks, a device such as
 * /dev/zero never fills memory, and a huge file never reaches the JSON parser.
 */
import { ConfigError, reason, UsageError } from "../errors.ts";

/** What is read, for messages, and how much at most. */
export interface InputFileOptions {
  /** What the file is, e.g. "secrets file". */
  what: string;
  /** The most bytes read; a larger file is refused. */
  limit: number;
}

/**
 * The text of a regular file of at most `limit` bytes, or null when the file does not exist.
 * Throws UsageError for a FIFO, device, folder or a file past the cap, ConfigError when it
 * cannot be read.
 */
export function readInputFile(path: string, options: InputFileOptions): string | null {
  const { what, limit } = options;
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw new ConfigError(`cannot read ${what} ${path} (${reason(error)})`, { cause: error });
  }
  // Stat first: opening a FIFO would wait for a writer.
  checkInfo(path, info, options);
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(path, { read: true });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw new ConfigError(`cannot read ${what} ${path} (${reason(error)})`, { cause: error });
  }
  try {
    // The file opened may not be the one looked at: check it again, as opened.
    checkInfo(path, file.statSync(), options);
    const bytes = new Uint8Array(limit + 1);
    let filled = 0;
    while (filled < bytes.byteLength) {
      const read = file.readSync(bytes.subarray(filled));
      if (read === null) break;
      filled += read;
    }
    if (filled > limit) throw tooLarge(path, options);
    return new TextDecoder().decode(bytes.subarray(0, filled));
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new ConfigError(`cannot read ${what} ${path} (${reason(error)})`, { cause: error });
  } finally {
    file.close();
  }
}

function checkInfo(path: string, info: Deno.FileInfo, options: InputFileOptions): void {
  if (!info.isFile) {
    throw new UsageError(`${options.what} ${path} is ${kindOf(info)}, not a regular file`, {
      hint: `point it at a regular file of at most ${units(options.limit)}`,
    });
  }
  if (info.size > options.limit) throw tooLarge(path, options);
}

function tooLarge(path: string, options: InputFileOptions): UsageError {
  return new UsageError(
    `${options.what} ${path} is larger than ${units(options.limit)}, the most sregistry reads`,
  );
}

function kindOf(info: Deno.FileInfo): string {
  if (info.isDirectory) return "a folder";
  if (info.isFifo) return "a FIFO";
  if (info.isCharDevice) return "a character device";
  if (info.isBlockDevice) return "a block device";
  if (info.isSocket) return "a socket";
  return "not a regular file";
}

function units(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${bytes / 1024 / 1024} MiB` : `${bytes / 1024} KiB`;
}
