/**
 * Records as their public JSON, which SQLite builds: one record, or every record a listing keeps
 * (container_listing.ts), in batches.
 */
import type { DatabaseSync } from "node:sqlite";
import {
  type ImageFilter,
  LOCATION_SQL,
  orderTerms,
  recordCondition,
  type RecordOrder,
} from "./container_listing.ts";

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
