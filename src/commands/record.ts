/** `sregistry record <uri> --url <url>`: a remote-only record, no file (the seeds' "Metadata with URL"). */
import type { Command } from "../command_line.ts";
import type { Context } from "../context.ts";
import { recordImage } from "../core/record.ts";
import type { Registry } from "../core/registry.ts";
import { containerRecord, renderJson } from "../output/records.ts";
import { activeClient, nameArgument, printBanner, readMetadata } from "./common.ts";
import { urlArgument } from "./url_argument.ts";
import { remoteFor } from "./remote.ts";
import { UsageError } from "../errors.ts";
import { splitScheme } from "../core/names.ts";

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
    .option(
      "--url <url>",
      "where the image can be downloaded, for a name without a scheme (a scheme:// URI asks its " +
        "client instead)",
    )
    .option("--metadata <file>", "a JSON file of metadata to keep with the record")
    .option("--json", "print the record as JSON on stdout")
    .addHelpText(
      "\nExamples:\n  sregistry record hub://vsoch/hello-world\n" +
        "  sregistry record oras://ghcr.io/lab/tools:v1\n" +
        "  sregistry record lab/tool:v1 --url https://example.org/tool.sif --metadata tool.json",
    )
    .action((uri, options) => runRecord(ctx, { uri, ...options }));
}

/** Runs `record`. */
export async function runRecord(ctx: Context, options: RecordCommandOptions): Promise<void> {
  const { scheme } = splitScheme(options.uri);
  if (options.url !== undefined && scheme !== null) {
    throw new UsageError(
      `--url goes with a name, not a ${scheme}:// URI (its client finds the URL)`,
      {
        hint: "drop --url to record what the remote says, or the scheme to record your URL",
      },
    );
  }
  // Names, files and the remote are checked before the database is opened (or created).
  const record = options.url === undefined
    ? await remoteRecorder(ctx, options)
    : localRecorder(ctx, options, urlArgument(options.url));
  using registry = await ctx.openRegistry();
  const recorded = await record(registry);
  ctx.io.err.line(
    `[container][${recorded.action}] ${recorded.container.uri}` +
      (recorded.local ? " (a local image: its file and version are kept)" : ""),
  );
  if (options.json) ctx.io.out.write(renderJson(containerRecord(registry, recorded.container)));
}

type Recorded = ReturnType<typeof recordImage>;
type Recorder = (registry: Registry) => Recorded | Promise<Recorded>;

// `--url` given: the user says where the image is; no remote is asked.
function localRecorder(ctx: Context, options: RecordCommandOptions, url: string): Recorder {
  const name = nameArgument(options.uri);
  const metadata = readMetadata(options.metadata, ctx.cwd);
  const client = activeClient(ctx);
  if (!options.json) printBanner(ctx, client);
  return (registry) => recordImage(registry, { name, url, metadata, client });
}

// No `--url`: the client fetches the manifest and the record keeps its URL and metadata.
async function remoteRecorder(ctx: Context, options: RecordCommandOptions): Promise<Recorder> {
  if (options.metadata !== undefined) {
    throw new UsageError("--metadata goes with --url; a remote record keeps the remote's manifest");
  }
  const { client, rest } = await remoteFor(ctx, options.uri, options);
  const { recordRemote } = await import("../remotes/pull.ts");
  return (registry) => recordRemote(registry, client, rest);
}
