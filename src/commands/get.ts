/**
 * `sregistry get <uri...>`: print each image's path, or its URL when it is remote-only, one line
 * per name in order; when a name has no record (or its file is gone), nothing is printed.
 */
import type { Command } from "../command_line.ts";
import type { Context } from "../context.ts";
import { imageLocation, lookupContainers, noteUse } from "../core/registry.ts";
import { nameArgument } from "./common.ts";

/** Registers `get`. */
export function registerGet(program: Command, ctx: Context): void {
  program.command("get").description("print the path (or URL) of each container, one per line")
    .argument("<uri...>", "collection/name[:tag][@version]; without @version, the newest")
    .addHelpText(
      "\nA version may be shortened to its first 8 or more characters. When a name has no record,\n" +
        "or its image file is gone, get prints nothing and exits 1 (the error names each such\n" +
        "name and the nearest recorded ones).\n" +
        "\nExamples:\n  singularity run $(sregistry get vsoch/hello-world)\n" +
        "  sregistry get lab/tool@0b4b1c0e lab/tool:v2",
    )
    .action((uris) => runGet(ctx, { uris }));
}

/** Runs `get`: exactly one line on stdout per name, or none. */
export async function runGet(ctx: Context, options: { uris: string[] }): Promise<void> {
  const names = options.uris.map(nameArgument);
  using registry = await ctx.openRegistry();
  const containers = lookupContainers(registry.db, names);
  const lines = containers.map((container) => imageLocation(registry, container));
  ctx.io.out.write(lines.map((line) => `${line}\n`).join(""));
  for (const container of containers) {
    if (container.image !== null) noteUse(registry, container);
  }
}
