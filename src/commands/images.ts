/** `sregistry images [query...]`: the table of records (newest last), or `--json`. */
import type { Command } from "../command_line.ts";
import type { Context } from "../context.ts";
import { type Container, listContainers } from "../core/containers.ts";
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
  using registry = ctx.openRegistry();
  if (options.json) {
    writeRecords(ctx.io.out, registry, options.query);
    return;
  }
  const containers = listContainers(registry.db, options.query);
  if (containers.length === 0) {
    ctx.io.err.line(options.query.length ? "No matching containers." : "No containers yet.");
    return;
  }
  ctx.io.out.line("Containers:   [date]   [location]  [client]\t[uri]");
  containers.forEach((container, index) => ctx.io.out.line(imagesRow(index + 1, container)));
}

/** One row of the seeds' table: index, date, local/remote, client, uri. */
function imagesRow(index: number, container: Container): string {
  const location = container.image === null ? "remote" : "local ";
  return `${String(index).padEnd(2)} ${displayDate(container.createdAt)}\t${location}\t` +
    `   [${container.client}]\t${container.uri}`;
}

function displayDate(createdAt: string): string {
  const match = /^(\d{4})-(\d{2})-(\d{2})/.exec(createdAt);
  if (!match) return createdAt;
  return `${MONTHS[Number(match[2]) - 1]} ${match[3]}, ${match[1]}`;
}
