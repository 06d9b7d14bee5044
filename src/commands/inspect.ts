/** `sregistry inspect <uri>`: the whole record, metadata included, as JSON. */
import type { Command } from "../command_line.ts";
import type { Context } from "../context.ts";
import { findContainer } from "../core/registry.ts";
import { containerRecord, renderJson } from "../output/records.ts";
import { nameArgument } from "./common.ts";

/** Registers `inspect`. */
export function registerInspect(program: Command, ctx: Context): void {
  program.command("inspect").description("print a container's record and metadata as JSON")
    .argument("<uri>", "collection/name[:tag][@version]; without @version, the newest")
    .option("--json", "JSON output (the default; accepted for symmetry)")
    .addHelpText("\nExample:\n  sregistry inspect vsoch/hello-world:latest")
    .action((uri) => runInspect(ctx, { uri }));
}

/** Runs `inspect`. */
export function runInspect(ctx: Context, options: { uri: string }): void {
  const name = nameArgument(options.uri);
  using registry = ctx.openRegistry();
  ctx.io.out.write(renderJson(containerRecord(registry, findContainer(registry, name))));
}
