/**
 * Every SQL statement on the `collection` and `container` tables, and the Container row type.
 * A lookup without a version returns the most recently added match (highest id), never an
 * arbitrary one. Listings keep the records that every query matches and that pass their filter;
 * values are always parameters, never SQL text.
 */
import type { DatabaseSync, SQLInputValue } from "node:sqlite";
import { collectionKey, type ImageName } from "./names.ts";

/**
 * `local` (its file is there, of the recorded size), `remote` (a record without a file),
 * `missing` (no regular file at its path), `changed` (a file of another size) or `unreadable`
 * (behind a folder this user may not enter).
 */
export type ImageLocation = "local" | "remote" | "missing" | "changed" | "unreadable";

/** What a listing keeps besides its queries. */
export interface ImageFilter {
  /** Architecture, in SIF's spelling (`amd64`). */
  arch?: string;
  /** Labels every kept record has: a key with this value, or with any value when none is given. */
  labels?: { key: string; value?: string }[];
  /** Keep records in any of these locations; every location when missing or empty. */
  locations?: ImageLocation[];
  /** Keep records of this client (the record's `client`, compared without case). */
  client?: string;
  /** Keep records created at or after this UTC time, `YYYY-MM-DD HH:MM:SS`. */
  since?: string;
  /** Keep records created before this UTC time, `YYYY-MM-DD HH:MM:SS`. */
  before?: string;
}

/** The fields a listing sorts on. */
export const SORT_FIELDS = ["date", "name", "size", "used", "client", "location"] as const;

/** A field a listing sorts on. */
export type SortField = typeof SORT_FIELDS[number];

/** How a listing is ordered: by a field (ascending), or in the order records were added. */
export interface RecordOrder {
  /** The field; none means the order records were added (by id). */
  sort?: SortField;
  /** Descending instead. */
  reverse?: boolean;
}

/**
 * Where a record's image is (an ImageLocation), computed by the `image_state` function that
 * opening the registry registers (it looks at the file).
 */
export const LOCATION_SQL = "CASE WHEN coalesce(container.image, '') = '' THEN 'remote' " +
  "ELSE image_state(container.image, container.size) END";

// Ties keep the order records were added. A size never known sorts below every size, an image
// never used below every use.
const SORT_SQL: Record<SortField, string> = {
  date: "container.created_at",
  name: "container.uri",
  size: "coalesce(container.size, -1)",
  used: "coalesce(container.used_at, '')",
  client: "lower(container.client)",
  location: LOCATION_SQL,
};

// The metrics column as JSON SQLite can read: a damaged value (no JSON) matches nothing.
const METRICS = "(CASE WHEN json_valid(container.metrics) THEN container.metrics ELSE '{}' END)";

const QUERY_MATCH = "(instr(lower(collection.name), ?) OR instr(lower(container.name), ?) " +
  "OR instr(lower(container.tag), ?) OR instr(lower(container.uri), ?))";

/**
 * A SQL condition (and its parameters) keeping the records that every query matches (a
 * substring of collection, name, tag or uri, without case; `*` and empty queries match all) and
 * that pass the filter; "1" keeps all.
 */
export function recordCondition(
  queries: string[],
  where: ImageFilter = {},
): { condition: string; params: string[] } {
  const conditions: string[] = [];
  const params: string[] = [];
  for (const query of queries) {
    if (query === "" || query === "*") continue;
    conditions.push(QUERY_MATCH);
    params.push(...Array(4).fill(query.toLowerCase()));
  }
  if (where.arch !== undefined) {
    conditions.push(`json_extract(${METRICS}, '$.arch') = ?`);
    params.push(where.arch);
  }
  for (const label of where.labels ?? []) {
    const value = label.value === undefined ? "" : " AND type = 'text' AND value = ?";
    conditions.push(
      `EXISTS (SELECT 1 FROM json_each(${METRICS}, '$.labels') WHERE key = ?${value})`,
    );
    params.push(label.key, ...(label.value === undefined ? [] : [label.value]));
  }
  const locations = [...new Set(where.locations ?? [])];
  if (locations.length === 1 && locations[0] === "remote") {
    // Without a look at any file.
    conditions.push("coalesce(container.image, '') = ''");
  } else if (locations.length > 0) {
    conditions.push(`(${LOCATION_SQL}) IN (${locations.map(() => "?").join(", ")})`);
    params.push(...locations);
  }
  if (where.client !== undefined) {
    conditions.push("lower(container.client) = ?");
    params.push(where.client.toLowerCase());
  }
  if (where.since !== undefined) {
    conditions.push("container.created_at >= ?");
    params.push(where.since);
  }
  if (where.before !== undefined) {
    conditions.push("container.created_at < ?");
    params.push(where.before);
  }
  return { condition: conditions.length ? conditions.join(" AND ") : "1", params };
}

