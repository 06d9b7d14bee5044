/**
 * Reading small files out of a squashfs 4.0 filesystem inside an image, without mounting it or
 * running unsquashfs: the superblock, metadata blocks, inodes, directories, data blocks and
 * fragments, zlib-compressed (what Apptainer and Singularity write). Every table position is
 * checked against the filesystem's length, every count and size against a cap, symbolic links
 * are followed inside the image only (40 at most: a loop is an error), and decompression is
 * capped per block and in total, so a crafted image ends in an InvalidImageError in bounded time
 * and memory.
 */
import { InvalidImageError, UnsupportedError } from "../errors.ts";
import type { ImageFile } from "./image_file.ts";
import { inflate } from "./inflate.ts";

const SUPERBLOCK_BYTES = 96;
const METADATA_BLOCK = 8192;
const NONE = 0xffffffff;
/** Decompressed bytes one filesystem may produce while its metadata is read. */
const INFLATE_BUDGET = 128 * 1024 * 1024;
/** The longest directory listing read (bytes of directory table). */
const MAX_LISTING = 4 * 1024 * 1024;
/** Symbolic links followed while resolving one path, as Linux allows. */
const MAX_LINKS = 40;
/** Path components walked while resolving one path, links included. */
const MAX_STEPS = 4096;
const MAX_LINK_TARGET = 4096;

/** squashfs compressor ids and their names. */
const COMPRESSORS: Record<number, string> = {
  1: "gzip",
  2: "lzma",
  3: "lzo",
  4: "xz",
  5: "lz4",
  6: "zstd",
};

/** The superblock: what `inspect` shows and where the tables are. */
export interface SquashfsSuperblock {
  /** Where the filesystem starts in the image file. */
  offset: number;
  /** Inode count. */
  inodes: number;
  /** Creation time, Unix seconds (0 when the builder set none). */
  mkfsTime: number;
  /** Data block size. */
  blockSize: number;
  /** Fragment count. */
  fragments: number;
  /** Compressor name (`gzip`, `xz`, ...). */
  compressor: string;
  /** Flags word. */
  flags: number;
  /** `4.0`. */
  version: string;
  /** Bytes the filesystem uses (without the padding to 4 KiB). */
  bytesUsed: number;
  /** Root inode: metadata block and offset within it. */
  root: InodeReference;
  /** Table starts, relative to `offset`. */
  tables: { inode: number; directory: number; fragment: number; id: number; export: number };
}

/** Where an inode is: a metadata block of the inode table and an offset within it. */
interface InodeReference {
  block: number;
  offset: number;
}

type Inode =
  | { kind: "directory"; start: number; offset: number; size: number }
  | {
    kind: "file";
    size: number;
    blocksStart: number;
    fragment: number;
    fragmentOffset: number;
    blockList: Position;
  }
  | { kind: "symlink"; target: string }
  | { kind: "other" };

/** A position in a metadata table: the block (relative to the table) and the offset in it. */
interface Position {
  table: "inode" | "directory" | "fragment";
  block: number;
  offset: number;
}

/** A directory entry: its name and where its inode is. */
interface Entry {
  name: string;
  inode: InodeReference;
}

/**
 * Parses and checks the superblock at `offset`; the filesystem may use at most `limit` bytes
 * (its partition, or the rest of the file).
 */
