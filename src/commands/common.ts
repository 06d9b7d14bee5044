/**
 * Pieces several commands share: the `[client|x] [database|y]` banner, parsing a name argument,
 * reading a metadata file, and asking for confirmation (never off a terminal without --yes).
 */
import type { Context } from "../context.ts";
import { ConfigError, UsageError } from "../errors.ts";
import { readInputFile } from "../core/input_file.ts";
import { type ImageName, parseImageName, splitScheme } from "../core/names.ts";
import { join, resolve } from "../core/paths.ts";
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

/** The largest `--metadata` file read: it is kept in the database with the record. */
export const MAX_METADATA_BYTES = 4 * 1024 * 1024;

/**
 * Reads `--metadata <file>`: a JSON document kept with the record, from a regular file of at
 * most MAX_METADATA_BYTES (a FIFO or a device is refused without blocking).
 */
export function readMetadata(path: string | undefined, cwd: string): unknown {
  if (path === undefined) return null;
  const text = readInputFile(resolve(cwd, path), {
    what: "metadata file",
    limit: MAX_METADATA_BYTES,
  });
  if (text === null) throw new ConfigError(`cannot read metadata file ${path}: no such file`);
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
