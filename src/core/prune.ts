/**
 * `prune` carries out a plan (core/prune_plan.ts), checking each step again as it takes it, so
 * whatever other commands did since the plan is never undone: a record goes through the
 * journaled rmi change (core/remove.ts), a file no record names is deleted only while the
 * database's write lock is held (files are linked into place only inside a write transaction),
 * a partial download only under its download lock, and nothing is ever followed through a
 * symlink. A kill at any moment leaves a store the next command (or prune) finishes tidying.
 */
import { basename, dirname } from "./paths.ts";
import type { Container } from "./containers.ts";
import { countNewerVersions, findStoredRecord, sameRecordedFile } from "./stored_records.ts";
import { immediate } from "./database.ts";
import { LockFile, removeAbandonedLock } from "./file_lock.ts";
import { namedPaths, partOf } from "./inventory.ts";
import { journaledPaths } from "./journal.ts";
import type { Registry } from "./registry.ts";
import { type Removal, removeChosen } from "./remove.ts";
import { storageWriteError } from "./add.ts";
import {
  type PlannedFile,
  type PlannedRecord,
  type PlannedRestore,
  type PrunePlan,
  usedTime,
} from "./prune_plan.ts";
import { STALE_AFTER_MS, temporaryFileOwner } from "./storage.ts";
import { linkFile, pruneEmptyFolders, removeIfPresent } from "./file_placement.ts";
import { FreedBytes, isStillThere, lstatEntry, type StoredEntry } from "./storage_walk.ts";

/** What prune did. */
export interface PruneOutcome {
  /** Tombstones put back where a record's file was missing. */
  restored: PlannedRestore[];
  /** Records removed, with what became of their files. */
  records: { planned: PlannedRecord; removal: Removal }[];
  /** Files deleted. */
  files: PlannedFile[];
  /** Planned steps left alone because another command changed their subject meanwhile. */
  skipped: number;
  /** Bytes freed. */
  bytes: number;
}

/** How prune's unused and old-version choices are checked again. */
export interface PruneCriteria {
  /** Days of disuse, as planned. */
  unusedDays?: number;
  /** Versions kept per name, as planned. */
  keep?: number;
  /** The time use was measured against. */
  now: Date;
}

/** Carries out a plan made with the same criteria. */
export function prune(registry: Registry, plan: PrunePlan, criteria: PruneCriteria): PruneOutcome {
  try {
    const restored = restoreTombstones(registry, plan.restores);
    const records = removeRecords(registry, plan.records, criteria);
    const files = deleteFiles(registry, plan.files);
    const skipped = plan.restores.length - restored.length + plan.records.length -
      records.length + plan.files.length - files.length;
    const removedEntries = [
      ...records.filter(({ removal }) => removal.fileState === "deleted")
        .map(({ planned }) => planned.entry)
        .filter((entry): entry is StoredEntry => entry !== null),
      ...files.map((file) => file.entry),
    ];
    const emptied = new Set([
      ...removedEntries.map((entry) => dirname(entry.path)),
      ...records.map(({ planned }) => dirname(planned.path)),
    ]);
    for (const folder of [...emptied].sort().reverse()) {
      if (registry.storage.contains(folder)) pruneEmptyFolders(folder, registry.storage.root);
    }
    return { restored, records, files, skipped, bytes: new FreedBytes(removedEntries).total };
  } catch (error) {
    throw storageWriteError(registry, error);
  }
}

// Links each tombstone back where its record's file belongs, then deletes the tombstone's name.
function restoreTombstones(registry: Registry, restores: PlannedRestore[]): PlannedRestore[] {
  if (restores.length === 0) return [];
  return immediate(registry.db, () => {
    const journaled = journaledPaths(registry);
    const restored: PlannedRestore[] = [];
    const linked = new Set<string>();
    for (const restore of restores) {
      const { tombstone, path } = restore;
      const record = findStoredRecord(registry.db, restore.record.id);
      if (
        !sameRecordedFile(restore.record, record) || journaled.has(tombstone.path) ||
        !isStillThere(tombstone) || lstatEntry(path) !== null ||
        !registry.storage.reachedDirectly(path) || !registry.storage.reachedDirectly(tombstone.path)
      ) continue;
      linkFile(tombstone.path, path);
      linked.add(tombstone.path);
      restored.push(restore);
      registry.failpoint("prune:restore");
    }
    // Gone already where hard links are unsupported and the link was a rename.
    for (const tombstone of linked) removeIfPresent(tombstone);
    return restored;
  });
}