export function readSuperblock(file: ImageFile, offset: number, limit: number): SquashfsSuperblock {
  const bad = (what: string) =>
    new InvalidImageError(`${file.name}: the squashfs filesystem is damaged: ${what}`);
  if (limit < SUPERBLOCK_BYTES) throw bad("its superblock is truncated");
  const bytes = file.read(offset, SUPERBLOCK_BYTES, "the squashfs superblock");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== 0x73717368) throw bad("no squashfs magic");
  const major = view.getUint16(28, true);
  const minor = view.getUint16(30, true);
  if (major < 1 || major > 4) throw bad(`unknown version ${major}.${minor}`);
  if (major !== 4) {
    throw new UnsupportedError(
      `${file.name} holds a squashfs ${major}.${minor} filesystem; sregistry reads squashfs 4.0`,
    );
  }
  const compressorId = view.getUint16(20, true);
  if (!Object.hasOwn(COMPRESSORS, compressorId)) throw bad(`unknown compressor id ${compressorId}`);
  const blockSize = view.getUint32(12, true);
  const blockLog = view.getUint16(22, true);
  if (blockLog < 12 || blockLog > 20 || blockSize !== 2 ** blockLog) {
    throw bad(`block size ${blockSize} is not a power of two between 4 KiB and 1 MiB`);
  }
  const u64 = (at: number, name: string, optional = false) => {
    const value = view.getBigUint64(at, true);
    if (optional && value === 0xffffffffffffffffn) return -1;
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw bad(`${name} is out of range`);
    return Number(value);
  };
  const bytesUsed = u64(40, "its length");
  if (bytesUsed > limit) throw bad(`it claims ${bytesUsed} bytes, more than the ${limit} it has`);
  const tables = {
    inode: u64(64, "the inode table position"),
    directory: u64(72, "the directory table position"),
    fragment: u64(80, "the fragment table position", true),
    id: u64(48, "the id table position"),
    export: u64(88, "the export table position", true),
  };
  if (!(SUPERBLOCK_BYTES <= tables.inode && tables.inode < tables.directory)) {
    throw bad("its inode and directory tables are out of order");
  }
  for (const [name, start] of Object.entries(tables)) {
    if (start > bytesUsed) throw bad(`its ${name} table lies past its end`);
  }
  const fragments = view.getUint32(16, true);
  if (fragments > 0 && tables.fragment < 0) throw bad("fragments without a fragment table");
  const rootReference = view.getBigUint64(32, true);
  return {
    offset,
    inodes: view.getUint32(4, true),
    mkfsTime: view.getUint32(8, true),
    blockSize,
    fragments,
    compressor: COMPRESSORS[compressorId],
    flags: view.getUint16(24, true),
    version: `${major}.${minor}`,
    bytesUsed,
    root: reference(rootReference),
    tables,
  };
}

function reference(value: bigint): InodeReference {
  return { block: Number((value >> 16n) & 0xffffffffn), offset: Number(value & 0xffffn) };
}

/** A file read from a filesystem, or why it is absent. */
export type FileRead = { bytes: Uint8Array } | { missing: "absent" | "not a file" };

/** A squashfs filesystem opened for reading files by path; gzip (zlib) only. */
export class Squashfs {
  readonly #file: ImageFile;
  readonly #sb: SquashfsSuperblock;
  readonly #blocks = new Map<number, { data: Uint8Array; next: number }>();
  readonly #listings = new Map<string, Map<string, Entry>>();
  readonly #fragments = new Map<number, Uint8Array>();
  #inflated = 0;

  /** Opens the filesystem a checked superblock describes; other compressors are refused. */
  constructor(file: ImageFile, superblock: SquashfsSuperblock) {
    if (superblock.compressor !== "gzip") {
      throw new UnsupportedError(
        `${file.name}: its squashfs filesystem is compressed with ${superblock.compressor}; ` +
          "sregistry reads only gzip squashfs, what Apptainer and Singularity write by default",
      );
    }
    this.#file = file;
    this.#sb = superblock;
  }

