/**
 * `du`: where storage's bytes go, per collection and in total, what `prune` would reclaim (its
 * own plan, core/prune_plan.ts) and what shared content saves. A file's bytes count once however
 * many records name it (hard links included); a collection's row counts the files its records
 * use, so a file two collections share shows in both rows and once in the total.
 */
import { type Inventory, takeInventory } from "./inventory.ts";
import { planPrune } from "./prune_plan.ts";
import type { Registry } from "./registry.ts";
import { inodeKey } from "./storage_walk.ts";

/** Bytes some records use. */
export interface Usage {
  /** Records with an image file. */
  records: number;
  /** Distinct files they use (present ones). */
  files: number;
  /** Bytes of those files. */
  bytes: number;
}

/** One collection's usage. */
export interface CollectionUsage extends Usage {
  /** The collection. */
  collection: string;
}

/** What `du` shows. */
export interface StoreUsage {
  /** Per collection, the largest first. */
  collections: CollectionUsage[];
  /** All matched records together. */
  total: Usage;
  /** Files in storage no record names and leftovers of dead runs (only without queries). */
  unrecorded: { files: number; bytes: number } | null;
  /** What sharing saves: each record's file size summed, against the distinct files' bytes. */
  shared: { recordBytes: number; fileBytes: number; saved: number };
  /** What `prune` (with no options) would reclaim in the whole store. */
  reclaimable: { records: number; files: number; bytes: number };
}

/** Measures the records matching the queries (all, and storage as a whole, without any). */
export async function storeUsage(registry: Registry, queries: string[]): Promise<StoreUsage> {
  const inventory = await takeInventory(registry, queries);
  // One pass: each file's bytes by inode, per collection and in all.
  const all = new Map<string, number>();
  const rows = new Map<string, { records: number; files: Map<string, number> }>();
  let recordBytes = 0;
  for (const { record, entry } of inventory.records) {
    let row = rows.get(record.collection);
    if (row === undefined) rows.set(record.collection, row = { records: 0, files: new Map() });
    row.records++;
    if (entry === null) continue;
    const key = inodeKey(entry);
    row.files.set(key, entry.size);
    all.set(key, entry.size);
    recordBytes += entry.size;
  }
  const collections = [...rows].map(([collection, row]) => ({
    collection,
    records: row.records,
    ...sum(row.files),
  })).sort((a, b) => b.bytes - a.bytes || a.collection.localeCompare(b.collection));
  const total = { records: inventory.records.length, ...sum(all) };
  const plan = await planPrune(registry, {}, inventory.complete ? inventory : undefined);
  return {
    collections,
    total,
    unrecorded: inventory.complete ? unrecorded(inventory, all) : null,
    shared: { recordBytes, fileBytes: total.bytes, saved: recordBytes - total.bytes },
    reclaimable: { records: plan.records.length, files: plan.files.length, bytes: plan.bytes },
  };
}

// What storage holds beyond the records' files (`recorded`, by inode).
function unrecorded(
  inventory: Inventory,
  recorded: Map<string, number>,
): { files: number; bytes: number } {
  const extra = [...inventory.unknown, ...inventory.leftovers.map((leftover) => leftover.entry)];
  const files = new Map<string, number>();
  for (const entry of extra) {
    const key = inodeKey(entry);
    if (entry.type === "file" && !recorded.has(key)) files.set(key, entry.size);
  }
  return { files: extra.length, bytes: sum(files).bytes };
}

function sum(files: Map<string, number>): { files: number; bytes: number } {
  let bytes = 0;
  for (const size of files.values()) bytes += size;
  return { files: files.size, bytes };
}
