/** Records with an image file as checks of storage (verify, prune) see them: no metadata. */
import type { DatabaseSync, SQLInputValue } from "node:sqlite";
import { recordCondition } from "./container_listing.ts";

/** A record with an image file, as checks of storage see it: no metadata. */
export interface StoredRecord {
  /** Row id; higher means added later. */
  id: number;
  /** Row id of the collection. */
  collectionId: number;
  /** Collection name. */
  collection: string;
  /** Image name. */
  name: string;
  /** Tag. */
  tag: string;
  /** Full name. */
  uri: string;
  /** Image file as recorded. */
  image: string;
  /** Recorded size in bytes, when known. */
  size: number | null;
  /** Recorded MD5, when known. */
  md5: string | null;
  /** When the image was last used, else when it was recorded (UTC `YYYY-MM-DD HH:MM:SS`). */
  usedAt: string;
}

const STORED = `
  SELECT container.id, container.collection_id, collection.name AS collection, container.name,
    container.tag, container.uri, container.image, container.size, container.md5,
    coalesce(container.used_at, container.created_at, '') AS used_at
  FROM container JOIN collection ON collection.id = container.collection_id
  WHERE coalesce(container.image, '') != ''`;

/** The records with an image file that match every query (as listContainers), oldest first. */
export function listStoredRecords(db: DatabaseSync, queries: string[]): StoredRecord[] {
  const filter = recordCondition(queries);
  return db.prepare(`${STORED} AND ${filter.condition} ORDER BY container.id`)
    .all(...filter.params)
    .map(toStoredRecord);
}

/** The record of this id when it still has an image file. */
export function findStoredRecord(db: DatabaseSync, id: number): StoredRecord | undefined {
  const row = db.prepare(`${STORED} AND container.id = ?`).get(id);
  return row ? toStoredRecord(row) : undefined;
}

/** How many records of the same collection, name and tag, with an image file, are newer. */
export function countNewerVersions(db: DatabaseSync, record: StoredRecord): number {
  const row = db.prepare(`
    SELECT count(*) AS count FROM container
    WHERE collection_id = ? AND name = ? AND tag = ? AND id > ? AND coalesce(image, '') != ''`)
    .get(record.collectionId, record.name, record.tag, record.id) as { count: number };
  return Number(row.count);
}

/** What a record says of its image file: path (as recorded), size and MD5. */
export type RecordedFile = Pick<StoredRecord, "image" | "size" | "md5">;

/** What every record with an image file says of it, by record id. */
export function recordedFiles(db: DatabaseSync): Map<number, RecordedFile> {
  const files = new Map<number, RecordedFile>();
  const rows = db.prepare(
    "SELECT id, image, size, md5 FROM container WHERE coalesce(image, '') != ''",
  ).all();
  for (const row of rows) {
    files.set(Number(row.id), {
      image: String(row.image),
      size: row.size === null ? null : Number(row.size),
      md5: row.md5 === null ? null : String(row.md5),
    });
  }
  return files;
}

/** True when a record still says of its file what `record` says. */
export function sameRecordedFile(record: RecordedFile, now: RecordedFile | undefined): boolean {
  return now !== undefined && now.image === record.image && now.size === record.size &&
    now.md5 === record.md5;
}

function toStoredRecord(row: Record<string, SQLInputValue>): StoredRecord {
  return {
    id: Number(row.id),
    collectionId: Number(row.collection_id),
    collection: String(row.collection),
    name: String(row.name),
    tag: String(row.tag),
    uri: String(row.uri ?? ""),
    image: String(row.image),
    size: row.size === null || row.size === undefined ? null : Number(row.size),
    md5: row.md5 === null || row.md5 === undefined ? null : String(row.md5),
    usedAt: String(row.used_at),
  };
}
