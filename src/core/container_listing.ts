/**
 * Listings of records: the conditions that keep the records every query matches and that pass a
 * filter, their order, and the records as Container rows (their public JSON is
 * container_json.ts). Values are always parameters, never SQL text.
 */
import type { DatabaseSync } from "node:sqlite";
import { type Container, CONTAINER_SELECT, toContainer } from "./containers.ts";

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

/**
 * Records matching every query (a substring of collection, name, tag or uri, without case),
 * oldest first. No query lists everything.
 */
export function listContainers(db: DatabaseSync, queries: string[]): Container[] {
  const filter = recordCondition(queries);
  return db.prepare(`${CONTAINER_SELECT} WHERE ${filter.condition} ORDER BY container.id`)
    .all(...filter.params)
    .map(toContainer);
}
