/**
 * `sregistry images [query...]`: the records every query matches, narrowed by filters and
 * sorted: the seeds' table with sizes and a total (newest last), `--json` records, a `--format`
 * line per record, or only their URIs or paths for scripts.
 */
import type { Command } from "../command_line.ts";
import type { Context } from "../context.ts";
import { listRecords } from "../core/listing.ts";
import {
  type ImageFilter,
  type ImageLocation,
  type RecordOrder,
  SORT_FIELDS,
  type SortField,
} from "../core/container_listing.ts";
import { UsageError } from "../errors.ts";
import {
  formatImage,
  IMAGE_FIELDS,
  imageTable,
  parseImageFormat,
  TABLE_FIELDS,
} from "../output/image_listing.ts";

// Queries become SQL parameters: a bounded list of bounded words.
const MAX_QUERIES = 100;
const MAX_QUERY_LENGTH = 1024;
// Lines written at once: a write per row would make a large table mostly system calls.
const LINES_PER_WRITE = 1000;

/** Options of `images`. */
export interface ImagesOptions {
  /** Substrings of collection, name, tag or uri; a record is kept when every one matches. */
  query: string[];
  /** Keep images of this architecture. */
  arch?: string;
  /** Keep images with these labels (`key=value`, or `key` for any value). */
  label: string[];
  /** Keep images whose file is there. */
  local?: boolean;
  /** Keep remote-only records. */
  remote?: boolean;
  /** Keep records whose file is missing. */
  missing?: boolean;
  /** Keep records whose file changed size. */
  changed?: boolean;
  /** Keep records whose file is behind a folder this user may not enter. */
  unreadable?: boolean;
  /** Keep records of this client. */
  client?: string;
  /** Keep records created at or after this time (see time_argument.ts). */
  since?: string;
  /** Keep records created before this time. */
  before?: string;
  /** Sort on this field. */
  sort?: string;
  /** Reverse the order. */
  reverse?: boolean;
  /** One line per record from these fields. */
  format?: string;
  /** Only the URIs. */
  uris?: boolean;
  /** Only the image paths. */
  paths?: boolean;
  /** JSON output. */
  json: boolean;
}

const FIELD_HELP = Object.entries(IMAGE_FIELDS)
  .map(([name, field]) => `  ${name.padEnd(11)}${field.description}`).join("\n");

/** Registers `images`. */
export function registerImages(program: Command, ctx: Context): void {
  program.command("images").description("list containers in the database, oldest first")
    .argument("[query...]", "keep records whose collection, name, tag or uri contains every query")
    .option("--local", "keep images whose file is in place")
    .option("--remote", "keep remote-only records (no file)")
    .option("--missing", "keep records whose image file is gone")
    .option("--changed", "keep records whose image file is not of the recorded size")
    .option("--unreadable", "keep records whose image file is behind a folder you cannot enter")
    .option("--client <name>", "keep records of this client (hub, registry, oras, ...)")
    .option("--since <time>", "keep records created at or after this time (below)")
    .option("--before <time>", "keep records created before this time")
    .option("--arch <arch>", "keep images of this architecture (amd64, arm64; x86_64 = amd64)")
    .option("--label <key=value...>", "keep images with this label (key alone: any value); repeat")
    .option("--sort <field>", `sort on ${SORT_FIELDS.join(", ")} (default: as added)`)
    .option("-r, --reverse", "reverse the order")
    .option("--format <fields>", "one line per record: '{uri}\\t{size}' or uri,size (below)")
    .option("--uris", "print only the URIs, one per line")
    .option("--paths", "print only the image paths, one per line (records with a file)")
    .option("--json", "print the records as a JSON array")
    .addHelpText(
      "\nSeveral queries must all match. Location flags combine: --missing --changed lists both.\n" +
        "Sorting is ascending (smallest, oldest, first by name at the top): the table's\n" +
        "bottom line is the newest, biggest or last used; --reverse turns it round. The table\n" +
        "shows times in the local time zone and ends with a total; --json and --format show\n" +
        "UTC.\n" +
        "\n--since and --before take a date (2026-11-21: local midnight), a date and time\n" +
        "(2026-11-21T14:02 or 2026-11-21 14:02:05, local unless it ends with Z or an offset such\n" +
        "as +01:00), or an age: 90m, 12h, 7d, 2w (minutes, hours, days, weeks ago).\n" +
        "\n--format fields, as {field} in a template (\\t, \\n, \\\\: tab, newline, backslash) or a\ncomma list " +
        `(tab-separated); empty when a record has no value:\n${FIELD_HELP}\n` +
        "\nArchitecture and labels are read from each image when it is added or pulled (the\n" +
        "record's `metrics`); records added before sregistry read them match no filter.\n" +
        "\nExamples:\n  sregistry images\n  sregistry images hello-world --json\n" +
        "  sregistry images lab tool --local --sort size --reverse\n" +
        "  sregistry images --client hub --since 7d\n" +
        "  sregistry images --format '{uri}\\t{size}\\t{path}'\n" +
        "  sregistry images --missing --changed --uris | xargs sregistry rm\n" +
        "  sregistry images --arch amd64 --label org.label-schema.vcs-ref=abc1234",
    )
    .action((query, options) => runImages(ctx, { query, ...options }));
}

