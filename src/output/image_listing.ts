/**
 * How `images` shows records: the seeds' table (index, date and time, location, size, client,
 * uri) with a total, or one line per record from a `--format` of named fields. Times are shown
 * in the local time zone; text from the database is shown with control characters escaped.
 */
import { printable, UsageError } from "../errors.ts";
import type { ListedField, ListedRecord } from "../core/listing.ts";
import { formatBytes } from "./units.ts";

const MONTHS = [
  "January",
  "February",
  "March",
  "April",
  "May",
  "June",
  "July",
  "August",
  "September",
  "October",
  "November",
  "December",
];

// "September 30, 2026 23:59", the longest date and time.
const DATE_WIDTH = 24;

/** A recorded UTC time (`YYYY-MM-DD HH:MM:SS`) as a Date, or null when it is not one. */
function recordedTime(recorded: string): Date | null {
  const match = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})/.exec(recorded);
  if (!match) return null;
  const [year, month, day, hours, minutes, seconds] = match.slice(1).map(Number);
  const time = new Date(Date.UTC(year, month - 1, day, hours, minutes, seconds));
  return Number.isNaN(time.getTime()) ? null : time;
}

/** A recorded UTC time as the table shows it, in local time: `November 21, 2026 14:02`. */
export function displayTime(recorded: string): string {
  const time = recordedTime(recorded);
  if (time === null) return recorded;
  // One time zone conversion, then UTC arithmetic: each local getter would convert again.
  const local = new Date(time.getTime() - time.getTimezoneOffset() * 60_000);
  const two = (value: number) => value < 10 ? `0${value}` : String(value);
  return `${MONTHS[local.getUTCMonth()]} ${two(local.getUTCDate())}, ${local.getUTCFullYear()} ` +
    `${two(local.getUTCHours())}:${two(local.getUTCMinutes())}`;
}

// A recorded UTC time in ISO 8601 (`2026-11-21T14:02:11Z`), or as recorded when it is not one.
function isoTime(recorded: string | null): string {
  if (recorded === null) return "";
  return recordedTime(recorded)?.toISOString().replace(/\.\d{3}Z$/, "Z") ?? recorded;
}

/** The fields the table shows. */
export const TABLE_FIELDS = [
  "id",
  "uri",
  "client",
  "createdAt",
  "size",
  "md5",
  "location",
] as const;

/** A record as the table shows it. */
export type TableRecord = Pick<ListedRecord, typeof TABLE_FIELDS[number]>;

/**
 * The table: a header, one row per record (numbered from 1) and a total line. Every listed
 * image's size is summed; identical content under several names (hard links) counts once in
 * what is on disk.
 */
export function imageTable(records: TableRecord[]): string[] {
  const width = Math.max(2, String(records.length).length);
  const lines = [
    "Containers:   [date]".padEnd(width + 1 + DATE_WIDTH) +
    "\t[location]\t   [size]   [client]\t[uri]",
  ];
  // Records added together share their minute: each is converted once.
  const times = new Map<string, string>();
  let index = 0;
  for (const record of records) {
    index++;
    const minute = record.createdAt.slice(0, 16);
    let time = times.get(minute);
    if (time === undefined) times.set(minute, time = displayTime(record.createdAt));
    lines.push(
      `${String(index).padEnd(width)} ${time.padEnd(DATE_WIDTH)}\t` +
        `${record.location.padEnd(10)}\t${sizeText(record.size).padStart(9)}   ` +
        `[${printable(record.client)}]\t${printable(record.uri)}`,
    );
  }
  lines.push(totalLine(records));
  return lines;
}

function sizeText(size: number | null): string {
  return size === null ? "-" : formatBytes(size);
}

// "Total: 4 containers, 3 local images, 1.5 GiB (1.0 GiB on disk)".
function totalLine(records: TableRecord[]): string {
  let bytes = 0;
  let local = 0;
  const contents = new Map<string, number>();
  for (const record of records) {
    if (record.location !== "local" || record.size === null) continue;
    local++;
    bytes += record.size;
    contents.set(
      record.md5 === null ? `id ${record.id}` : `${record.md5} ${record.size}`,
      record.size,
    );
  }
  let onDisk = 0;
  for (const size of contents.values()) onDisk += size;
  const count = (n: number, what: string) => `${n} ${what}${n === 1 ? "" : "s"}`;
  return `Total: ${count(records.length, "container")}, ${count(local, "local image")}, ` +
    formatBytes(bytes) +
    (formatBytes(onDisk) === formatBytes(bytes) ? "" : ` (${formatBytes(onDisk)} on disk)`);
}

/** A field `--format` names: what it shows, the record fields it reads, and how it shows them. */
interface ImageField {
  description: string;
  reads: ListedField[];
  show: (record: ListedRecord) => string;
}

