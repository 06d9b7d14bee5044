/** `sregistry get <uri>`: print an image's path, or its URL when it is remote-only. */
import type { Command } from "../command_line.ts";
import type { Context } from "../context.ts";
import { findContainer, imageLocation, noteUse } from "../core/registry.ts";
import { nameArgument } from "./common.ts";

/** Registers `get`. */
export function registerGet(program: Command, ctx: Context): void {
  program.command("get").description("print the path (or URL) of a container")
    .argument("<uri>", "collection/name[:tag][@version]; without @version, the newest")
    .addHelpText("\nExample:\n  singularity run $(sregistry get vsoch/hello-world)")
    .action((uri) => runGet(ctx, { uri }));
}

/** Runs `get`: exactly one line on stdout. */
export function runGet(ctx: Context, options: { uri: string }): void {
  const name = nameArgument(options.uri);
  using registry = ctx.openRegistry();
  const container = findContainer(registry, name);
  ctx.io.out.line(imageLocation(registry, container));
  if (container.image !== null) noteUse(registry, container);
}
