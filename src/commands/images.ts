/** `sregistry images [query...]`: the table of records (newest last), or `--json`. */
import type { Command } from "../command_line.ts";
import type { Context } from "../context.ts";
import { type ContainerSummary, listSummaries } from "../core/containers.ts";
import { writeRecords } from "../output/records.ts";
import { UsageError } from "../errors.ts";

// Queries become SQL parameters: a bounded list of bounded words.
const MAX_QUERIES = 100;
const MAX_QUERY_LENGTH = 1024;

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

/** Registers `images`. */
export function registerImages(program: Command, ctx: Context): void {
  program.command("images").description("list containers in the database, oldest first")
    .argument("[query...]", "keep records whose collection, name, tag or uri contains a query")
    .option("--json", "print the records as a JSON array")
    .addHelpText("\nExamples:\n  sregistry images\n  sregistry images hello-world --json")
    .action((query, options) => runImages(ctx, { query, json: options.json }));
}

/** Runs `images`. */
export function runImages(ctx: Context, options: { query: string[]; json: boolean }): void {
  if (options.query.length > MAX_QUERIES) {
    throw new UsageError(`too many queries (${options.query.length}); give at most ${MAX_QUERIES}`);
  }
  if (options.query.some((query) => query.length > MAX_QUERY_LENGTH)) {
    throw new UsageError(`a query is longer than ${MAX_QUERY_LENGTH} characters`);
  }
  using registry = ctx.openRegistry();
  if (options.json) {
    writeRecords(ctx.io.out, registry, options.query);
    return;
  }
  const summaries = listSummaries(registry.db, options.query);
  if (summaries.length === 0) {
    ctx.io.err.line(options.query.length ? "No matching containers." : "No containers yet.");
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
  const location = summary.local ? "local " : "remote";
  return `${String(index).padEnd(2)} ${displayDate(summary.createdAt)}\t${location}\t` +
    `   [${summary.client}]\t${summary.uri}`;
}

function displayDate(createdAt: string): string {
  const match = /^(\d{4})-(\d{2})-(\d{2})/.exec(createdAt);
  if (!match) return createdAt;
  return `${MONTHS[Number(match[2]) - 1]} ${match[3]}, ${match[1]}`;
}
