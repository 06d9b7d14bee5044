/**
 * Pieces several commands share: the `[client|x] [database|y]` banner, parsing a name argument,
 * reading a metadata file, and asking for confirmation (never off a terminal without --yes).
 */
import type { Context } from "../context.ts";
import { ConfigError, reason, UsageError } from "../errors.ts";
import { type ImageName, parseImageName, splitScheme } from "../core/names.ts";
import { join, resolve } from "node:path";
import { DATABASE_FILE } from "../core/registry.ts";

/** Writes the banner on stderr unless --quiet. */
export function printBanner(ctx: Context, client: string): void {
  if (ctx.flags.quiet) return;
  const settings = ctx.settings();
  const database = settings.disable.value
    ? "dummy"
    : `sqlite:///${join(settings.database.value, DATABASE_FILE)}`;
  ctx.io.err.line(`[client|${client}] [database|${database}]`);
}

/** Parses a name argument, ignoring a leading `scheme://` (local commands accept both). */
export function nameArgument(uri: string): ImageName {
  return parseImageName(splitScheme(uri).rest);
}

/** Reads `--metadata <file>`: a JSON document kept with the record. */
export function readMetadata(path: string | undefined, cwd: string): unknown {
  if (path === undefined) return null;
  let text: string;
  try {
    text = Deno.readTextFileSync(resolve(cwd, path));
  } catch (error) {
    throw new ConfigError(`cannot read metadata file ${path}: ${reason(error).split(":")[0]}`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UsageError(`metadata file ${path} is not valid JSON: ${(error as Error).message}`);
  }
}

/**
 * Asks a yes/no question on a terminal; off a terminal only `--yes` (or `--force`) proceeds.
 * Returns false when the user declines.
 */
export async function confirm(
  ctx: Context,
  question: string,
  options: { yes: boolean; flag: string; action: string },
): Promise<boolean> {
  if (options.yes) return true;
  if (!ctx.io.in.isTerminal) {
    throw new UsageError(`refusing to ${options.action} without confirmation`, {
      hint: `stdin is not a terminal; add ${options.flag} to proceed`,
    });
  }
  while (true) {
    ctx.io.err.write(`${question} [y/N] `);
    const answer = (await ctx.io.in.readLine())?.trim().toLowerCase();
    if (answer === undefined || answer === "" || answer === "n" || answer === "no") return false;
    if (answer === "y" || answer === "yes") return true;
    ctx.io.err.line("Please answer yes or no.");
  }
}

/** The client name for local records: the active one from settings. */
export function activeClient(ctx: Context): string {
  return ctx.settings().client.value;
}
