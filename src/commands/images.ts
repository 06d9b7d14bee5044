/** `sregistry images [query...]`: the table of records (newest last), or `--json`. */
import type { Command } from "../command_line.ts";
import type { Context } from "../context.ts";
import { normalArchitecture } from "../core/architecture.ts";
import { type ContainerSummary, type ImageFilter, listSummaries } from "../core/containers.ts";
import { UsageError } from "../errors.ts";
import { writeRecords } from "../output/records.ts";

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

/** Options of `images`. */
export interface ImagesOptions {
  /** Substrings of collection, name, tag or uri; a record matching any is kept. */
  query: string[];
  /** Keep images of this architecture. */
  arch?: string;
  /** Keep images with these labels (`key=value`, or `key` for any value). */
  label: string[];
  /** JSON output. */
  json: boolean;
}

/** Registers `images`. */
export function registerImages(program: Command, ctx: Context): void {
  program.command("images").description("list containers in the database, oldest first")
    .argument("[query...]", "keep records whose collection, name, tag or uri contains a query")
    .option("--arch <arch>", "keep images of this architecture (amd64, arm64; x86_64 = amd64)")
    .option("--label <key=value...>", "keep images with this label (key alone: any value); repeat")
    .option("--json", "print the records as a JSON array")
    .addHelpText(
      "\nArchitecture and labels are read from each image when it is added or pulled (the\n" +
        "record's `metrics`); records added before sregistry read them match no filter.\n" +
        "\nExamples:\n  sregistry images\n  sregistry images hello-world --json\n" +
        "  sregistry images --arch amd64 --label org.label-schema.vcs-ref=abc1234",
    )
    .action((query, options) =>
      runImages(ctx, { query, arch: options.arch, label: options.label, json: options.json })
    );
}

/** Runs `images`. */
export function runImages(ctx: Context, options: ImagesOptions): void {
  const where = imageFilter(options);
  using registry = ctx.openRegistry();
  if (options.json) {
    writeRecords(ctx.io.out, registry, options.query, where);
    return;
  }
  const summaries = listSummaries(registry.db, options.query, where);
  if (summaries.length === 0) {
    const filtered = options.query.length > 0 || where.arch !== undefined || where.labels?.length;
    ctx.io.err.line(filtered ? "No matching containers." : "No containers yet.");
    return;
  }
  ctx.io.out.line("Containers:   [date]   [location]  [client]\t[uri]");
  // A write per 1,000 rows, not per row: a large table is otherwise mostly system calls.
  for (let start = 0; start < summaries.length; start += 1000) {
    const rows = summaries.slice(start, start + 1000).map((summary, i) =>
      imagesRow(start + i + 1, summary)
    );
    ctx.io.out.write(rows.join("\n") + "\n");
  }
}

/** One row of the seeds' table: index, date, local/remote, client, uri. */
function imagesRow(index: number, summary: ContainerSummary): string {
  const location = summary.location.padEnd(6);
  return `${String(index).padEnd(2)} ${displayDate(summary.createdAt)}\t${location}\t` +
    `   [${summary.client}]\t${summary.uri}`;
}

// The flags as a filter, checked before the database is opened.
function imageFilter(options: ImagesOptions): ImageFilter {
  if (options.arch !== undefined && options.arch.trim() === "") {
    throw new UsageError("--arch needs an architecture, e.g. amd64");
  }
  const labels = options.label.map((label) => {
    const equals = label.indexOf("=");
    const key = equals === -1 ? label : label.slice(0, equals);
    if (key === "") throw new UsageError(`--label '${label}' has no key; write key=value or key`);
    return equals === -1 ? { key } : { key, value: label.slice(equals + 1) };
  });
  return {
    arch: options.arch === undefined ? undefined : normalArchitecture(options.arch),
    labels,
  };
}

function displayDate(createdAt: string): string {
  const match = /^(\d{4})-(\d{2})-(\d{2})/.exec(createdAt);
  if (!match) return createdAt;
  return `${MONTHS[Number(match[2]) - 1]} ${match[3]}, ${match[1]}`;
}
