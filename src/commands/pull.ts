/** `sregistry pull <uri>`: download an image (verified, resumable) into storage and record it. */
import type { Command } from "../command_line.ts";
import type { Context } from "../context.ts";
import { progressDisplay, progressMode } from "../output/progress_bar.ts";
import { writeWarnings } from "../output/inspection.ts";
import { containerRecord, renderJson } from "../output/records.ts";
import { remoteFor } from "./remote.ts";
import { resolve } from "../core/paths.ts";
import { formatImageName } from "../core/names.ts";
import { printable } from "../errors.ts";

/** Options of `pull`. */
export interface PullCommandOptions {
  uri: string;
  name?: string;
  force: boolean;
  json: boolean;
}

/** Registers `pull`. */
export function registerPull(program: Command, ctx: Context): void {
  program.command("pull").description("download an image into storage and record it")
    .argument(
      "<uri>",
      "hub://collection/name[:tag][@version], registry://[host/]collection/name[:tag], " +
        "oras://host/repository[:tag][@sha256:digest], or a URL",
    )
    .option(
      "--name <name>",
      "hub/registry/oras: save to this file instead of storage (no record), checked as a pull " +
        "into storage is (MD5; for oras size, SHA-256 and SIF magic); URL: the name to record",
    )
    .option("-f, --force", "download again and replace an existing image")
    .option("--json", "print the record as JSON on stdout (no progress)")
    .addHelpText(
      "\nAn interrupted pull keeps its partial file; the next pull of the same image resumes it.\n" +
        "\nExamples:\n  sregistry pull hub://vsoch/hello-world\n" +
        "  sregistry pull registry://registry.example.org/lab/tools:v1\n" +
        "  sregistry pull oras://ghcr.io/lab/tools:v1\n" +
        "  sregistry pull https://example.org/images/lolcow.sif --name demo/lolcow:v1\n" +
        "  sregistry pull --name hello.sif shub://vsoch/hello-world",
    )
    .action((uri, options) => runPull(ctx, { uri, ...options }));
}

/** Runs `pull`. */
export async function runPull(ctx: Context, options: PullCommandOptions): Promise<void> {
  const { client, rest, http } = await remoteFor(ctx, options.uri, options);
  const { pullImage, pullToFile } = await import("../remotes/pull.ts");
  const progress = progressDisplay(
    ctx.io.err,
    progressMode(ctx.io.err, { quiet: ctx.flags.quiet, json: options.json }),
    "pull",
  );
  const isUrl = client.name === "http" || client.name === "https";
  const common = {
    force: options.force,
    http,
    onProgress: ({ done, total }: { done: number; total: number | null }) =>
      progress.update(done, total),
    onWait: () => ctx.io.err.line("[pull] another sregistry is pulling this image; waiting for it"),
  };
  const toFile = !isUrl && options.name !== undefined;
  if (toFile || ctx.settings().disable.value) {
    const file = resolve(ctx.cwd, options.name ?? defaultFileName(rest));
    const pulled = await pullToFile(client, rest, file, common).finally(() => progress.finish());
    for (const note of pulled.notes) ctx.io.err.line(`[pull] note: ${printable(note)}`);
    ctx.io.err.line(`[pull] saved ${pulled.path} (${pulled.size} bytes, MD5 ${pulled.md5})`);
    // The public fields only: the resolved remote may carry request headers (credentials).
    if (options.json) {
      ctx.io.out.write(renderJson({
        image: pulled.path,
        uri: pulled.remote.name && formatImageName(pulled.remote.name),
        url: pulled.url,
        size: pulled.size,
        md5: pulled.md5,
        metadata: pulled.metadata,
      }));
    } else ctx.io.out.line(pulled.path);
    return;
  }
  using registry = await ctx.openRegistry();
  // The bar is cleared whatever happens, so an error starts on a line of its own.
  const pulled = await pullImage(registry, client, rest, {
    ...common,
    nameHint: isUrl ? options.name : undefined,
  }).finally(() => progress.finish());
  for (const note of pulled.notes) ctx.io.err.line(`[pull] note: ${printable(note)}`);
  if (isUrl && options.name === undefined) {
    ctx.io.err.line(`[pull] no --name given; recorded as ${pulled.container.uri}`);
  }
  writeWarnings(ctx.io.err, pulled.warnings ?? []);
  if (!pulled.downloaded) {
    ctx.io.err.line(
      `[pull] ${pulled.container.uri} is already in storage; use --force to download it again`,
    );
  } else {
    ctx.io.err.line(`[container][${pulled.action}] ${pulled.container.uri}`);
  }
  if (options.json) ctx.io.out.write(renderJson(containerRecord(registry, pulled.container)));
  else ctx.io.out.line(pulled.path);
}

// Without a database the image lands in the working folder, named like the original did.
function defaultFileName(rest: string): string {
  const base = rest.split("/").pop() ?? "image";
  return `${base.replace(/\.(sif|simg|img)$/i, "").replace(/[^A-Za-z0-9_.:@-]/g, "-")}.sif`;
}
