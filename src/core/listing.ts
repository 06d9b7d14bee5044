/**
 * The rows `images` shows: every field a table or a `--format` line can name, for the records a
 * query and filter keep, in the order asked for. Only the columns asked for are read; metadata,
 * most of a record, never is.
 */
import type { DatabaseSync, SQLOutputValue, StatementSync } from "node:sqlite";
import {
  type ImageFilter,
  type ImageLocation,
  LOCATION_SQL,
  orderTerms,
  recordCondition,
  type RecordOrder,
} from "./container_listing.ts";

/** A record as a listing shows it. */
export interface ListedRecord {
  /** Row id. */
  id: number;
  /** Full name, `collection/name:tag@version`. */
  uri: string;
  /** Collection. */
  collection: string;
  /** Image name. */
  name: string;
  /** Tag. */
  tag: string;
  /** Version, or null. */
  version: string | null;
  /** Client that added or last updated the record. */
  client: string;
  /** When the record was created, UTC `YYYY-MM-DD HH:MM:SS`. */
  createdAt: string;
  /** When the image was last used, UTC, or null. */
  usedAt: string | null;
  /** Absolute path of the image file, or null for a remote-only record. */
  path: string | null;
  /** Source URL, or null. */
  url: string | null;
  /** Size in bytes, when known. */
  size: number | null;
  /** MD5 of the file, when known. */
  md5: string | null;
  /** Architecture read from the image, when known. */
  arch: string | null;
  /** Where the image is. */
  location: ImageLocation;
}

/** A field of a listed record. */
export type ListedField = keyof ListedRecord;

/** What a listing keeps and how it is ordered. */
export interface ListingOptions {
  /** Substrings of collection, name, tag or uri; every one must match. */
  queries: string[];
  /** What to keep besides the queries. */
  where?: ImageFilter;
  /** The order; by default, the order records were added. */
  order?: RecordOrder;
}

const text = (value: SQLOutputValue) => String(value ?? "");
const textOrNull = (value: SQLOutputValue) => value === null || value === "" ? null : String(value);

// Each field's SQL (over `container JOIN collection`, with :root the storage root) and reader.
const COLUMNS: { [F in ListedField]: [string, (value: SQLOutputValue) => ListedRecord[F]] } = {
  id: ["container.id", Number],
  uri: ["container.uri", text],
  collection: ["collection.name", text],
  name: ["container.name", text],
  tag: ["container.tag", text],
  version: ["container.version", textOrNull],
  client: ["container.client", text],
  createdAt: ["container.created_at", text],
  usedAt: ["container.used_at", textOrNull],
  path: [
    `CASE WHEN coalesce(container.image, '') = '' THEN NULL
      WHEN substr(container.image, 1, 1) = '/' THEN container.image
      ELSE :root || '/' || container.image END`,
    textOrNull,
  ],
  url: ["container.url", textOrNull],
  size: ["container.size", (value) => value === null ? null : Number(value)],
  md5: ["container.md5", textOrNull],
  arch: [
    "CASE WHEN json_valid(container.metrics) THEN json_extract(container.metrics, '$.arch') END",
    (value) => typeof value === "string" ? value : null,
  ],
  location: [LOCATION_SQL, (value) => String(value) as ImageLocation],
};

/**
 * The records the options keep, in their order, with the fields asked for: a listing of 100,000
 * records spends most of its time making the values it reads.
 */
export function listRecords<F extends ListedField>(
  db: DatabaseSync,
  storageRoot: string,
  options: ListingOptions & { fields: readonly F[] },
): Pick<ListedRecord, F>[] {
  const fields = [...new Set(options.fields)];
  const filter = recordCondition(options.queries, options.where);
  const statement = db.prepare(`
    SELECT ${fields.map((field) => COLUMNS[field][0]).join(", ")}
    FROM container JOIN collection ON collection.id = container.collection_id
    WHERE ${filter.condition} ORDER BY ${orderTerms(options.order)}`);
  // Rows as arrays: node:sqlite builds a keyed object per row at twice the cost. (Deno's bundled
  // node:sqlite types lack the method its runtime has.)
  (statement as StatementSync & { setReturnArrays(enabled: boolean): void })
    .setReturnArrays(true);
  const rows =
    (fields.includes("path" as F)
      ? statement.all({ root: storageRoot }, ...filter.params)
      : statement.all(...filter.params)) as unknown as SQLOutputValue[][];
  const readers = fields.map((field) => COLUMNS[field][1]);
  return rows.map((row) => {
    const record: Record<string, unknown> = {};
    for (let i = 0; i < fields.length; i++) record[fields[i]] = readers[i](row[i]);
    return record as Pick<ListedRecord, F>;
  });
}
