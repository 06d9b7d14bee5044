/**
 * `sregistry du [query...]`: bytes per collection and in total, what prune would reclaim and
 * what shared content saves; a bar per row on a terminal so the big ones stand out.
 */
import type { Command } from "../command_line.ts";
import type { Context } from "../context.ts";
import { type StoreUsage, storeUsage } from "../core/usage.ts";
import { renderJson } from "../output/records.ts";
import { renderTable } from "../output/table.ts";
import { formatBytes } from "../output/units.ts";

/** Registers `du`. */
export function registerDu(program: Command, ctx: Context): void {
  program.command("du").description("show the space images take, per collection")
    .argument(
      "[query...]",
      "count only records whose collection, name, tag or uri contains every query",
    )
    .option("--json", "print the sizes in bytes as JSON")
    .addHelpText(
      "\nA file's bytes count once however many records share it (tags are hard links);\n" +
        "'shared' is what that saves. 'reclaimable' is what 'sregistry prune' would free in\n" +
        "the whole store.\n\nExamples:\n  sregistry du\n  sregistry du lab --json",
    )
    .action((query, options) => runDu(ctx, { query, json: options.json }));
}

/** Runs `du`. */
export async function runDu(
  ctx: Context,
  options: { query: string[]; json: boolean },
): Promise<void> {
  using registry = await ctx.openRegistry();
  const usage = await storeUsage(registry, options.query);
  if (options.json) {
    ctx.io.out.write(renderJson(duJson(usage)));
    return;
  }
  if (usage.total.records === 0 && usage.unrecorded === null) {
    ctx.io.err.line("No matching images.");
    return;
  }
  ctx.io.out.write(duTable(usage, ctx.io.out.isTerminal ? ctx.io.out.columns : null));
}

function duTable(usage: StoreUsage, columns: number | null): string {
  const rows: [string, string, number][] = usage.collections.map((row) => [
    row.collection,
    String(row.records),
    row.bytes,
  ]);
  if (usage.unrecorded !== null && usage.unrecorded.files > 0) {
    rows.push(["(no record)", "-", usage.unrecorded.bytes]);
  }
  const total = usage.unrecorded === null
    ? usage.total.bytes
    : usage.total.bytes + usage.unrecorded.bytes;
  const all: [string, string, number][] = [...rows, ["total", String(usage.total.records), total]];
  const countWidth = Math.max("images".length, ...all.map(([, count]) => count.length));
  const sizeWidth = Math.max("size".length, ...all.map(([, , bytes]) => formatBytes(bytes).length));
  const nameWidth = Math.max("collection".length, ...all.map(([name]) => name.length));
  const largest = Math.max(1, ...rows.map(([, , bytes]) => bytes));
  // The bar takes what the other columns leave of the terminal's width.
  const barWidth = columns === null
    ? 0
    : Math.max(10, columns - nameWidth - countWidth - sizeWidth - 8);
  const line = ([name, count, bytes]: [string, string, number], withBar: boolean) => [
    name,
    count.padStart(countWidth),
    formatBytes(bytes).padStart(sizeWidth),
    ...(withBar && columns !== null ? [bar(bytes / largest, barWidth)] : []),
  ];
  const header = ["collection", "images".padStart(countWidth), "size".padStart(sizeWidth)];
  const unrecorded = usage.unrecorded?.files
    ? `(no record): ${plural(usage.unrecorded.files, "file")} no record names or runs left behind\n`
    : "";
  return renderTable(header, [
    ...rows.map((row) => line(row, true)),
    line(all.at(-1)!, false),
  ]) +
    unrecorded +
    `shared content saves ${formatBytes(usage.shared.saved)} ` +
    `(${formatBytes(usage.shared.recordBytes)} of images in ` +
    `${formatBytes(usage.shared.fileBytes)} of files)\n` +
    `prune would reclaim ${formatBytes(usage.reclaimable.bytes)} ` +
    `(${plural(usage.reclaimable.records, "record")}, ${
      plural(usage.reclaimable.files, "file")
    })\n`;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

function bar(fraction: number, width: number): string {
  const filled = Math.max(fraction > 0 ? 1 : 0, Math.round(fraction * width));
  return "#".repeat(filled);
}

function duJson(usage: StoreUsage): unknown {
  return {
    collections: usage.collections.map((row) => ({
      collection: row.collection,
      records: row.records,
      files: row.files,
      bytes: row.bytes,
    })),
    total: usage.total,
    unrecorded: usage.unrecorded,
    shared: {
      record_bytes: usage.shared.recordBytes,
      file_bytes: usage.shared.fileBytes,
      saved: usage.shared.saved,
    },
    reclaimable: usage.reclaimable,
  };
}
