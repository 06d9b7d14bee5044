/** `sregistry record <uri> --url <url>`: a remote-only record, no file (the seeds' "Metadata with URL"). */
import type { Command } from "@commander-js/extra-typings";
import type { Context } from "../context.ts";
import { recordImage } from "../core/record.ts";
import { containerRecord, renderJson } from "../output/records.ts";
import { activeClient, nameArgument, printBanner, readMetadata } from "./common.ts";

/** Options of `record`. */
export interface RecordCommandOptions {
  uri: string;
  url?: string;
  metadata?: string;
  json: boolean;
}

/** Registers `record`. */
export function registerRecord(program: Command, ctx: Context): void {
  program.command("record").description("record a remote image (URL and metadata) without a file")
    .argument("<uri>", "collection/name[:tag][@version]")
    .option("--url <url>", "where the image can be downloaded")
    .option("--metadata <file>", "a JSON file of metadata to keep with the record")
    .option("--json", "print the record as JSON on stdout", false)
    .addHelpText(
      "after",
      "\nExample:\n  sregistry record vsoch/hello-world@ed9755a0 --url https://example.org/hello.sif",
    )
    .action((uri, options) => runRecord(ctx, { uri, ...options }));
}

/** Runs `record`. */
export function runRecord(ctx: Context, options: RecordCommandOptions): void {
  const name = nameArgument(options.uri);
  const metadata = readMetadata(options.metadata);
  const client = activeClient(ctx);
  printBanner(ctx, client);
  using registry = ctx.openRegistry();
  const recorded = recordImage(registry, { name, url: options.url!, metadata, client });
  ctx.io.err.line(`[container][${recorded.action}] ${recorded.container.uri}`);
  if (options.json) ctx.io.out.write(renderJson(containerRecord(registry, recorded.container)));
}
