/**
 * The inventory of a store: what each record's image file is on disk, and (over the whole of
 * storage) the files no record names and the leftovers of runs that died. Read-only: it takes a
 * lock's measure without taking it over, so `verify` and `du` change nothing. A leftover is only
 * ever a file no live process holds: a temporary file whose owner lock (core/file_lock.ts) is
 * abandoned, a partial download whose lock is not held, a tombstone no journal entry names.
 */
import { basename, dirname, join } from "./paths.ts";
import {
  listStoredRecords,
  recordedFiles,
  sameRecordedFile,
  type StoredRecord,
} from "./stored_records.ts";
import { settled } from "./database.ts";
import { isAbandonedLock } from "./file_lock.ts";
import { journaledPaths } from "./journal.ts";
import type { Registry } from "./registry.ts";
import type { Storage } from "./storage.ts";
import {
  CACHEDIR_TAG,
  OWNER_TOKEN,
  PART_PREFIX,
  realPath,
  RESERVED_PREFIX,
  STALE_AFTER_MS,
  STORE_MARKER,
  TEMP_PREFIX,
  temporaryFileOwner,
  TOMBSTONE_PREFIX,
} from "./storage.ts";
import { isStillThere, lstatEntry, StorageWalk, type StoredEntry } from "./storage_walk.ts";

/** What storage holds for one record. */
export interface RecordFile {
  /** The record. */
  record: StoredRecord;
  /** Absolute path of its image file. */
  path: string;
  /**
   * `file` (a regular file of the recorded size, reached through no symlink in storage),
   * `changed` (a regular file of another size), `unreadable` (behind a folder this user cannot
   * read: it may well be there) or `missing` (anything else).
   */
  state: "file" | "changed" | "unreadable" | "missing";
  /** The regular file there (file or changed), else null. */
  entry: StoredEntry | null;
  /** What else is at the path in storage instead of a regular file (a symlink), if anything. */
  other: StoredEntry | null;
  /** True when the path is inside storage. */
  inStorage: boolean;
}

/**
 * What a killed run left: a temporary copy, a partial download (or its sidecar or lock), a
 * tombstone of an image being deleted, or the owner lock of a dead process.
 */
export type LeftoverKind = "temporary" | "partial" | "tombstone" | "owner-lock";

/** A leftover no live process holds. */
export interface Leftover {
  /** What it is. */
  kind: LeftoverKind;
  /** The file. */
  entry: StoredEntry;
}

/** A store's inventory. */
export interface Inventory {
  /** Records with an image file, matching the queries, oldest first. */
  records: RecordFile[];
  /** True when the whole of storage was read (no queries): the lists below are complete. */
  complete: boolean;
  /** Entries in storage that no record names (files, symlinks, others); empty unless complete. */
  unknown: StoredEntry[];
  /** Leftovers of dead runs; empty unless complete. */
  leftovers: Leftover[];
  /** Folders of storage that could not be read. */
  unreadableFolders: string[];
}

/** Files in the storage root that are not garbage: the backup tools' tag, the store's marker. */
const ROOT_FILES = [CACHEDIR_TAG, STORE_MARKER];

/**
 * Takes the inventory of the records matching `queries`; without queries, of all of storage
 * too. Records are listed first, then storage is read, then judged once no change is in flight
 * (core/database.ts settled): a file that a transaction still open linked into place is named
 * by its record by then, and a record removed or changed meanwhile is left out.
 */
