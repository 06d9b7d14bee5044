/** The writes of records: creating, rewriting and deleting them, and their collections. */
import type { DatabaseSync, SQLInputValue } from "node:sqlite";
import type { Container } from "./containers.ts";
import { collectionKey, type ImageName } from "./names.ts";

/** Fields written when a container is created or updated. */
export interface ContainerFields {
  /** Full name; its version is the record's version. */
  image: ImageName;
  /** The uri column. */
  uri: string;
  /** Recorded image path, or null for a remote-only record. */
  file: string | null;
  /** Source URL. */
  url: string | null;
  /** Client name. */
  client: string;
  /** Metadata to keep, or null. */
  metadata: unknown;
  /** File size in bytes, or null. */
  size: number | null;
  /** File MD5, or null. */
  md5: string | null;
  /**
   * Keys to set in the record's metrics object: what was read from the image file
   * (core/image_inspection.ts's ImageFacts). Other keys (the Python client's) are kept.
   */
  metrics?: Record<string, unknown>;
}

/** The id of a collection, created when missing. */
export function collectionId(db: DatabaseSync, name: string): number {
  const found = db.prepare("SELECT id FROM collection WHERE name = ?").get(name) as
    | { id: number }
    | undefined;
  if (found) return found.id;
  const result = db.prepare(
    "INSERT INTO collection (name, token, created_at) VALUES (?, ?, datetime('now'))",
  ).run(name, crypto.randomUUID());
  return Number(result.lastInsertRowid);
}

// The columns every write sets from a record's fields, in the order fieldValues gives them.
const FIELD_COLUMNS = [
  "name",
  "tag",
  "image",
  "url",
  "uri",
  "client",
  "version",
  "collection_id",
  "size",
  "md5",
  "metadata",
];

function fieldValues(db: DatabaseSync, fields: ContainerFields): SQLInputValue[] {
  return [
    fields.image.name,
    fields.image.tag,
    fields.file,
    fields.url,
    fields.uri,
    fields.client,
    fields.image.version,
    collectionId(db, collectionKey(fields.image)),
    fields.size,
    fields.md5,
    jsonOrNull(fields.metadata),
  ];
}

/** Inserts a record and returns its id. */
export function insertContainer(db: DatabaseSync, fields: ContainerFields): number {
  const result = db.prepare(`
    INSERT INTO container (created_at, metrics, ${FIELD_COLUMNS.join(", ")})
    VALUES (datetime('now'), ?, ${FIELD_COLUMNS.map(() => "?").join(", ")})`)
    .run(jsonOrNull(fields.metrics) ?? "{}", ...fieldValues(db, fields));
  return Number(result.lastInsertRowid);
}

/** Rewrites a record's fields, keeping its id and creation time. */
export function updateContainer(db: DatabaseSync, id: number, fields: ContainerFields): void {
  const metrics = Object.entries(fields.metrics ?? {}).filter(([key]) => /^[a-z_]+$/.test(key));
  const setMetrics = metrics.length === 0 ? "" : `, metrics = json_set(
      CASE WHEN json_valid(metrics) THEN CASE WHEN json_type(metrics) = 'object' THEN metrics
        ELSE '{}' END ELSE '{}' END,
      ${metrics.map(([key]) => `'$.${key}', json(?)`).join(", ")})`;
  db.prepare(`
    UPDATE container SET ${FIELD_COLUMNS.map((column) => `${column} = ?`).join(", ")}${setMetrics}
    WHERE id = ?`).run(
    ...fieldValues(db, fields),
    ...metrics.map(([, value]) => JSON.stringify(value ?? null)),
    id,
  );
}

/** Deletes a record, and its collection when that becomes empty. */
export function deleteContainer(db: DatabaseSync, container: Container): void {
  db.prepare("DELETE FROM container WHERE id = ?").run(container.id);
  pruneCollection(db, container.collectionId);
}

/** Deletes a collection row that no container refers to any more. */
export function pruneCollection(db: DatabaseSync, id: number): void {
  db.prepare(
    "DELETE FROM collection WHERE id = ? AND NOT EXISTS " +
      "(SELECT 1 FROM container WHERE collection_id = ?)",
  ).run(id, id);
}

/** The fields of an existing record, for an update that changes only some of them. */
export function fieldsOf(container: Container, image: ImageName): ContainerFields {
  return {
    image,
    uri: container.uri,
    file: container.image,
    url: container.url,
    client: container.client,
    metadata: container.metadata,
    size: container.size,
    md5: container.md5,
    // What was read from the file goes with it (a tag is the same file under a second name).
    metrics: typeof container.metrics === "object" && container.metrics !== null &&
        !Array.isArray(container.metrics)
      ? container.metrics as Record<string, unknown>
      : undefined,
  };
}

function jsonOrNull(value: unknown): string | null {
  return value === null || value === undefined ? null : JSON.stringify(value);
}
