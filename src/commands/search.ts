/** `sregistry search [query]`: list what a remote holds, following every page. */
import type { Command } from "../command_line.ts";
import type { Context } from "../context.ts";
import { renderTable } from "../output/table.ts";
import { renderJson } from "../output/records.ts";
import { writeWarnings } from "../output/inspection.ts";
import { printable } from "../errors.ts";
import { remoteFor, requireCapability } from "./remote.ts";

/** Registers `search`. */
export function registerSearch(program: Command, ctx: Context): void {
  program.command("search").description("search a remote registry")
    .argument(
      "[query]",
      "collection, collection/name[:tag], /name[:tag] (registry), text (hub), " +
        "oras://host[/repository]",
    )
    .option("--json", "print the results as JSON")
    .addHelpText(
      "\nExamples:\n  sregistry search hub://vsoch\n  sregistry search registry://lab/tools\n" +
        "  sregistry search oras://ghcr.io/lab/tools   (its tags; --json adds digest and size)\n" +
        "  SREGISTRY_CLIENT=registry sregistry search /tools:v1",
    )
    .action((query, options) => runSearch(ctx, { query, json: options.json }));
}

/** Runs `search`. */
export async function runSearch(
  ctx: Context,
  options: { query?: string; json: boolean },
): Promise<void> {
  const { client, rest } = await remoteFor(ctx, options.query ?? "", options);
  await requireCapability(client, "search");
  const query = rest === "" || rest === "*" ? null : rest;
  const results = await client.search!(query, { detailed: options.json });
  writeWarnings(ctx.io.err, results.warnings ?? []);
  if (options.json) {
    ctx.io.out.write(renderJson(results.records));
    return;
  }
  if (results.rows.length === 0) {
    ctx.io.err.line(query ? `No results for ${printable(query)}.` : "Nothing found.");
    return;
  }
  ctx.io.err.line(results.title);
  ctx.io.out.write(renderTable(results.columns, results.rows));
}