/** Runs `images`. */
export async function runImages(ctx: Context, options: ImagesOptions): Promise<void> {
  if (options.query.length > MAX_QUERIES) {
    throw new UsageError(`too many queries (${options.query.length}); give at most ${MAX_QUERIES}`);
  }
  if (options.query.some((query) => query.length > MAX_QUERY_LENGTH)) {
    throw new UsageError(`a query is longer than ${MAX_QUERY_LENGTH} characters`);
  }
  const outputs = (["json", "format", "uris", "paths"] as const)
    .filter((flag) => options[flag] !== undefined && options[flag] !== false);
  if (outputs.length > 1) {
    throw new UsageError(`--${outputs[0]} and --${outputs[1]} do not go together`, {
      hint: "choose one of --json, --format, --uris, --paths (or none, for the table)",
    });
  }
  const where = await imageFilter(options);
  const order = imageOrder(options);
  const format = options.uris
    ? parseImageFormat("uri")
    : options.paths
    ? parseImageFormat("path")
    : options.format === undefined
    ? null
    : parseImageFormat(options.format);
  using registry = await ctx.openRegistry();
  if (options.json) {
    // Loaded only for --json: start-up is what `images` without flags pays.
    const { writeRecords } = await import("../output/records.ts");
    writeRecords(ctx.io.out, registry, options.query, { where, order });
    return;
  }
  const listing = { queries: options.query, where, order };
  if (format !== null) {
    const records = listRecords(registry.db, registry.storage.root, {
      ...listing,
      fields: options.paths ? ["path"] : format.reads,
    });
    const kept = options.paths ? records.filter((record) => record.path !== null) : records;
    writeLines(ctx, kept.map((record) => formatImage(format, record)));
    return;
  }
  const records = listRecords(registry.db, registry.storage.root, {
    ...listing,
    fields: TABLE_FIELDS,
  });
  if (records.length === 0) {
    const filtered = options.query.some((query) => query !== "" && query !== "*") ||
      Object.values(where).some((value) => value !== undefined && value.length !== 0);
    ctx.io.err.line(filtered ? "No matching containers." : "No containers yet.");
    return;
  }
  writeLines(ctx, imageTable(records));
}

function writeLines(ctx: Context, lines: string[]): void {
  for (let start = 0; start < lines.length; start += LINES_PER_WRITE) {
    ctx.io.out.write(lines.slice(start, start + LINES_PER_WRITE).join("\n") + "\n");
  }
}

// The flags as a filter, checked before the database is opened.
async function imageFilter(options: ImagesOptions): Promise<ImageFilter> {
  if (options.arch !== undefined && options.arch.trim() === "") {
    throw new UsageError("--arch needs an architecture, e.g. amd64");
  }
  if (options.client !== undefined && options.client.trim() === "") {
    throw new UsageError("--client needs a client name, e.g. hub");
  }
  const labels = options.label.map((label) => {
    const equals = label.indexOf("=");
    const key = equals === -1 ? label : label.slice(0, equals);
    if (key === "") throw new UsageError(`--label '${label}' has no key; write key=value or key`);
    return equals === -1 ? { key } : { key, value: label.slice(equals + 1) };
  });
  const locations = (["local", "remote", "missing", "changed", "unreadable"] as ImageLocation[])
    .filter((location) => options[location]);
  // What only some flags need is loaded when they are given, by a specifier built at run time:
  // Deno reads a literal one's modules at every start-up (scripts/compile.ts includes them).
  let now: Date | undefined;
  const time = async (text: string | undefined, flag: string) => {
    if (text === undefined) return undefined;
    const times: typeof import("./time_argument.ts") = await import(
      new URL("./time_argument.ts", import.meta.url).href
    );
    now ??= new Date();
    return times.timeArgument(text, flag, now);
  };
  let arch: string | undefined;
  if (options.arch !== undefined) {
    const architectures: typeof import("../core/architecture.ts") = await import(
      new URL("../core/architecture.ts", import.meta.url).href
    );
    arch = architectures.normalArchitecture(options.arch);
  }
  return {
    arch,
    labels,
    locations,
    client: options.client?.trim(),
    since: await time(options.since, "--since"),
    before: await time(options.before, "--before"),
  };
}

function imageOrder(options: ImagesOptions): RecordOrder {
  const sort = options.sort?.trim().toLowerCase();
  if (sort !== undefined && !(SORT_FIELDS as readonly string[]).includes(sort)) {
    throw new UsageError(`--sort '${options.sort}' is not a field to sort on`, {
      hint: `choose ${SORT_FIELDS.join(", ")}`,
    });
  }
  return { sort: sort as SortField | undefined, reverse: options.reverse === true };
}