const field = (
  description: string,
  reads: ListedField[],
  show: (record: ListedRecord) => string,
): ImageField => ({ description, reads, show });

/** The fields a `--format` names. */
export const IMAGE_FIELDS: Record<string, ImageField> = {
  uri: field("full name, collection/name:tag@version", ["uri"], (r) => r.uri),
  collection: field("collection", ["collection"], (r) => r.collection),
  name: field("image name", ["name"], (r) => r.name),
  tag: field("tag", ["tag"], (r) => r.tag),
  version: field("version (empty when none)", ["version"], (r) => r.version ?? ""),
  path: field(
    "absolute path of the image file (empty for a remote-only record)",
    ["path"],
    (r) => r.path ?? "",
  ),
  url: field("source URL (empty when none)", ["url"], (r) => r.url ?? ""),
  location: field("local, remote, missing or changed", ["location"], (r) => r.location),
  size: field(
    "size, human-readable (1.5 GiB; empty when unknown)",
    ["size"],
    (r) => r.size === null ? "" : formatBytes(r.size),
  ),
  bytes: field(
    "size in bytes (empty when unknown)",
    ["size"],
    (r) => r.size === null ? "" : String(r.size),
  ),
  md5: field("MD5 of the file (empty when unknown)", ["md5"], (r) => r.md5 ?? ""),
  arch: field(
    "architecture read from the image (empty when unknown)",
    ["arch"],
    (r) => r.arch ?? "",
  ),
  client: field("client that added the record", ["client"], (r) => r.client),
  date: field(
    "when recorded, local time, as the table shows it",
    ["createdAt"],
    (r) => displayTime(r.createdAt),
  ),
  created: field(
    "when recorded, UTC, ISO 8601 (2026-11-21T14:02:11Z)",
    ["createdAt"],
    (r) => isoTime(r.createdAt),
  ),
  used: field(
    "when last used, UTC, ISO 8601 (empty when never)",
    ["usedAt"],
    (r) => isoTime(r.usedAt),
  ),
  id: field("the record's id in the database", ["id"], (r) => String(r.id)),
};

/** A parsed `--format`. */
export interface ImageFormat {
  /** Text and field names in turn (fields at odd positions). */
  parts: string[];
  /** The record fields its fields read. */
  reads: ListedField[];
}

/**
 * Parses a `--format`: a template in which `{field}` stands for a field and `\t`, `\n` and `\\`
 * for a tab, a newline and a backslash; or a comma list of field names, shown tab-separated.
 */
export function parseImageFormat(text: string): ImageFormat {
  const parts = formatParts(text);
  const fields = parts.filter((_, i) => i % 2 === 1);
  return { parts, reads: [...new Set(fields.flatMap((name) => IMAGE_FIELDS[name].reads))] };
}

function formatParts(text: string): string[] {
  const known = () => `fields: ${Object.keys(IMAGE_FIELDS).join(", ")}`;
  const check = (field: string) => {
    if (!Object.hasOwn(IMAGE_FIELDS, field)) {
      throw new UsageError(`unknown field '${printable(field)}' in --format`, { hint: known() });
    }
    return field;
  };
  if (!text.includes("{")) {
    const fields = text.split(",").map((field) => field.trim());
    if (fields.some((field) => field === "")) {
      throw new UsageError(`--format '${printable(text)}' names no field`, {
        hint: `write '{uri}\\t{size}' or uri,size; ${known()}`,
      });
    }
    return fields.flatMap((field, i) => [i === 0 ? "" : "\t", check(field)]).concat("");
  }
  const parts: string[] = [];
  let literal = "";
  for (let at = 0; at < text.length; at++) {
    const char = text[at];
    if (char === "\\" && at + 1 < text.length && "tn\\".includes(text[at + 1])) {
      literal += { t: "\t", n: "\n", "\\": "\\" }[text[++at]];
    } else if (char === "{") {
      const end = text.indexOf("}", at);
      if (end === -1) {
        throw new UsageError(`--format has a '{' with no '}'`, { hint: known() });
      }
      parts.push(literal, check(text.slice(at + 1, end).trim()));
      literal = "";
      at = end;
    } else {
      literal += char;
    }
  }
  parts.push(literal);
  return parts;
}

/** One record's line of a parsed `--format` (without its newline); it has the fields it reads. */
export function formatImage(format: ImageFormat, record: Partial<ListedRecord>): string {
  const parts = format.parts;
  let line = parts[0];
  for (let i = 1; i < parts.length; i += 2) {
    line += printable(IMAGE_FIELDS[parts[i]].show(record as ListedRecord)) + parts[i + 1];
  }
  return line;
}
