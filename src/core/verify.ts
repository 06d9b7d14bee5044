/**
 * `verify`: checks that each record's image file is the one it describes (there, a regular file
 * reached through no symlink in storage, of the recorded size and, unless quick, MD5), and,
 * over the whole store, finds files no record names and leftovers of runs that died. Each
 * distinct file (inode) is read once, however many records share it. Changes nothing.
 */
import { type FileHash, hashFiles } from "./file_hashes.ts";
import { type Inventory, type LeftoverKind, type RecordFile, takeInventory } from "./inventory.ts";
import { recordedFiles, sameRecordedFile, type StoredRecord } from "./stored_records.ts";
import { settled } from "./database.ts";
import type { Registry } from "./registry.ts";
import { inodeKey, type StoredEntry } from "./storage_walk.ts";

/**
 * `ok`; `unverified` (there, but the record has no MD5 or size to compare with: added by an
 * older client); `missing`; `changed` (another size or MD5); `unreadable` (this user may not
 * read it).
 */
export type ImageStatus = "ok" | "unverified" | "missing" | "changed" | "unreadable";

/** The check of one record's image file. */
export interface ImageCheck {
  /** The record. */
  record: StoredRecord;
  /** Absolute path of its image file. */
  path: string;
  /** The outcome. */
  status: ImageStatus;
  /** The size found, when a regular file is there. */
  size: number | null;
  /** The MD5 found, when the file was hashed. */
  md5: string | null;
  /** Why it could not be read, for `unreadable`. */
  reason: string | null;
}

/**
 * A file in storage that should not be there: one no record names (`unknown`), a `symlink` or
 * other non-file entry no record names, a leftover of a dead run, or a folder that cannot be
 * read (`unreadable`).
 */
export interface StoreProblem {
  /** What it is. */
  kind: "unknown" | "symlink" | "unreadable" | LeftoverKind;
  /** Absolute path. */
  path: string;
  /** Its size in bytes (0 for a folder). */
  size: number;
}

/** What verify found. */
export interface VerifyReport {
  /** One check per record with an image file, matching the queries, oldest first. */
  images: ImageCheck[];
  /** Problems of the store as a whole (only without queries). */
  problems: StoreProblem[];
  /** True when the whole store was looked at (no queries). */
  complete: boolean;
  /** Bytes read and hashed. */
  bytesHashed: number;
}

/** How to verify. */
export interface VerifyOptions {
  /** Records to check (as `images` queries); none checks everything and the store as a whole. */
  queries: string[];
  /** Check existence, type and size only; no hashing. */
  quick: boolean;
  /** Hashing workers; the machine's cores by default. */
  workers?: number;
  /** Called with bytes hashed so far and the total to hash. */
  onProgress?: (done: number, total: number) => void;
}

/** Verifies the records matching the queries, and the store when there are none. */
export async function verifyStore(
  registry: Registry,
  options: VerifyOptions,
): Promise<VerifyReport> {
  const inventory = await takeInventory(registry, options.queries);
  const present = distinctFiles(inventory.records);
  const found = options.quick ? openEach(present) : await hashEach(present, options);
  // Judged once no change is in flight: a record removed or replaced while its file was read
  // (an rmi, a pull --force) is no longer one to judge.
  const images = settled(registry.db, () => {
    const recorded = recordedFiles(registry.db);
    return inventory.records.filter((file) =>
      sameRecordedFile(file.record, recorded.get(file.record.id))
    ).map((file) => check(file, found));
  });
  return {
    images,
    problems: storeProblems(inventory),
    complete: inventory.complete,
    bytesHashed: options.quick
      ? 0
      : [...found.values()].reduce((sum, hash) => sum + ("size" in hash ? hash.size : 0), 0),
  };
}

/** True when a check found something wrong. */
export function isProblem(check: ImageCheck): boolean {
  return check.status !== "ok" && check.status !== "unverified";
}

