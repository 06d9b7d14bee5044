/**
 * Storage seen as it is on disk, folder by folder, each folder read once and never through a
 * symlink: a folder that is a symlink is an entry of its parent, never entered, so a file behind
 * one is not seen (as Storage.fileState counts it missing).
 */
import { basename, dirname, join } from "node:path";
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
  /** Files, symlinks and other entries that are not folders, sorted by path. */
  entries: StoredEntry[];
  /** Every folder below the root that was entered. */
  folders: string[];
  /** Folders that could not be read (permissions): what is in them is unknown. */
  unreadable: string[];
}

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

  /** True when a folder on the way from the root to `path` could not be read. */
  hiddenByUnreadable(path: string): boolean {
    for (let folder = dirname(path); this.#storage.contains(folder); folder = dirname(folder)) {
      if (this.#listing(folder) === null && this.#unreadable.includes(folder)) return true;
    }
    return this.#listing(this.#storage.root) === null &&
      this.#unreadable.includes(this.#storage.root);
  }

  /** Every entry under the root, never entering a symlink; skipped paths left out. */
  contents(): StorageContents {
    const entries: StoredEntry[] = [];
    const folders: string[] = [];
    const visit = (folder: string) => {
      const listing = this.#listing(folder);
      if (listing === null) return;
      for (const name of [...listing.keys()].sort()) {
        const path = join(folder, name);
        if (this.#skip.has(path)) continue;
        if (listing.get(name)!.isDirectory) {
          folders.push(path);
          visit(path);
          continue;
        }
        const entry = lstatEntry(path);
        if (entry !== null) entries.push(entry);
      }
    };
    visit(this.#storage.root);
    return { entries, folders, unreadable: [...this.#unreadable] };
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
 * The bytes freed by removing these entries: a file's bytes go only with its last name, so a
 * file counts when every one of its links is among them.
 */
export function bytesFreed(removed: Iterable<StoredEntry>): number {
  const links = new Map<string, { entry: StoredEntry; paths: Set<string> }>();
  for (const entry of removed) {
    const key = inodeKey(entry);
    const seen = links.get(key) ?? { entry, paths: new Set<string>() };
    seen.paths.add(entry.path);
    links.set(key, seen);
  }
  let bytes = 0;
  for (const { entry, paths } of links.values()) {
    if (entry.type === "file" && paths.size >= entry.nlink) bytes += entry.size;
  }
  return bytes;
}
