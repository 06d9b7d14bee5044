/** `sregistry config`: each effective setting and where it came from. */
import type { Command } from "@commander-js/extra-typings";
import type { Context } from "../context.ts";
import { settingsReport } from "../config/settings.ts";
import { renderTable } from "../output/table.ts";
import { renderJson } from "../output/records.ts";

/** Registers `config`. */
export function registerConfig(program: Command, ctx: Context): void {
  program.command("config").description("show each effective setting and where it came from")
    .option("--json", "print the settings as JSON", false)
    .addHelpText("after", "\nExample:\n  SREGISTRY_STORAGE=/scratch/images sregistry config")
    .action((options) => runConfig(ctx, options));
}

/** Runs `config`. */
export function runConfig(ctx: Context, options: { json: boolean }): void {
  const rows = settingsReport(ctx.settings());
  const problem = ctx.secrets().problem;
  if (problem) ctx.io.err.line(`sregistry: warning: ${problem.message}`);
  if (options.json) {
    ctx.io.out.write(renderJson(rows));
    return;
  }
  ctx.io.out.write(renderTable(
    ["SETTING", "VALUE", "ORIGIN"],
    rows.map((row) => [
      row.name,
      row.value,
      row.source && row.origin !== "default" ? `${row.origin} (${row.source})` : row.origin,
    ]),
  ));
}