// The regular files of the records whose size is right, by inode: every path of each.
function distinctFiles(records: RecordFile[]): Map<string, StoredEntry[]> {
  const files = new Map<string, StoredEntry[]>();
  for (const file of records) {
    if (file.state !== "file") continue;
    const key = inodeKey(file.entry!);
    files.set(key, [...files.get(key) ?? [], file.entry!]);
  }
  return files;
}

// Each inode read once, through its first path; through the next where one went meanwhile (an
// rmi of one name of a file several records share).
async function hashEach(
  files: Map<string, StoredEntry[]>,
  options: VerifyOptions,
): Promise<Map<string, FileHash>> {
  const total = [...files.values()].reduce((sum, [entry]) => sum + entry.size, 0);
  const hashed = new Map<string, FileHash>();
  let pending = [...files.entries()].map(([key, paths]) => ({ key, paths }));
  let done = 0;
  while (pending.length > 0) {
    const hashes = await hashFiles(pending.map(({ paths }) => paths[0]), {
      workers: options.workers,
      onProgress: (bytes) => options.onProgress?.(done + bytes, total),
    });
    const retry: typeof pending = [];
    pending.forEach(({ key, paths }, i) => {
      const hash = hashes[i];
      if ("failure" in hash && hash.failure === "missing" && paths.length > 1) {
        retry.push({ key, paths: paths.slice(1) });
      } else hashed.set(key, hash);
      if ("size" in hash) done += hash.size;
    });
    pending = retry;
  }
  return hashed;
}

// Quick: each file is only opened, to tell whether this user may read it.
function openEach(files: Map<string, StoredEntry[]>): Map<string, FileHash> {
  const opened = new Map<string, FileHash>();
  for (const [key, entries] of files) {
    for (const entry of entries) {
      try {
        Deno.openSync(entry.path, { read: true }).close();
        opened.set(key, { md5: "", size: entry.size, dev: entry.dev, ino: entry.ino });
        break;
      } catch (error) {
        const failure = error instanceof Deno.errors.NotFound ? "missing" : "unreadable";
        const reason = error instanceof Error ? error.message : String(error);
        opened.set(key, { failure, reason });
        if (failure === "unreadable") break;
      }
    }
  }
  return opened;
}

function check(file: RecordFile, found: Map<string, FileHash>): ImageCheck {
  const { record, path } = file;
  const base = { record, path, size: file.entry?.size ?? null, md5: null, reason: null };
  if (file.state === "unreadable") {
    return { ...base, status: "unreadable", reason: "a folder on its path cannot be read" };
  }
  if (file.state !== "file") return { ...base, status: file.state };
  const hash = found.get(inodeKey(file.entry!))!;
  if ("failure" in hash) {
    return {
      ...base,
      status: hash.failure,
      reason: hash.failure === "missing" ? null : hash.reason,
    };
  }
  const md5 = hash.md5 === "" ? null : hash.md5;
  // Replaced between the look and the read: not the file that was looked at.
  const sameFile = hash.dev === file.entry!.dev && hash.ino === file.entry!.ino;
  const changed = !sameFile || (record.size !== null && hash.size !== record.size) ||
    (md5 !== null && record.md5 !== null && md5 !== record.md5);
  const status = changed
    ? "changed"
    : record.md5 === null && (md5 !== null || record.size === null)
    ? "unverified"
    : "ok";
  return { ...base, size: hash.size, md5, status };
}

function storeProblems(inventory: Inventory): StoreProblem[] {
  return [
    ...inventory.unreadableFolders.map((path) => ({ kind: "unreadable" as const, path, size: 0 })),
    ...inventory.unknown.map((entry) => ({
      kind: entry.type === "symlink" ? "symlink" as const : "unknown" as const,
      path: entry.path,
      size: entry.type === "file" ? entry.size : 0,
    })),
    ...inventory.leftovers.map(({ kind, entry }) => ({ kind, path: entry.path, size: entry.size })),
  ];
}
