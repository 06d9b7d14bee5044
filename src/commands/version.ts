/** `sregistry version`: the version, like `--version`. */
import type { Command } from "../command_line.ts";
import type { Context } from "../context.ts";
import { VERSION } from "../version.ts";

/** Registers `version`. */
export function registerVersion(program: Command, ctx: Context): void {
  program.command("version").description("print the version")
    .addHelpText("\nExample:\n  sregistry version")
    .action(() => ctx.io.out.line(VERSION));
}
