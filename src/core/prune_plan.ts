/**
 * What `prune` would do, decided from the store's inventory without changing anything: `du` and
 * `prune --dry-run` show it, `prune` carries it out (core/prune.ts) checking each step again.
 * Bytes are counted per file, not per name: a file shared by hard links frees its bytes only
 * when every one of its links goes.
 */
import { dirname } from "./paths.ts";
import type { StoredRecord } from "./stored_records.ts";
import { hashFiles } from "./file_hashes.ts";
import { type Inventory, type LeftoverKind, type RecordFile, takeInventory } from "./inventory.ts";
import type { Registry } from "./registry.ts";
import { FreedBytes, inodeKey, type StoredEntry } from "./storage_walk.ts";
import { type StoreOwnership, storeOwnership } from "./store_identity.ts";

/** What to prune beyond what is broken or left over. */
export interface PruneOptions {
  /** Also remove images not used (`get`, `pull`, `add`) for this many days. */
  unusedDays?: number;
  /** Also remove all but the newest this many versions of each collection/name:tag. */
  keep?: number;
  /** The time use is measured against; now by default. */
  now?: Date;
}

/**
 * Why a record goes: its file is `missing`, it was not used for the given days (`unused`), or
 * newer versions of its name are kept (`old-version`).
 */
export type RecordReason = "missing" | "unused" | "old-version";

/** A record to remove, with its file (deleted with it unless another record names it). */
export interface PlannedRecord {
  /** The record. */
  record: StoredRecord;
  /** Absolute path of its image file. */
  path: string;
  /** Why it goes. */
  reason: RecordReason;
  /** Its regular file, deleted with it; null when there is none. */
  entry: StoredEntry | null;
  /** Bytes its removal frees. */
  freed: number;
}

/**
 * Why a file goes: no record names it (`unknown`, or a `symlink`, which is removed, never
 * followed), or it is a leftover of a dead run.
 */
export type FileReason = "unknown" | "symlink" | LeftoverKind;

/** A file to delete. */
export interface PlannedFile {
  /** The file. */
  entry: StoredEntry;
  /** Why it goes. */
  reason: FileReason;
  /** Bytes its deletion frees. */
  freed: number;
}

/** A tombstone that holds a record's missing image: renamed back instead of the record going. */
export interface PlannedRestore {
  /** The record whose file is missing. */
  record: StoredRecord;
  /** Where its file belongs. */
  path: string;
  /** The `.sregistry-removed-*` file of the same size and MD5 in the same folder. */
  tombstone: StoredEntry;
}

/**
 * A record prune leaves although its file is not right: `changed` (another size: verify and
 * rmi are for it), `unreachable` (outside storage, in a folder that is not there: perhaps a
 * filesystem not mounted here) or `unreadable` (behind a folder this user cannot read).
 */
export interface KeptRecord {
  /** The record. */
  record: StoredRecord;
  /** Absolute path of its image file. */
  path: string;
  /** Why it stays. */
  why: "changed" | "unreachable" | "unreadable";
}