/** The ORDER BY terms of an order (without the keywords). */
export function orderTerms(order: RecordOrder = {}): string {
  const direction = order.reverse ? "DESC" : "ASC";
  const id = `container.id ${direction}`;
  return order.sort === undefined ? id : `${SORT_SQL[order.sort]} ${direction}, ${id}`;
}

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

const SELECT = `
  SELECT container.id, container.collection_id, collection.name AS collection, container.name,
    container.tag, container.version, container.uri, container.image, container.url,
    container.client, container.created_at, container.used_at, container.metrics,
    container.metadata,
    container.size, container.md5
  FROM container JOIN collection ON collection.id = container.collection_id`;

/** All records of a name (all versions unless it carries one), newest first. */
export function findContainers(db: DatabaseSync, image: ImageName): Container[] {
  const params: SQLInputValue[] = [collectionKey(image), image.name, image.tag];
  let sql = `${SELECT} WHERE collection.name = ? AND container.name = ? AND container.tag = ?`;
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
    `${SELECT} WHERE collection.name = ? AND container.name = ? AND container.version = ? ` +
      "ORDER BY container.id DESC",
  ).all(collectionKey(image), image.name, image.version).map(toContainer);
}

/**
 * The records of a name whose version starts with `prefix`, whatever their tag, newest first:
 * what a version prefix (`lab/tool@0b4b1c0e`) may mean.
 */
