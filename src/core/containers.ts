/**
 * The Container row type and the lookups of records. With its siblings, each loaded only by
 * the commands that need it (container_writes.ts, container_listing.ts, stored_records.ts), it
 * holds every SQL statement on the `collection` and `container` tables. A lookup without a
 * version returns the most recently added match (highest id), never an arbitrary one; values
 * are always parameters, never SQL text.
 */
import type { DatabaseSync, SQLInputValue } from "node:sqlite";
import { collectionKey, type ImageName } from "./names.ts";

/** One container record. */
export interface Container {
  /** Row id; higher means added later. */
  id: number;
  /** Row id of the collection. */
  collectionId: number;
  /** Collection name, with the registry host in front when the name had one. */
  collection: string;
  /** Image name. */
  name: string;
  /** Tag. */
  tag: string;
  /** Version (MD5 of the file for local images), or null. */
  version: string | null;
  /** Full name, `collection/name:tag@version`. */
  uri: string;
  /** Image file as recorded (relative to storage when inside it), null for a remote-only record. */
  image: string | null;
  /** Where the image came from or can be fetched. */
  url: string | null;
  /** Client that added or last updated the record. */
  client: string;
  /** When the record was created, UTC `YYYY-MM-DD HH:MM:SS`. */
  createdAt: string;
  /** When the image was last used (`get`, `pull`, `add`), UTC, or null when never recorded. */
  usedAt: string | null;
  /** The original client's metrics column, parsed. */
  metrics: unknown;
  /** Metadata kept with the record (a remote's manifest, or the user's JSON), parsed. */
  metadata: unknown;
  /** Size of the image file in bytes, when known. */
  size: number | null;
  /** MD5 of the image file, when known. */
  md5: string | null;
}

/** The columns of a Container row (toContainer reads them), from both tables. */
export const CONTAINER_SELECT = `
  SELECT container.id, container.collection_id, collection.name AS collection, container.name,
    container.tag, container.version, container.uri, container.image, container.url,
    container.client, container.created_at, container.used_at, container.metrics,
    container.metadata,
    container.size, container.md5
  FROM container JOIN collection ON collection.id = container.collection_id`;

/** All records of a name (all versions unless it carries one), newest first. */
export function findContainers(db: DatabaseSync, image: ImageName): Container[] {
  const params: SQLInputValue[] = [collectionKey(image), image.name, image.tag];
  let sql =
    `${CONTAINER_SELECT} WHERE collection.name = ? AND container.name = ? AND container.tag = ?`;
  if (image.version) {
    sql += " AND container.version = ?";
    params.push(image.version);
  }
  return db.prepare(`${sql} ORDER BY container.id DESC`).all(...params).map(toContainer);
}

/**
 * The records of a name's version whatever their tag, newest first: a version names one image,
 * so `collection/name@version` finds it without its tag.
 */
export function findVersion(db: DatabaseSync, image: ImageName): Container[] {
  if (!image.version) return [];
  return db.prepare(
    `${CONTAINER_SELECT} WHERE collection.name = ? AND container.name = ? AND container.version = ? ` +
      "ORDER BY container.id DESC",
  ).all(collectionKey(image), image.name, image.version).map(toContainer);
}

/**
 * The records of a name whose version starts with `prefix`, whatever their tag, newest first:
 * what a version prefix (`lab/tool@0b4b1c0e`) may mean.
 */
export function findVersionPrefix(db: DatabaseSync, image: ImageName, prefix: string): Container[] {
  return db.prepare(
    `${CONTAINER_SELECT} WHERE collection.name = ? AND container.name = ? ` +
      "AND substr(container.version, 1, ?) = ? ORDER BY container.id DESC",
  ).all(collectionKey(image), image.name, prefix.length, prefix).map(toContainer);
}

/** Every recorded `collection`, `name` and `tag`, once each. */
export function recordedNames(
  db: DatabaseSync,
): { collection: string; name: string; tag: string }[] {
  return db.prepare(`
    SELECT DISTINCT collection.name AS collection, container.name AS name, container.tag AS tag
    FROM container JOIN collection ON collection.id = container.collection_id`).all()
    .map((row) => ({
      collection: String(row.collection),
      name: String(row.name),
      tag: String(row.tag),
    }));
}