/** Everything prune would do. */
export interface PrunePlan {
  /** Tombstones to put back first. */
  restores: PlannedRestore[];
  /** Records to remove (with their files). */
  records: PlannedRecord[];
  /** Files to delete. */
  files: PlannedFile[];
  /** Records left alone although their file is not right. */
  kept: KeptRecord[];
  /** Bytes freed in all. */
  bytes: number;
  /**
   * Files no record names that are left alone: outside sregistry's layout (not
   * `<collection>/<name>/<file>.sif`), or in a storage folder another database owns.
   */
  foreign: StoredEntry[];
  /** Whether the storage folder is this database's: only then are unknown files removed. */
  ownership: StoreOwnership;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Plans a prune of the whole store; `inventory` is a complete one taken just before, when the
 * caller has it.
 */
export async function planPrune(
  registry: Registry,
  options: PruneOptions,
  taken?: Inventory,
): Promise<PrunePlan> {
  const inventory = taken ?? await takeInventory(registry, []);
  const ownership = storeOwnership(registry.db, registry.storage.root);
  const kept: KeptRecord[] = [];
  const missing: RecordFile[] = [];
  for (const file of inventory.records) {
    if (file.state === "changed" || file.state === "unreadable") {
      kept.push({ record: file.record, path: file.path, why: file.state });
    }
    if (file.state !== "missing") continue;
    if (!file.inStorage && !folderExists(dirname(file.path))) {
      kept.push({ record: file.record, path: file.path, why: "unreachable" });
    } else missing.push(file);
  }
  const tombstones = inventory.leftovers.filter((leftover) => leftover.kind === "tombstone")
    .map((leftover) => leftover.entry);
  const restores = await plannedRestores(missing, tombstones);
  const restored = new Set(restores.map((restore) => restore.record.id));
  const records: Omit<PlannedRecord, "freed">[] = [
    ...missing.filter((file) => !restored.has(file.record.id))
      .map((file) => ({ ...file, reason: "missing" as const })),
    ...chosenImages(inventory.records, options),
  ].map(({ record, path, entry, reason }) => ({ record, path, entry, reason }));

  const leaving = new Set(records.map((planned) => planned.record.id));
  const staying = new Set(
    inventory.records.filter((file) => !leaving.has(file.record.id)).map((file) => file.path),
  );
  const restoring = new Set(restores.map((restore) => restore.tombstone.path));
  const removable = (entry: StoredEntry) => ownership.own && inLayout(registry, entry);
  const files: Omit<PlannedFile, "freed">[] = [
    ...inventory.unknown.filter(removable).map((entry) => ({
      entry,
      reason: entry.type === "symlink" ? "symlink" as const : "unknown" as const,
    })),
    ...inventory.leftovers.filter((leftover) => !restoring.has(leftover.entry.path))
      .map(({ kind, entry }) => ({ entry, reason: kind })),
  ];

  // A record's file goes with it unless a record that stays names it; each path counts once.
  const deleted = new Set<string>();
  const removedEntries = (entry: StoredEntry | null) => {
    if (entry === null || staying.has(entry.path) || deleted.has(entry.path)) return null;
    deleted.add(entry.path);
    return entry;
  };
  const attribution = new FreedBytes([
    ...records.map((planned) => removedEntries(planned.entry)),
    ...files.map((planned) => removedEntries(planned.entry)),
  ]);
  const plannedRecords = records.map((planned, i) => ({ ...planned, freed: attribution.at(i) }));
  const plannedFiles = files.map((planned, i) => ({
    ...planned,
    freed: attribution.at(records.length + i),
  }));
  return {
    restores,
    records: plannedRecords,
    files: plannedFiles,
    kept: kept.filter((k) => !leaving.has(k.record.id)),
    bytes: attribution.total,
    foreign: inventory.unknown.filter((entry) => !removable(entry)),
    ownership,
  };
}

// sregistry's own layout: images at `<collection>/<name>/<tag>[@<version>].sif` (a registry host
// and nested collections deeper), folders above them. A symlink below the top is one planted
// where sregistry writes; anything else (a README, a file at the top) is not its to remove.
function inLayout(registry: Registry, entry: StoredEntry): boolean {
  const parts = registry.storage.toRecord(entry.path).split("/");
  if (entry.type === "symlink") return parts.length >= 2;
  return parts.length >= 3 && parts.at(-1)!.endsWith(".sif");
}

/** True when a plan changes nothing. */
export function isEmptyPlan(plan: PrunePlan): boolean {
  return plan.restores.length + plan.records.length + plan.files.length === 0;
}

/** When a record was last used (else created), in ms since the epoch; NaN when unknown. */
export function usedTime(record: StoredRecord): number {
  return Date.parse(`${record.usedAt.trim().replace(" ", "T")}Z`);
}

// The images --unused and --keep choose (both, when both are given), among those with a file.
function chosenImages(records: RecordFile[], options: PruneOptions): (RecordFile & {
  reason: RecordReason;
})[] {
  if (options.unusedDays === undefined && options.keep === undefined) return [];
  const now = (options.now ?? new Date()).getTime();
  const older = new Set<number>();
  if (options.keep !== undefined) {
    const newestFirst = new Map<string, number>();
    for (const file of [...records].reverse()) {
      if (!hasFile(file)) continue;
      const key = `${file.record.collectionId}\0${file.record.name}\0${file.record.tag}`;
      const seen = newestFirst.get(key) ?? 0;
      newestFirst.set(key, seen + 1);
      if (seen >= options.keep) older.add(file.record.id);
    }
  }
  return records.filter((file) => {
    if (!hasFile(file)) return false;
    if (options.keep !== undefined && !older.has(file.record.id)) return false;
    if (options.unusedDays === undefined) return true;
    return now - usedTime(file.record) > options.unusedDays * DAY_MS;
  }).map((file) => ({
    ...file,
    reason: options.unusedDays === undefined ? "old-version" : "unused",
  }));
}

// Tombstones (found in a record's folder) with the size and MD5 of the record's missing file.
async function plannedRestores(
  missing: RecordFile[],
  tombstones: StoredEntry[],
): Promise<PlannedRestore[]> {
  const candidates = missing.flatMap((file) =>
    file.inStorage && file.other === null && file.record.size !== null && file.record.md5 !== null
      ? tombstones.filter((tombstone) =>
        dirname(tombstone.path) === dirname(file.path) && tombstone.size === file.record.size
      ).map((tombstone) => ({ file, tombstone }))
      : []
  );
  if (candidates.length === 0) return [];
  const distinct = dedupe(candidates.map((candidate) => candidate.tombstone));
  const hashes = await hashFiles(distinct);
  const md5s = new Map(distinct.map((entry, i) => {
    const hash = hashes[i];
    return [
      entry.path,
      "md5" in hash && inodeKey(entry) === `${hash.dev}:${hash.ino}` ? hash.md5 : null,
    ];
  }));
  const restores: PlannedRestore[] = [];
  const chosen = new Set<number>();
  for (const { file, tombstone } of candidates) {
    if (chosen.has(file.record.id) || md5s.get(tombstone.path) !== file.record.md5) continue;
    chosen.add(file.record.id);
    restores.push({ record: file.record, path: file.path, tombstone });
  }
  return restores;
}

function hasFile(file: RecordFile): boolean {
  return file.state === "file" || file.state === "changed";
}

function dedupe(entries: StoredEntry[]): StoredEntry[] {
  return [...new Map(entries.map((entry) => [entry.path, entry])).values()];
}

function folderExists(folder: string): boolean {
  try {
    return Deno.statSync(folder).isDirectory;
  } catch {
    return false;
  }
}
