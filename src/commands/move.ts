/**
 * `sregistry mv <uri> <path>` moves an image file (out of storage too) and updates its record;
 * `sregistry rename <uri> <new uri>` re-files a record and its image under a new name.
 */
import type { Command } from "../command_line.ts";
import { resolve } from "../core/paths.ts";
import type { Context } from "../context.ts";
import { moveImage, renameContainer } from "../core/move.ts";
import { activeClient, nameArgument, printBanner } from "./common.ts";

/** Registers `mv` and `rename`. */
export function registerMove(program: Command, ctx: Context): void {
  program.command("mv").description("move a container's image file and update its record")
    .argument("<uri>", "collection/name[:tag][@version]")
    .argument("<path>", "new file path, or an existing folder to move it into")
    .addHelpText("\nExample:\n  sregistry mv vsoch/hello-world /scratch/$USER/images/")
    .action((uri, path) => runMove(ctx, { uri, path }));
  program.command("rename").description("re-file a container under a new name in storage")
    .argument("<uri>", "collection/name[:tag][@version]")
    .argument("<new-uri>", "the new collection/name[:tag]; the version is kept unless given")
    .addHelpText("\nExample:\n  sregistry rename vsoch/hello-world:dev vsoch/hello-world:v1")
    .action((uri, newUri) => runRename(ctx, { uri, newUri }));
}

/** Runs `mv`: prints the new path on stdout. */
export async function runMove(ctx: Context, options: { uri: string; path: string }): Promise<void> {
  const name = nameArgument(options.uri);
  printBanner(ctx, activeClient(ctx));
  using registry = await ctx.openRegistry();
  // A trailing slash says the target is a folder, which must then exist.
  const target = options.path === ""
    ? ""
    : resolve(ctx.cwd, options.path) + (options.path.endsWith("/") ? "/" : "");
  const move = await moveImage(registry, name, target, {
    signal: ctx.interrupts(),
  });
  ctx.io.err.line(`[move] ${move.from} => ${move.to}`);
  ctx.io.out.line(move.to);
}

/** Runs `rename`: prints the new path (or URL) on stdout. */
export async function runRename(
  ctx: Context,
  options: { uri: string; newUri: string },
): Promise<void> {
  const name = nameArgument(options.uri);
  const newName = nameArgument(options.newUri);
  printBanner(ctx, activeClient(ctx));
  using registry = await ctx.openRegistry();
  const renamed = await renameContainer(registry, name, newName, { signal: ctx.interrupts() });
  ctx.io.err.line(`[rename] ${options.uri} => ${renamed.container.uri}`);
  ctx.io.out.line(renamed.to ?? renamed.container.url ?? renamed.container.uri);
}