export async function takeInventory(registry: Registry, queries: string[]): Promise<Inventory> {
  const storage = registry.storage;
  const walk = new StorageWalk(storage, notStorages(registry));
  const complete = queries.filter((query) => query !== "" && query !== "*").length === 0;
  const version = dataVersion(registry);
  const listed = listStoredRecords(registry.db, queries);
  const contents = complete ? await walk.contents(listed.length) : null;
  const seen = contents === null ? null : new Map(contents.entries.map((e) => [e.path, e]));
  const files = listed.map((record) => recordFile(registry, walk, record, seen));
  return settled(registry.db, () => {
    // No other connection committed since the listing: it still holds.
    const recorded = dataVersion(registry) === version ? null : recordedFiles(registry.db);
    const records = recorded === null
      ? files
      : files.filter((file) => sameRecordedFile(file.record, recorded.get(file.record.id)));
    if (contents === null) {
      return { records, complete, unknown: [], leftovers: [], unreadableFolders: [] };
    }
    const images = recorded === null
      ? listed.map((record) => record.image)
      : [...recorded.values()].map((file) => file.image);
    const named = namedPaths(registry, images);
    const journaled = journaledPaths(registry);
    const unknown: StoredEntry[] = [];
    const leftovers: Leftover[] = [];
    const judge = new LeftoverJudge(registry, journaled);
    for (const entry of contents.entries) {
      if (named.has(entry.path) || journaled.has(entry.path)) continue;
      const name = basename(entry.path);
      const kind = name.startsWith(RESERVED_PREFIX) ? judge.kind(entry) : "unknown";
      // Judged after the look: a file gone meanwhile was a live command's.
      if (kind === "in-use" || !isStillThere(entry)) continue;
      if (kind === "unknown") unknown.push(entry);
      else leftovers.push({ kind, entry });
    }
    leftovers.push(...abandonedOwnerLocks(registry));
    const byPath = (a: { path: string }, b: { path: string }) =>
      a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
    return {
      records,
      complete,
      unknown: unknown.sort(byPath),
      leftovers: leftovers.sort((a, b) => byPath(a.entry, b.entry)),
      unreadableFolders: contents.unreadable.sort(),
    };
  });
}

// Changes whenever another connection commits to the database.
function dataVersion(registry: Registry): number {
  return Number(
    (registry.db.prepare("PRAGMA data_version").get() as { data_version: number })
      .data_version,
  );
}

// The database's own files, when the database folder is inside storage: never storage's.
function notStorages(registry: Registry): string[] {
  const location = registry.db.location();
  const database = location === null ? null : join(realPath(dirname(location)), basename(location));
  const files = database === null
    ? []
    : ["", "-journal", "-wal", "-shm"].map((suffix) => database + suffix);
  return [
    ...files,
    realPath(registry.ownersFolder),
    ...ROOT_FILES.map((name) => join(registry.storage.root, name)),
  ];
}

function recordFile(
  registry: Registry,
  walk: StorageWalk,
  record: StoredRecord,
  seen: Map<string, StoredEntry> | null,
): RecordFile {
  const { path, inStorage } = locate(registry.storage, record.image);
  const found = !inStorage ? statEntry(path) : seen === null ? walk.entry(path) : seen.get(path) ??
    null;
  const hidden = found === "unreadable" || (found === null && walk.hiddenByUnreadable(path));
  const there = found === "unreadable" ? null : found;
  const entry = there?.type === "file" ? there : null;
  const other = there !== null && entry === null ? there : null;
  const state = hidden
    ? "unreadable"
    : entry === null
    ? "missing"
    : record.size !== null && entry.size !== record.size
    ? "changed"
    : "file";
  return { record, path, state, entry, other, inStorage };
}

// Recorded paths are nearly all plain relative ones, as Storage.toRecord writes them: inside
// storage, spelled as they are. Others take the long way.
const UNUSUAL = /(^|\/)\.{1,2}(\/|$)|\/\/|\/$/;

function locate(storage: Storage, image: string): { path: string; inStorage: boolean } {
  if (!image.startsWith("/") && !UNUSUAL.test(image) && image !== "") {
    return {
      path: `${storage.root}${storage.root.endsWith("/") ? "" : "/"}${image}`,
      inStorage: true,
    };
  }
  const path = storage.fromRecord(image);
  return { path, inStorage: storage.contains(path) };
}