export function findVersionPrefix(db: DatabaseSync, image: ImageName, prefix: string): Container[] {
  return db.prepare(
    `${SELECT} WHERE collection.name = ? AND container.name = ? ` +
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
  const row = db.prepare(`${SELECT} WHERE container.image = ? LIMIT 1`).get(recorded);
  return row ? toContainer(row) : undefined;
}

/** The record of this id, if it still exists. */
export function findContainerById(db: DatabaseSync, id: number): Container | undefined {
  const row = db.prepare(`${SELECT} WHERE container.id = ?`).get(id);
  return row ? toContainer(row) : undefined;
}

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

/**
 * Records with a file whose metadata names `digest` as their OCI layer (`layer_digest`, as oras
 * pulls record it), newest first.
 */
export function findByLayerDigest(db: DatabaseSync, digest: string): Container[] {
  return db.prepare(`${SELECT} WHERE coalesce(container.image, '') != ''
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

/**
 * Records matching every query (a substring of collection, name, tag or uri, without case),
 * oldest first. No query lists everything.
 */
export function listContainers(db: DatabaseSync, queries: string[]): Container[] {
  const filter = recordCondition(queries);
  return db.prepare(`${SELECT} WHERE ${filter.condition} ORDER BY container.id`)
    .all(...filter.params)
    .map(toContainer);
}

// The public JSON shape of a record, built by SQLite: 100,000 records serialise in a fraction of
// the time that row objects, JSON.parse and JSON.stringify take. `image` becomes absolute.
const RECORD_OBJECT = `json_object(
    'id', container.id, 'collection', collection.name, 'collection_id', container.collection_id,
    'name', container.name, 'tag', container.tag, 'version', NULLIF(container.version, ''),
    'uri', container.uri,
    'image', CASE WHEN container.image IS NULL OR container.image = '' THEN NULL
      WHEN substr(container.image, 1, 1) = '/' THEN container.image
      ELSE :root || '/' || container.image END,
    'url', container.url, 'client', container.client, 'created_at', container.created_at,
    'used_at', container.used_at, 'location', ${LOCATION_SQL},
    'size', container.size, 'md5', container.md5,
    'metadata', CASE WHEN json_valid(container.metadata) THEN json(container.metadata)
      ELSE container.metadata END,
    'metrics', CASE WHEN json_valid(container.metrics) THEN json(container.metrics)
      ELSE container.metrics END)`;
const FROM = "FROM container JOIN collection ON collection.id = container.collection_id";
const RECORD_JSON = `SELECT container.id AS id, ${RECORD_OBJECT} AS record ${FROM}`;

/** Options of containerRecordsJson. */
export interface RecordsJsonOptions {
  /** The most records in one batch. */
  batchSize: number;
  /** What joins the records of a batch. */
  separator: string;
  /** What to keep besides the queries. */
  where?: ImageFilter;
  /** The order; by default, the order records were added. */
  order?: RecordOrder;
}

/**
 * The JSON text of the records matching the queries (as listContainers), in batches of up to
 * `batchSize` records joined by `separator`. SQLite joins each batch: a row object and a string
 * per record cost a third of listing 100,000 records.
 */
export function* containerRecordsJson(
  db: DatabaseSync,
  storageRoot: string,
  queries: string[],
  options: RecordsJsonOptions,
): Generator<string> {
  const filter = recordCondition(queries, options.where);
  const order = options.order ?? {};
  if (order.sort !== undefined || order.reverse) {
    yield* orderedRecordsJson(db, storageRoot, filter, options);
    return;
  }
  // Keyset pages: each batch starts after the last id of the one before.
  const statement = db.prepare(`
    SELECT group_concat(record, :separator ORDER BY id) AS text, max(id) AS last FROM (
      ${RECORD_JSON} WHERE container.id > :after AND ${filter.condition}
      ORDER BY container.id LIMIT :limit)`);
  let after = 0;
  while (true) {
    const batch = statement.get(
      { root: storageRoot, separator: options.separator, after, limit: options.batchSize },
      ...filter.params,
    ) as { text: string | null; last: number | null };
    if (batch.text === null || batch.last === null) return;
    yield batch.text;
    after = batch.last;
  }
}

// Another order: the ids in that order in one statement (a sort of every record per batch
// would cost a batch count of sorts), then their records a batch at a time, in that order.
function* orderedRecordsJson(
  db: DatabaseSync,
  storageRoot: string,
  filter: { condition: string; params: string[] },
  options: RecordsJsonOptions,
): Generator<string> {
  const row = db.prepare(
    `SELECT json_group_array(container.id ORDER BY ${orderTerms(options.order)}) AS ids ${FROM}
    WHERE ${filter.condition}`,
  ).get(...filter.params) as { ids: string };
  const ids = JSON.parse(row.ids) as number[];
  const statement = db.prepare(`
    SELECT group_concat(record, :separator ORDER BY position) AS text FROM (
      SELECT batch.key AS position, ${RECORD_OBJECT} AS record
      FROM json_each(:ids) AS batch JOIN container ON container.id = batch.value
        JOIN collection ON collection.id = container.collection_id)`);
  for (let start = 0; start < ids.length; start += options.batchSize) {
    const batch = statement.get({
      root: storageRoot,
      separator: options.separator,
      ids: JSON.stringify(ids.slice(start, start + options.batchSize)),
    }) as { text: string | null };
    if (batch.text !== null) yield batch.text;
  }
}

/** The JSON text of one record. */
export function containerRecordJson(db: DatabaseSync, storageRoot: string, id: number): string {
  const row = db.prepare(`${RECORD_JSON} WHERE container.id = :id`).get({ root: storageRoot, id });
  return String((row as { record: string }).record);
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

/** Inserts a record and returns its id. */
export function insertContainer(db: DatabaseSync, fields: ContainerFields): number {
  const result = db.prepare(`
    INSERT INTO container (created_at, metrics, name, tag, image, url, uri, client, version,
      collection_id, size, md5, metadata)
    VALUES (datetime('now'), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(
    jsonOrNull(fields.metrics) ?? "{}",
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
  );
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
    UPDATE container SET name = ?, tag = ?, image = ?, url = ?, uri = ?, client = ?, version = ?,
      collection_id = ?, size = ?, md5 = ?, metadata = ?${setMetrics}
    WHERE id = ?`).run(
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
    ...metrics.map(([, value]) => JSON.stringify(value ?? null)),
    id,
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

function parseJson(text: unknown): unknown {
  if (typeof text !== "string" || text === "") return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
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

function toContainer(row: Record<string, SQLInputValue>): Container {
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
