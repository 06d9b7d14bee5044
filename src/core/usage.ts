/**
 * `du`: where storage's bytes go, per collection and in total, what `prune` would reclaim (its
 * own plan, core/prune_plan.ts) and what shared content saves. A file's bytes count once however
 * many records name it (hard links included); a collection's row counts the files its records
 * use, so a file two collections share shows in both rows and once in the total.
 */
import { type Inventory, type RecordFile, takeInventory } from "./inventory.ts";
import { planPrune } from "./prune_plan.ts";
import type { Registry } from "./registry.ts";
import { inodeKey, type StoredEntry } from "./storage_walk.ts";

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
  const inventory = takeInventory(registry, queries);
  const byCollection = Map.groupBy(inventory.records, (file) => file.record.collection);
  const collections = [...byCollection].map(([collection, files]) => ({
    collection,
    ...usageOf(files),
  })).sort((a, b) => b.bytes - a.bytes || a.collection.localeCompare(b.collection));
  const total = usageOf(inventory.records);
  const recordBytes = inventory.records.reduce((sum, file) => sum + (file.entry?.size ?? 0), 0);
  const plan = await planPrune(registry, {}, inventory.complete ? inventory : undefined);
  return {
    collections,
    total,
    unrecorded: inventory.complete ? unrecorded(inventory) : null,
    shared: { recordBytes, fileBytes: total.bytes, saved: recordBytes - total.bytes },
    reclaimable: { records: plan.records.length, files: plan.files.length, bytes: plan.bytes },
  };
}

function usageOf(files: RecordFile[]): Usage {
  const distinct = distinctBytes(files.map((file) => file.entry));
  return { records: files.length, ...distinct };
}

// Bytes of what storage holds beyond the records' files.
function unrecorded(inventory: Inventory): { files: number; bytes: number } {
  const records = distinctBytes(inventory.records.map((file) => file.entry));
  const extra = [...inventory.unknown, ...inventory.leftovers.map((leftover) => leftover.entry)];
  const all = distinctBytes([...inventory.records.map((file) => file.entry), ...extra]);
  return { files: extra.length, bytes: all.bytes - records.bytes };
}

function distinctBytes(entries: (StoredEntry | null)[]): { files: number; bytes: number } {
  const seen = new Map<string, number>();
  for (const entry of entries) {
    if (entry !== null && entry.type === "file") seen.set(inodeKey(entry), entry.size);
  }
  return { files: seen.size, bytes: [...seen.values()].reduce((sum, size) => sum + size, 0) };
}