/** The record whose file is `recorded`, if any. */
export function findByFile(db: DatabaseSync, recorded: string): Container | undefined {
  const row = db.prepare(`${CONTAINER_SELECT} WHERE container.image = ? LIMIT 1`).get(recorded);
  return row ? toContainer(row) : undefined;
}

/** The record of this id, if it still exists. */
export function findContainerById(db: DatabaseSync, id: number): Container | undefined {
  const row = db.prepare(`${CONTAINER_SELECT} WHERE container.id = ?`).get(id);
  return row ? toContainer(row) : undefined;
}

/**
 * Records with a file whose metadata names `digest` as their OCI layer (`layer_digest`, as oras
 * pulls record it), newest first.
 */
export function findByLayerDigest(db: DatabaseSync, digest: string): Container[] {
  return db.prepare(`${CONTAINER_SELECT} WHERE coalesce(container.image, '') != ''
      AND CASE WHEN json_valid(container.metadata)
        THEN json_extract(container.metadata, '$.layer_digest') END = ?
    ORDER BY container.id DESC`).all(digest).map(toContainer);
}

/**
 * Recorded image paths holding content of this MD5 and size, other than `except`: the files a
 * new image of the same content can share.
 */
export function filesWithContent(
  db: DatabaseSync,
  content: { md5: string; size: number },
  except: string,
): string[] {
  return db.prepare(`
    SELECT DISTINCT image FROM container
    WHERE md5 = ? AND size = ? AND image IS NOT NULL AND image != '' AND image != ?`)
    .all(content.md5, content.size, except)
    .map((row) => String(row.image));
}

/** True when a record other than `id` has the image file `recorded`. */
export function fileShared(db: DatabaseSync, recorded: string, id: number): boolean {
  return db.prepare("SELECT 1 FROM container WHERE image = ? AND id != ? LIMIT 1")
    .get(recorded, id) !== undefined;
}

/** True while a record of this id exists. */
export function containerExists(db: DatabaseSync, id: number): boolean {
  return db.prepare("SELECT 1 FROM container WHERE id = ?").get(id) !== undefined;
}

/** How many records there are. */
export function countContainers(db: DatabaseSync): number {
  return Number(
    (db.prepare("SELECT count(*) AS count FROM container").get() as { count: number })
      .count,
  );
}

/** Records that an image was used now (`get`, `pull`, `add`). */
export function markUsed(db: DatabaseSync, id: number): void {
  db.prepare("UPDATE container SET used_at = datetime('now') WHERE id = ?").run(id);
}

/** True when a record's use was last recorded more than an hour ago, or never. */
export function useIsStale(container: Container): boolean {
  if (container.usedAt === null) return true;
  const used = Date.parse(container.usedAt.replace(" ", "T") + "Z");
  return !(Date.now() - used < 60 * 60 * 1000);
}

function parseJson(text: unknown): unknown {
  if (typeof text !== "string" || text === "") return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** A row of CONTAINER_SELECT as a Container. */
export function toContainer(row: Record<string, SQLInputValue>): Container {
  return {
    id: Number(row.id),
    collectionId: Number(row.collection_id),
    collection: String(row.collection),
    name: String(row.name),
    tag: String(row.tag),
    version: row.version === null || row.version === "" ? null : String(row.version),
    uri: String(row.uri ?? ""),
    image: row.image === null || row.image === "" ? null : String(row.image),
    url: row.url === null ? null : String(row.url),
    client: String(row.client),
    createdAt: String(row.created_at ?? ""),
    usedAt: row.used_at === null || row.used_at === undefined ? null : String(row.used_at),
    metrics: parseJson(row.metrics),
    metadata: parseJson(row.metadata),
    size: row.size === null || row.size === undefined ? null : Number(row.size),
    md5: row.md5 === null || row.md5 === undefined ? null : String(row.md5),
  };
}