// A file outside storage is the user's to link as they like: followed, as Storage.fileState does.
function statEntry(path: string): StoredEntry | "unreadable" | null {
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(path);
  } catch (error) {
    return error instanceof Deno.errors.NotFound ? null : "unreadable";
  }
  return info.isFile
    ? {
      path,
      type: "file",
      size: info.size,
      dev: info.dev,
      ino: info.ino ?? 0,
      nlink: info.nlink ?? 1,
      mtime: info.mtime?.getTime() ?? null,
    }
    : null;
}

/**
 * Every path a record names, spelled as storage's files are: also by its real path when a record
 * reaches storage through a symlink outside it. `recorded` are the records' image paths.
 */
export function namedPaths(
  registry: Registry,
  recorded: Iterable<string> = [...recordedFiles(registry.db).values()].map((file) => file.image),
): Set<string> {
  const named = new Set<string>();
  for (const image of recorded) {
    const { path, inStorage } = locate(registry.storage, image);
    named.add(path);
    if (!inStorage) named.add(realPath(path));
  }
  return named;
}

/** Tells which of sregistry's own files in storage a live process may still need. */
class LeftoverJudge {
  readonly #registry: Registry;
  readonly #journaled: Set<string>;
  readonly #owners = new Map<string, boolean>();
  readonly #parts = new Map<string, boolean>();
  readonly #now = Date.now();

  constructor(registry: Registry, journaled: Set<string>) {
    this.#registry = registry;
    this.#journaled = journaled;
  }

  /** The kind of leftover, "in-use" while a live process may need it, "unknown" if not ours. */
  kind(entry: StoredEntry): LeftoverKind | "in-use" | "unknown" {
    const name = basename(entry.path);
    if (name.startsWith(TEMP_PREFIX)) {
      const owner = temporaryFileOwner(name);
      const dead = owner === null
        ? entry.mtime !== null && this.#now - entry.mtime > STALE_AFTER_MS
        : this.#ownerDead(owner);
      return dead ? "temporary" : "in-use";
    }
    if (name.startsWith(PART_PREFIX)) {
      return this.#partHeld(partOf(entry.path)) ? "in-use" : "partial";
    }
    if (name.startsWith(TOMBSTONE_PREFIX)) {
      // Named by no journal entry (the caller checked): no change will put it back or drop it.
      return entry.type === "file" ? "tombstone" : "unknown";
    }
    return "unknown";
  }

  #ownerDead(owner: string): boolean {
    let dead = this.#owners.get(owner);
    if (dead === undefined) {
      dead = owner !== this.#registry.owner &&
        isAbandonedLock(join(this.#registry.ownersFolder, owner));
      this.#owners.set(owner, dead);
    }
    return dead;
  }

  #partHeld(part: string): boolean {
    let held = this.#parts.get(part);
    if (held === undefined) {
      held = this.#journaled.has(part) || !isAbandonedLock(`${part}.lock`);
      this.#parts.set(part, held);
    }
    return held;
  }
}

/** The partial download a part file, its sidecar (`.json`) or its lock (`.lock`) belongs to. */
export function partOf(path: string): string {
  return path.replace(/\.(json|lock)$/, "");
}

// Owner lock files whose process is gone (this one's is never among them).
function abandonedOwnerLocks(registry: Registry): Leftover[] {
  const folder = registry.ownersFolder;
  let names: string[];
  try {
    names = [...Deno.readDirSync(folder)].filter((entry) => entry.isFile).map((e) => e.name);
  } catch {
    return [];
  }
  const token = new RegExp(`^${OWNER_TOKEN}$`);
  return names.sort()
    .filter((name) => token.test(name) && name !== registry.owner)
    .flatMap((name) => {
      const path = join(folder, name);
      const entry = lstatEntry(path);
      return entry !== null && isAbandonedLock(path) ? [{ kind: "owner-lock", entry }] : [];
    });
}
