/** `sregistry labels [--key k] [--value v]`: search a registry's container labels. */
import type { Command } from "../command_line.ts";
import type { Context } from "../context.ts";
import { renderTable } from "../output/table.ts";
import { renderJson } from "../output/records.ts";
import { activeClient, printBanner } from "./common.ts";
import { namedClient, requireCapability } from "./remote.ts";

/** Registers `labels`. */
export function registerLabels(program: Command, ctx: Context): void {
  program.command("labels").description("search container labels on a Singularity Registry Server")
    .option("-k, --key <key>", "label key")
    .option("-v, --value <value>", "label value")
    .option("--client <client>", "the client to ask (default: the active one)")
    .option("--json", "print the labels as JSON")
    .addHelpText(
      "\nExamples:\n  sregistry labels --client registry --key maintainer\n" +
        "  SREGISTRY_CLIENT=registry sregistry labels --value gpu --json",
    )
    .action((options) => runLabels(ctx, options));
}

/** Runs `labels`. */
export async function runLabels(
  ctx: Context,
  options: { key?: string; value?: string; client?: string; json: boolean },
): Promise<void> {
  const client = await namedClient(ctx, options.client?.replace(/:\/\/$/, "") ?? activeClient(ctx));
  if (!options.json) printBanner(ctx, client.name);
  await requireCapability(client, "labels");
  const results = await client.labels!(options.key ?? null, options.value ?? null);
  if (options.json) {
    ctx.io.out.write(renderJson(results.records));
    return;
  }
  if (results.rows.length === 0) {
    ctx.io.err.line("No labels found.");
    return;
  }
  ctx.io.out.write(renderTable(results.columns, results.rows));
}
