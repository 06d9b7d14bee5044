/**
 * Storage seen as it is on disk, folder by folder, each folder read once and never through a
 * symlink: a folder that is a symlink is an entry of its parent, never entered, so a file behind
 * one is not seen (as Storage.fileState counts it missing).
 */
import { basename, dirname } from "./paths.ts";
import type { Storage } from "./storage.ts";

/** What is at a path in storage, as lstat sees it. */
export interface StoredEntry {
  /** Absolute path. */
  path: string;
  /** A regular file, a symlink (never followed), or anything else (a fifo, a socket). */
  type: "file" | "symlink" | "other";
  /** Size in bytes (of the link itself for a symlink). */
  size: number;
  /** Device and inode: two paths with both equal are hard links of one file. */
  dev: number;
  /** Inode number. */
  ino: number;
  /** How many names the file has, inside storage or not; its bytes go with the last. */
  nlink: number;
  /** Last modification, in ms since the epoch, when known. */
  mtime: number | null;
}

/** Everything under the storage root. */
export interface StorageContents {
  /** Files, symlinks and other entries that are not folders, in no particular order. */
  entries: StoredEntry[];
  /** Folders that could not be read (permissions): what is in them is unknown. */
  unreadable: string[];
}

/** Above this many entries expected, a second thread reads half of the folders. */
const PARALLEL_FROM = 5000;

/** Storage read lazily and cached: a walk of everything, or the entries records name. */
export class StorageWalk {
  readonly #storage: Storage;
  readonly #skip: Set<string>;
  readonly #listings = new Map<string, Map<string, Deno.DirEntry> | null>();
  readonly #unreadable: string[] = [];

  /** `skip` are paths that are not storage's although they are in it (the database's files). */
  constructor(storage: Storage, skip: Iterable<string> = []) {
    this.#storage = storage;
    this.#skip = new Set(skip);
  }