  /** The bytes of a regular file (links followed), refused when larger than `cap`. */
  readFile(path: string, cap: number): FileRead {
    const inode = this.#resolve(path);
    if (inode === null) return { missing: "absent" };
    if (inode.kind !== "file") return { missing: "not a file" };
    if (inode.size > cap) {
      const what = `${this.#file.name}: ${printable(path)} in the image`;
      throw new InvalidImageError(`${what} is ${inode.size} bytes, more than the ${cap} it reads`);
    }
    return { bytes: this.#read(inode, inode.size, path) };
  }

  /** Up to the first `length` bytes of a regular file (links followed), or null. */
  readHead(path: string, length: number): Uint8Array | null {
    const inode = this.#resolve(path);
    if (inode === null || inode.kind !== "file") return null;
    return this.#read(inode, Math.min(length, inode.size, this.#sb.blockSize), path);
  }

  /** The names in a directory (links followed), sorted, or null when it is not one. */
  list(path: string): string[] | null {
    const inode = this.#resolve(path);
    if (inode === null || inode.kind !== "directory") return null;
    return [...this.#listing(inode).keys()].sort();
  }

  /** True when `path` is a directory (links followed). */
  isDirectory(path: string): boolean {
    return this.#resolve(path)?.kind === "directory";
  }

  // Walks a path from the root, following links inside the image; null when a part is missing.
  #resolve(path: string): Inode | null {
    const root = this.#inode(this.#sb.root);
    if (root.kind !== "directory") throw this.#bad("its root is not a directory");
    const trail: Inode[] = [root];
    const parts = path.split("/");
    let links = 0;
    let steps = 0;
    while (parts.length > 0) {
      if (++steps > MAX_STEPS) throw this.#bad(`resolving ${path} takes too many steps`);
      const name = parts.shift()!;
      if (name === "" || name === ".") continue;
      if (name === "..") {
        if (trail.length > 1) trail.pop();
        continue;
      }
      const current = trail[trail.length - 1];
      if (current.kind !== "directory") return null;
      const entry = this.#listing(current).get(name);
      if (entry === undefined) return null;
      const inode = this.#inode(entry.inode);
      if (inode.kind === "symlink") {
        if (++links > MAX_LINKS) {
          throw new InvalidImageError(
            `${this.#file.name}: ${printable(path)} in the image is a loop of symbolic links`,
          );
        }
        if (inode.target.startsWith("/")) trail.splice(1);
        parts.unshift(...inode.target.split("/"));
        continue;
      }
      trail.push(inode);
    }
    return trail[trail.length - 1];
  }

  #inode(where: InodeReference): Inode {
    const cursor = this.#cursor({ table: "inode", block: where.block, offset: where.offset });
    const head = cursor.view(16);
    const type = head.getUint16(0, true);
    switch (type) {
      case 1: {
        const body = cursor.view(16);
        return {
          kind: "directory",
          start: body.getUint32(0, true),
          size: body.getUint16(8, true),
          offset: body.getUint16(10, true),
        };
      }
      case 8: {
        const body = cursor.view(24);
        return {
          kind: "directory",
          size: body.getUint32(4, true),
          start: body.getUint32(8, true),
          offset: body.getUint16(18, true),
        };
      }
      case 2: {
        const body = cursor.view(16);
        return {
          kind: "file",
          blocksStart: body.getUint32(0, true),
          fragment: body.getUint32(4, true),
          fragmentOffset: body.getUint32(8, true),
          size: body.getUint32(12, true),
          blockList: cursor.position(),
        };
      }
      case 9: {
        const body = cursor.view(40);
        const blocksStart = body.getBigUint64(0, true);
        const size = body.getBigUint64(8, true);
        if (blocksStart > BigInt(this.#sb.bytesUsed) || size > BigInt(Number.MAX_SAFE_INTEGER)) {
          throw this.#bad("a file inode is out of range");
        }
        return {
          kind: "file",
          blocksStart: Number(blocksStart),
          size: Number(size),
          fragment: body.getUint32(28, true),
          fragmentOffset: body.getUint32(32, true),
          blockList: cursor.position(),
        };
      }
      case 3:
      case 10: {
        const length = (cursor.view(8)).getUint32(4, true);
        if (length === 0 || length > MAX_LINK_TARGET) throw this.#bad("a link target is too long");
        const target = new TextDecoder().decode(cursor.take(length));
        if (target.includes("\0")) throw this.#bad("a link target holds a NUL byte");
        return { kind: "symlink", target };
      }
      default:
        if (type < 1 || type > 14) throw this.#bad(`an inode has unknown type ${type}`);
        return { kind: "other" };
    }
  }

  #listing(directory: Inode & { kind: "directory" }): Map<string, Entry> {
    const key = `${directory.start}:${directory.offset}`;
    const cached = this.#listings.get(key);
    if (cached) return cached;
    const entries = new Map<string, Entry>();
    // The recorded size counts "." and "..", which are not stored.
    let left = directory.size - 3;
    if (left > MAX_LISTING) throw this.#bad("a directory is too large to list");
    const cursor = this.#cursor({
      table: "directory",
      block: directory.start,
      offset: directory.offset,
    });
    while (left > 0) {
      if (left < 12) throw this.#bad("a directory listing is cut short");
      const header = cursor.view(12);
      left -= 12;
      const count = header.getUint32(0, true) + 1;
      const block = header.getUint32(4, true);
      if (count > 256) throw this.#bad("a directory header counts more than 256 entries");
      for (let i = 0; i < count; i++) {
        if (left < 8) throw this.#bad("a directory listing is cut short");
        const entry = cursor.view(8);
        const nameLength = entry.getUint16(6, true) + 1;
        left -= 8 + nameLength;
        if (nameLength > 256 || left < 0) throw this.#bad("a directory entry is cut short");
        const name = new TextDecoder().decode(cursor.take(nameLength));
        if (name === "." || name === ".." || /[/\0]/.test(name)) {
          throw this.#bad(`a directory holds an entry named '${name}'`);
        }
        if (!entries.has(name)) {
          entries.set(name, { name, inode: { block, offset: entry.getUint16(0, true) } });
        }
      }
    }
    this.#listings.set(key, entries);
    return entries;
  }

  // The first `length` bytes of a file: its data blocks, then its fragment's tail.
  #read(inode: Inode & { kind: "file" }, length: number, path: string): Uint8Array {
    const blockSize = this.#sb.blockSize;
    const hasFragment = inode.fragment !== NONE;
    const blockCount = hasFragment
      ? Math.floor(inode.size / blockSize)
      : Math.ceil(inode.size / blockSize);
    const output = new Uint8Array(length);
    const needed = Math.min(blockCount, Math.ceil(length / blockSize));
    const sizes = this.#cursor(inode.blockList).view(4 * needed);
    let position = inode.blocksStart;
    for (let i = 0; i < needed; i++) {
      const word = sizes.getUint32(4 * i, true);
      const onDisk = word & 0xffffff;
      const expected = Math.min(blockSize, inode.size - i * blockSize);
      if ((word & ~0x1ffffff) !== 0 || onDisk > blockSize) {
        throw this.#bad(`${path} has a damaged block list`);
      }
      const into = output.subarray(i * blockSize, Math.min(length, i * blockSize + expected));
      if (onDisk > 0) {
        const data = this.#block(position, onDisk, (word & 0x1000000) !== 0, `${path}`);
        if (data.length !== expected) throw this.#bad(`a data block of ${path} has the wrong size`);
        into.set(data.subarray(0, into.length));
      } // a size of 0 is a sparse block: zeros
      position += onDisk;
    }
    const tailStart = blockCount * blockSize;
    if (hasFragment && length > tailStart) {
      const block = this.#fragment(inode.fragment);
      const tail = inode.size - tailStart;
      if (inode.fragmentOffset + tail > block.length) {
        throw this.#bad(`the fragment of ${path} is too short`);
      }
      output.set(
        block.subarray(inode.fragmentOffset, inode.fragmentOffset + length - tailStart),
        tailStart,
      );
    } else if (!hasFragment && length > tailStart) {
      throw this.#bad(`${path} is missing data`);
    }
    return output;
  }

  #fragment(index: number): Uint8Array {
    if (index >= this.#sb.fragments) throw this.#bad("a file names a fragment that does not exist");
    const cached = this.#fragments.get(index);
    if (cached) return cached;
    const lookup = this.#sb.tables.fragment + 8 * Math.floor(index / 512);
    const pointer = this.#file.read(this.#sb.offset + lookup, 8, "the fragment table");
    const blockAt = new DataView(pointer.buffer).getBigUint64(0, true);
    if (blockAt >= BigInt(this.#sb.tables.fragment)) {
      throw this.#bad("the fragment table is damaged");
    }
    const entry = this.#cursor({
      table: "fragment",
      block: Number(blockAt),
      offset: (index % 512) * 16,
    }).view(16);
    const start = entry.getBigUint64(0, true);
    const word = entry.getUint32(8, true);
    const onDisk = word & 0xffffff;
    if (start > BigInt(this.#sb.bytesUsed) || onDisk === 0 || onDisk > this.#sb.blockSize) {
      throw this.#bad("a fragment entry is out of range");
    }
    const block = this.#block(Number(start), onDisk, (word & 0x1000000) !== 0, "a fragment");
    this.#fragments.set(index, block);
    return block;
  }

  // A data or fragment block at `position` (relative to the filesystem).
  #block(
    position: number,
    onDisk: number,
    stored: boolean,
    what: string,
  ): Uint8Array {
    if (position + onDisk > this.#sb.bytesUsed) {
      throw this.#bad(`a block of ${what} lies past its end`);
    }
    const raw = this.#file.read(this.#sb.offset + position, onDisk, `a block of ${what}`);
    if (stored) return raw;
    this.#spend(this.#sb.blockSize);
    return inflate(raw, this.#sb.blockSize, `${this.#file.name}: a block of ${what}`);
  }

  // A metadata block at `position` (relative to the filesystem) within [start, end).
  #metadata(position: number, end: number): { data: Uint8Array; next: number } {
    const cached = this.#blocks.get(position);
    if (cached) return cached;
    if (position + 2 > end) throw this.#bad("a metadata block lies past its table");
    const header = this.#file.read(this.#sb.offset + position, 2, "a metadata block");
    const word = header[0] | (header[1] << 8);
    const length = word & 0x7fff;
    if (length === 0 || length > METADATA_BLOCK || position + 2 + length > end) {
      throw this.#bad("a metadata block has a bad length");
    }
    const raw = this.#file.read(this.#sb.offset + position + 2, length, "a metadata block");
    let data = raw;
    if ((word & 0x8000) === 0) {
      this.#spend(METADATA_BLOCK);
      data = inflate(raw, METADATA_BLOCK, `${this.#file.name}: a squashfs metadata block`);
    }
    if (data.length === 0) throw this.#bad("a metadata block is empty");
    const block = { data, next: position + 2 + length };
    this.#blocks.set(position, block);
    return block;
  }

  #cursor(start: Position): MetadataCursor {
    const { tables, bytesUsed } = this.#sb;
    const [base, end] = start.table === "inode"
      ? [tables.inode, tables.directory]
      : start.table === "directory"
      ? [tables.directory, this.#tableEnd(tables.directory)]
      : [0, tables.fragment];
    if (start.offset >= METADATA_BLOCK) throw this.#bad("an inode reference is out of range");
    const limit = Math.min(end, bytesUsed);
    return new MetadataCursor(start, base, limit, {
      load: (position) => this.#metadata(position, limit),
      bad: (what) => this.#bad(what),
    });
  }

  // The directory table ends where the next table starts.
  #tableEnd(start: number): number {
    const after = Object.values(this.#sb.tables).filter((table) => table > start);
    return Math.min(this.#sb.bytesUsed, ...after);
  }

  #spend(bytes: number): void {
    this.#inflated += bytes;
    if (this.#inflated > INFLATE_BUDGET) {
      throw this.#bad("reading it needs too much decompression");
    }
  }

  #bad(what: string): InvalidImageError {
    return new InvalidImageError(
      `${this.#file.name}: the squashfs filesystem is damaged: ${printable(what)}`,
    );
  }
}

