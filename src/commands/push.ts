/** `sregistry push <file> --name <uri> [--tag t]`: upload an image to a Registry Server or OCI registry. */
import type { Command } from "../command_line.ts";
import { resolve } from "../core/paths.ts";
import type { Context } from "../context.ts";
import { checkSourceFile } from "../core/add.ts";
import { formatImageName, parseImageName, withVersion } from "../core/names.ts";
import { progressDisplay, progressMode } from "../output/progress_bar.ts";
import { printable } from "../errors.ts";
import { renderJson } from "../output/records.ts";
import { remoteFor, requireCapability } from "./remote.ts";

/** Options of `push`. */
export interface PushCommandOptions {
  file: string;
  name: string;
  tag?: string;
  json: boolean;
}

/** Registers `push`. */
export function registerPush(program: Command, ctx: Context): void {
  program.command("push").description("upload an image to a Registry Server or an OCI registry")
    .argument("<file>", "the image file")
    .requiredOption(
      "--name <uri>",
      "registry://[host/]collection/name[:tag] or oras://host/repository[:tag] to push to",
    )
    .option("--tag <tag>", "tag to push as (overrides the name's tag)")
    .option("--json", "print the result as JSON on stdout")
    .addHelpText(
      "\nThe upload is streamed from disk. A Registry Server's MD5 must then equal the file's; an\n" +
        "OCI registry gets Apptainer's SIF artifact and the manifest digest is printed.\n" +
        "\nExamples:\n  sregistry push lolcow.sif --name registry://lab/lolcow:v1\n" +
        "  sregistry push lolcow.sif --name oras://ghcr.io/lab/lolcow:v1\n" +
        "  SREGISTRY_CLIENT=registry sregistry push tools.sif --name lab/tools --tag 2.0",
    )
    .action((file, options) => runPush(ctx, { file, ...options }));
}

/** Runs `push`. */
export async function runPush(ctx: Context, options: PushCommandOptions): Promise<void> {
  const path = checkSourceFile(resolve(ctx.cwd, options.file));
  const { client, rest } = await remoteFor(ctx, options.name, options);
  await requireCapability(client, "push");
  let name = parseImageName(rest);
  // The tag is checked by the same rules as a name's tag.
  if (options.tag !== undefined) name = { ...name, tag: parseImageName(`x:${options.tag}`).tag };
  const progress = progressDisplay(
    ctx.io.err,
    progressMode(ctx.io.err, { quiet: ctx.flags.quiet, json: options.json }),
    "push",
  );
  const pushed = await client.push!(path, withVersion(name, null), {
    onProgress: (sent, total) => progress.update(sent, total),
    target: rest,
    tag: options.tag,
    knownLayer: await storedLayer(ctx, path),
  }).finally(() => progress.finish());
  const shown = pushed.reference ?? formatImageName(pushed.name);
  ctx.io.err.line(`[push] ${printable(pushed.message)}: ${shown} (${pushed.size} bytes)`);
  ctx.io.err.line(
    pushed.digest
      ? `[push] Digest: ${pushed.digest}`
      : pushed.remoteMd5
      ? `[push] the server's MD5 ${pushed.remoteMd5} equals the file's`
      : `[push] MD5 ${pushed.md5} (the server reported none to compare)`,
  );
  if (options.json) {
    ctx.io.out.write(renderJson({
      uri: shown,
      md5: pushed.md5,
      remote_md5: pushed.remoteMd5,
      ...(pushed.digest ? { digest: pushed.digest } : {}),
      size: pushed.size,
      message: pushed.message,
    }));
  } else {
    ctx.io.out.line(shown);
  }
}

// The OCI layer digest sregistry recorded for a file in its storage (pulled with oras://).
async function storedLayer(
  ctx: Context,
  path: string,
): Promise<{ digest: string; size: number } | null> {
  const settings = ctx.settings();
  if (settings.disable.value || !path.startsWith(`${settings.storage.value}/`)) return null;
  const { recordedLayer } = await import("../remotes/pull.ts");
  using registry = await ctx.openRegistry();
  return recordedLayer(registry, path);
}