  /**
   * The entry at `path` (inside storage), or null when nothing is there, or only behind a
   * folder that is a symlink or cannot be read.
   */
  entry(path: string): StoredEntry | null {
    if (this.#skip.has(path)) return null;
    const listing = this.#listing(dirname(path));
    if (listing === null || !listing.has(basename(path))) return null;
    return lstatEntry(path);
  }

  /**
   * True when a folder on the way from the root to `path` could not be read, as found by
   * `entry(path)` or `contents()` before.
   */
  hiddenByUnreadable(path: string): boolean {
    return this.#unreadable.some((folder) => path.startsWith(`${folder}/`));
  }

  /**
   * Every entry under the root, never entering a symlink; skipped paths left out. With
   * `expected` entries past PARALLEL_FROM, a worker (core/storage_walk_worker.ts) reads every
   * other top-level folder meanwhile: reading folders and their files' metadata is most of the
   * time `du` and `prune` take on a large store.
   */
  async contents(expected: number): Promise<StorageContents> {
    const root = this.#storage.root;
    const top = readFolder(root, this.#skip);
    const tops = top.folders;
    const split = expected >= PARALLEL_FROM && tops.length > 1;
    const theirs = split ? tops.filter((_, i) => i % 2 === 1) : [];
    const mine = split ? tops.filter((_, i) => i % 2 === 0) : tops;
    const worker = theirs.length > 0 ? walkInWorker(theirs, [...this.#skip]) : null;
    const found = walkFolders(mine, this.#skip);
    const other = await (worker ?? Promise.resolve({ entries: [], unreadable: [] }));
    const contents = {
      entries: [...top.entries, ...found.entries, ...other.entries],
      unreadable: [...top.unreadable, ...found.unreadable, ...other.unreadable],
    };
    this.#unreadable.push(...contents.unreadable);
    return contents;
  }

  // The names in a folder reached from the root through real folders only; null otherwise.
  #listing(folder: string): Map<string, Deno.DirEntry> | null {
    const cached = this.#listings.get(folder);
    if (cached !== undefined) return cached;
    let listing: Map<string, Deno.DirEntry> | null = null;
    const root = this.#storage.root;
    const reachable = folder === root || (this.#storage.contains(folder) &&
      !this.#skip.has(folder) &&
      this.#listing(dirname(folder))?.get(basename(folder))?.isDirectory === true);
    if (reachable) {
      try {
        listing = new Map([...Deno.readDirSync(folder)].map((entry) => [entry.name, entry]));
      } catch (error) {
        if (error instanceof Deno.errors.PermissionDenied) this.#unreadable.push(folder);
        listing = null; // gone meanwhile, or unreadable
      }
    }
    this.#listings.set(folder, listing);
    return listing;
  }
}

/**
 * Reads `folders` and everything below them, never entering a symlink and leaving out the paths
 * in `skip`: what one thread of a walk does.
 */
export function walkFolders(folders: string[], skip: Iterable<string>): StorageContents {
  const skipped = new Set(skip);
  const entries: StoredEntry[] = [];
  const unreadable: string[] = [];
  const pending = [...folders];
  while (pending.length > 0) {
    const found = readFolder(pending.pop()!, skipped);
    entries.push(...found.entries);
    unreadable.push(...found.unreadable);
    pending.push(...found.folders);
  }
  return { entries, unreadable };
}

// One folder: its entries (lstat), the folders in it, or why it could not be read.
function readFolder(
  folder: string,
  skipped: Set<string>,
): StorageContents & { folders: string[] } {
  const entries: StoredEntry[] = [];
  const folders: string[] = [];
  let names: Deno.DirEntry[];
  try {
    names = [...Deno.readDirSync(folder)];
  } catch (error) {
    // Gone meanwhile, or unreadable.
    const unreadable = error instanceof Deno.errors.PermissionDenied ? [folder] : [];
    return { entries, folders, unreadable };
  }
  for (const dirent of names) {
    const path = `${folder}/${dirent.name}`;
    if (skipped.has(path)) continue;
    if (dirent.isDirectory) {
      folders.push(path);
      continue;
    }
    const entry = lstatEntry(path);
    if (entry !== null) entries.push(entry);
  }
  return { entries, folders, unreadable: [] };
}

function walkInWorker(folders: string[], skip: string[]): Promise<StorageContents> {
  const worker = new Worker(new URL("./storage_walk_worker.ts", import.meta.url), {
    type: "module",
  });
  return new Promise<StorageContents>((resolve, reject) => {
    worker.onmessage = (event: MessageEvent<StorageContents>) => resolve(event.data);
    worker.onerror = (event) => {
      event.preventDefault();
      reject(new Error(`the storage walking worker failed: ${event.message}`));
    };
    worker.postMessage({ folders, skip } satisfies WalkRequest);
  }).finally(() => worker.terminate());
}

/** What the walking worker is asked: folders to read, paths to leave out. */
export interface WalkRequest {
  /** Folders to read, with everything below them. */
  folders: string[];
  /** Paths that are not storage's. */
  skip: string[];
}

/** The entry at `path` as lstat sees it, or null when nothing is there. */
export function lstatEntry(path: string): StoredEntry | null {
  let info: Deno.FileInfo;
  try {
    info = Deno.lstatSync(path);
  } catch {
    return null;
  }
  return {
    path,
    type: info.isFile ? "file" : info.isSymlink ? "symlink" : "other",
    size: info.size,
    dev: info.dev,
    ino: info.ino ?? 0,
    nlink: info.nlink ?? 1,
    mtime: info.mtime?.getTime() ?? null,
  };
}

/** True while `entry`'s path still holds what was seen there: the same type and inode. */
export function isStillThere(entry: StoredEntry): boolean {
  const now = lstatEntry(entry.path);
  return now !== null && now.type === entry.type && inodeKey(now) === inodeKey(entry);
}

/** A key that two hard links of one file share. */
export function inodeKey(entry: StoredEntry): string {
  return `${entry.dev}:${entry.ino}`;
}

/**
 * The bytes freed by removing some entries: a file's bytes go only with its last name (its link
 * count), so a file counts when every one of its links is among them; each path counts once.
 * Each freed file's bytes are put down to its last entry in the list.
 */
export class FreedBytes {
  readonly #perIndex: number[];
  /** Bytes freed in all. */
  readonly total: number;

  constructor(entries: (StoredEntry | null)[]) {
    const last = new Map<string, { index: number; paths: Set<string>; entry: StoredEntry }>();
    entries.forEach((entry, index) => {
      if (entry === null || entry.type !== "file") return;
      const key = inodeKey(entry);
      const seen = last.get(key) ?? { index, paths: new Set<string>(), entry };
      seen.paths.add(entry.path);
      last.set(key, { ...seen, index });
    });
    this.#perIndex = entries.map(() => 0);
    let total = 0;
    for (const { index, paths, entry } of last.values()) {
      if (paths.size < entry.nlink) continue;
      this.#perIndex[index] = entry.size;
      total += entry.size;
    }
    this.total = total;
  }

  /** Bytes put down to the entry at `index`. */
  at(index: number): number {
    return this.#perIndex[index];
  }
}