function removeRecords(
  registry: Registry,
  planned: PlannedRecord[],
  criteria: PruneCriteria,
): { planned: PlannedRecord; removal: Removal }[] {
  if (planned.length === 0) return [];
  const byId = new Map(planned.map((record) => [record.record.id, record]));
  const removals = removeChosen(registry, [...byId.keys()], {
    command: "prune",
    recheck: () => {
      const journaled = journaledPaths(registry);
      return (container: Container) =>
        stillChosen(registry, byId.get(container.id)!, {
          criteria,
          journaled,
        });
    },
  });
  return removals.map((removal) => ({ planned: byId.get(removal.container.id)!, removal }));
}

// Whether a planned record still qualifies, read afresh inside the change's transaction.
function stillChosen(
  registry: Registry,
  planned: PlannedRecord,
  context: { criteria: PruneCriteria; journaled: Set<string> },
): boolean {
  const record = findStoredRecord(registry.db, planned.record.id);
  if (record === undefined || record.image !== planned.record.image) return false;
  // A change in flight (an rmi undoing, a pull placing) may still need the file.
  if (context.journaled.has(planned.path)) return false;
  const { criteria } = context;
  switch (planned.reason) {
    case "missing":
      return registry.storage.fileState(planned.path, record.size) === "missing";
    case "unused":
    case "old-version": {
      const now = criteria.now.getTime();
      const unused = criteria.unusedDays === undefined ||
        now - usedTime(record) > criteria.unusedDays * 24 * 60 * 60 * 1000;
      const old = criteria.keep === undefined ||
        countNewerVersions(registry.db, record) >= criteria.keep;
      return unused && old;
    }
  }
}

// Files no record names, temporary files and tombstones under the database's write lock;
// partial downloads under their own lock; owner locks as their holders' deaths allow.
function deleteFiles(registry: Registry, files: PlannedFile[]): PlannedFile[] {
  const locked = files.filter((file) =>
    ["unknown", "symlink", "temporary", "tombstone"].includes(file.reason)
  );
  const deleted: PlannedFile[] = [];
  if (locked.length > 0) {
    immediate(registry.db, () => {
      const named = namedPaths(registry);
      const journaled = journaledPaths(registry);
      for (const file of locked) {
        const path = file.entry.path;
        if (named.has(path) || journaled.has(path) || !isStillThere(file.entry)) continue;
        if (!registry.storage.reachedDirectly(path)) continue;
        if (file.reason === "temporary" && !stillStale(file.entry)) continue;
        Deno.removeSync(path); // a symlink goes itself; its target is never touched
        deleted.push(file);
        registry.failpoint("prune:unlink");
      }
    });
  }
  deleted.push(...deleteParts(registry, files.filter((file) => file.reason === "partial")));
  for (const file of files.filter((file) => file.reason === "owner-lock")) {
    if (isStillThere(file.entry) && removeAbandonedLock(file.entry.path)) deleted.push(file);
  }
  return deleted;
}

// Each partial download with its sidecar, while holding its download lock: a pull starting now
// waits for it, then finds no part and starts afresh.
function deleteParts(registry: Registry, files: PlannedFile[]): PlannedFile[] {
  const groups = Map.groupBy(files, (file) => partOf(file.entry.path));
  const deleted: PlannedFile[] = [];
  for (const [part, group] of groups) {
    const lockPath = `${part}.lock`;
    if (!registry.storage.reachedDirectly(part)) continue;
    let lock = LockFile.create(lockPath);
    if (lock === null && removeAbandonedLock(lockPath)) lock = LockFile.create(lockPath);
    if (lock === null) continue; // a pull holds it now
    try {
      for (const file of group) {
        if (file.entry.path === lockPath) {
          deleted.push(file); // taken over above; released (deleted) below
          continue;
        }
        if (!isStillThere(file.entry)) continue;
        Deno.removeSync(file.entry.path);
        deleted.push(file);
        registry.failpoint("prune:unlink");
      }
    } finally {
      lock.release();
    }
  }
  return deleted;
}

// A temporary file of an older version (named after a pid) is stale while untouched for long.
function stillStale(planned: StoredEntry): boolean {
  if (temporaryFileOwner(basename(planned.path)) !== null) return true; // its owner is dead
  const now = lstatEntry(planned.path);
  return now?.mtime != null && Date.now() - now.mtime > STALE_AFTER_MS;
}
