/** `sregistry tag <uri> <new uri>`: a second name for an image, sharing its file. */
import type { Command } from "../command_line.ts";
import type { Context } from "../context.ts";
import { tagImage } from "../core/tag.ts";
import { containerRecord, renderJson } from "../output/records.ts";
import { activeClient, nameArgument, printBanner } from "./common.ts";
import { writeWarnings } from "../output/inspection.ts";

/** Registers `tag`. */
export function registerTag(program: Command, ctx: Context): void {
  program.command("tag").description("give a container a second name, taking no extra space")
    .argument("<uri>", "collection/name[:tag][@version]; without @version, the newest")
    .argument("<new-uri>", "the new collection/name[:tag]; the version is kept unless given")
    .option("--json", "print the new record as JSON on stdout")
    .addHelpText(
      "\nThe new name's file is a hard link of the image's: removing either name keeps the\n" +
        "bytes the other uses.\n\nExample:\n  sregistry tag lab/tool:1.4.2 lab/tool:stable",
    )
    .action((uri, newUri, options) => runTag(ctx, { uri, newUri, json: options.json }));
}

/** Runs `tag`: prints the new name's path (or URL) on stdout. */
export async function runTag(
  ctx: Context,
  options: { uri: string; newUri: string; json: boolean },
): Promise<void> {
  const name = nameArgument(options.uri);
  const newName = nameArgument(options.newUri);
  if (!options.json) printBanner(ctx, activeClient(ctx));
  using registry = await ctx.openRegistry();
  const tagged = await tagImage(registry, name, newName, { signal: ctx.interrupts() });
  writeWarnings(ctx.io.err, tagged.warnings ?? []);
  ctx.io.err.line(`[container][new] ${tagged.container.uri}`);
  if (options.json) ctx.io.out.write(renderJson(containerRecord(registry, tagged.container)));
  else ctx.io.out.line(tagged.path || tagged.container.url || tagged.container.uri);
}
