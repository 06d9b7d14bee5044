/**
 * `sregistry __complete <kind> [prefix]`: the words completion scripts ask for at completion
 * time, one per line: recorded image names, collections and clients (from the database), and
 * backends (from the secrets file). Hidden from help. It prints nothing on stderr and exits 0
 * whatever goes wrong (no database, a locked or damaged one, an unreadable secrets file): a
 * completion never writes into the user's terminal, and never creates a database.
 */
import type { Command } from "../command_line.ts";
import type { Context } from "../context.ts";
import { UsageError } from "../errors.ts";
import { COMPLETION_KINDS, completionWords, MAX_COMPLETIONS } from "../core/completion_words.ts";
import { join } from "../core/paths.ts";
import { DATABASE_FILE } from "../core/registry.ts";
import { listBackends } from "../config/secrets.ts";

// The kinds: what the database holds, and the secrets file's backends.
const KINDS = [...COMPLETION_KINDS, "backends"] as const;

/** Registers `__complete`. */
export function registerComplete(program: Command, ctx: Context): void {
  program.command("__complete").hide()
    .description("words for shell completion (used by the completion scripts)")
    .argument("<kind>", KINDS.join(", "))
    .argument("[prefix]", "what was typed so far")
    .addHelpText("\nExample:\n  sregistry __complete images vsoch/hel")
    .action((kind, prefix) => runComplete(ctx, { kind, prefix: prefix ?? "" }));
}

/** Runs `__complete`. */
export function runComplete(ctx: Context, options: { kind: string; prefix: string }): void {
  if (!(KINDS as readonly string[]).includes(options.kind)) {
    throw new UsageError(`unknown kind '${options.kind}'`, { hint: `choose ${KINDS.join(", ")}` });
  }
  let words: string[];
  try {
    words = options.kind === "backends" ? backends(ctx, options.prefix) : recorded(ctx, options);
  } catch {
    words = [];
  }
  // One word a line: a word with a control character (a damaged record) would break the list.
  const shown = words.filter((word) => !/\p{Cc}/u.test(word));
  ctx.io.out.write(shown.map((word) => `${word}\n`).join(""));
}

function recorded(ctx: Context, options: { kind: string; prefix: string }): string[] {
  const settings = ctx.settings();
  if (settings.disable.value) return [];
  const file = join(settings.database.value, DATABASE_FILE);
  const kind = options.kind as typeof COMPLETION_KINDS[number];
  return completionWords(file, kind, options.prefix);
}

function backends(ctx: Context, prefix: string): string[] {
  return listBackends(ctx.secrets().data).filter((name) => name.startsWith(prefix)).sort()
    .slice(0, MAX_COMPLETIONS);
}