/** Where a cursor gets its blocks, and how it reports damage. */
interface MetadataBlocks {
  load(position: number): { data: Uint8Array; next: number };
  bad(what: string): InvalidImageError;
}

/** Reads consecutive bytes across the metadata blocks of one table. */
class MetadataCursor {
  #block: number; // position of the current block, relative to the filesystem
  #offset: number;
  readonly #table: Position["table"];
  readonly #base: number;
  readonly #end: number;
  readonly #blocks: MetadataBlocks;

  constructor(start: Position, base: number, end: number, blocks: MetadataBlocks) {
    this.#table = start.table;
    this.#base = base;
    this.#block = base + start.block;
    this.#offset = start.offset;
    this.#end = end;
    this.#blocks = blocks;
  }

  /** Where the next byte is, to come back to it later. */
  position(): Position {
    return { table: this.#table, block: this.#block - this.#base, offset: this.#offset };
  }

  /** The next `length` bytes. */
  take(length: number): Uint8Array {
    const output = new Uint8Array(length);
    let filled = 0;
    while (filled < length) {
      if (this.#block >= this.#end) throw this.#blocks.bad("a table is cut short");
      const block = this.#blocks.load(this.#block);
      if (this.#offset >= block.data.length) {
        this.#offset -= block.data.length;
        this.#block = block.next;
        continue;
      }
      const piece = block.data.subarray(this.#offset, this.#offset + length - filled);
      output.set(piece, filled);
      filled += piece.length;
      this.#offset += piece.length;
    }
    return output;
  }

  /** The next `length` bytes as a little-endian DataView. */
  view(length: number): DataView {
    const bytes = this.take(length);
    return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
}

// Names from an image in a one-line message: control characters escaped, length capped.
function printable(text: string): string {
  const escaped = text.replace(
    // deno-lint-ignore no-control-regex
    /[\x00-\x1f\x7f-\x9f]/g,
    (char) => `\\x${char.charCodeAt(0).toString(16).padStart(2, "0")}`,
  );
  return escaped.length > 200 ? `${escaped.slice(0, 200)}...` : escaped;
}
