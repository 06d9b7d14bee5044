/** `sregistry add <file> --name <uri>`: move (or copy) an image file into storage and record it. */
import type { Command } from "../command_line.ts";
import { resolve } from "../core/paths.ts";
import type { Context } from "../context.ts";
import { addImage } from "../core/add.ts";
import { writeWarnings } from "../output/inspection.ts";
import { containerRecord, renderJson } from "../output/records.ts";
import { progressDisplay, progressMode } from "../output/progress_bar.ts";
import { activeClient, nameArgument, readMetadata } from "./common.ts";
import { urlArgument } from "./url_argument.ts";

/** Options of `add`. */
export interface AddCommandOptions {
  file: string;
  name: string;
  copy: boolean;
  metadata?: string;
  url?: string;
  json: boolean;
}

/** Registers `add`. */
export function registerAdd(program: Command, ctx: Context): void {
  program.command("add").description("add an image file to storage and the database")
    .argument("<file>", "the image file")
    .requiredOption("--name <uri>", "collection/name[:tag][@version] to record it under")
    .option("--copy", "copy the file instead of moving it")
    .option("--metadata <file>", "a JSON file of metadata to keep with the record")
    .option("--url <url>", "where the image came from")
    .option("--json", "print the new record as JSON on stdout")
    .addHelpText(
      "\nThe version is the MD5 of the file unless the name gives one. Its format, architecture,\n" +
        "SIF id, creation time and labels are read from the image and kept in the record's\n" +
        "`metrics`; a file that is no image sregistry recognises is added with a warning.\n\nExamples:\n" +
        "  sregistry add hello.sif --name vsoch/hello-world:latest\n" +
        "  sregistry add --copy lolcow.sif --name library/lolcow --metadata lolcow.json",
    )
    .action((file, options) => runAdd(ctx, { file, ...options }));
}

/** Runs `add`. */
export async function runAdd(ctx: Context, options: AddCommandOptions): Promise<void> {
  const name = nameArgument(options.name);
  const url = options.url === undefined ? null : urlArgument(options.url);
  const file = resolve(ctx.cwd, options.file);
  const metadata = readMetadata(options.metadata, ctx.cwd);
  using registry = await ctx.openRegistry();
  const size = fileSize(file);
  const progress = progressDisplay(
    ctx.io.err,
    size >= 64 * 1024 * 1024
      ? progressMode(ctx.io.err, { quiet: ctx.flags.quiet, json: options.json })
      : "none",
    "add",
  );
  const placed = await addImage(registry, {
    file,
    name,
    copy: options.copy,
    metadata,
    url,
    client: activeClient(ctx),
    onProgress: (done) => progress.update(done, size),
    signal: ctx.interrupts(),
  }).finally(() => progress.finish());
  writeWarnings(ctx.io.err, placed.warnings ?? []);
  ctx.io.err.line(`[container][${placed.action}] ${placed.container.uri}`);
  if (options.json) ctx.io.out.write(renderJson(containerRecord(registry, placed.container)));
}

function fileSize(path: string): number {
  try {
    return Deno.statSync(path).size;
  } catch {
    return 0; // addImage reports the missing or unreadable file
  }
}
