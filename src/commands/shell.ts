/**
 * `sregistry shell [client]`: an interactive prompt that runs sregistry commands typed without
 * the `sregistry` word, until `exit [N]` or end of input. Each line runs as a fresh command tree;
 * the shell ends with the status of the last line (or N), as a POSIX shell does.
 */
import type { Command } from "../command_line.ts";
import type { Context } from "../context.ts";
import { UsageError } from "../errors.ts";
import { activeClient, printBanner } from "./common.ts";
import { clientArgument } from "./remote.ts";
import type { LineRunner } from "./all.ts";

/** Registers `shell`. */
export function registerShell(program: Command, ctx: Context, runLine: LineRunner): void {
  program.command("shell").description("an interactive sregistry prompt")
    .argument("[client]", "client to use in the shell (default: the active one)")
    .addHelpText(
      "\nType commands without 'sregistry', e.g. 'images' or 'get vsoch/hello-world';\n" +
        "'exit [N]' or end of input leaves. The shell exits with the status of its last\n" +
        "command, or N.\n\nExample:\n  sregistry shell registry",
    )
    .action((client) => runShell(ctx, { client, runLine }));
}

/** Runs `shell`; returns the status of the last line run, or of `exit N`. */
export async function runShell(
  ctx: Context,
  options: { client?: string; runLine: LineRunner },
): Promise<number> {
  const client = options.client === undefined ? undefined : await clientArgument(options.client);
  printBanner(ctx, client ?? activeClient(ctx));
  let status = 0;
  while (true) {
    if (ctx.io.in.isTerminal) ctx.io.err.write("sregistry> ");
    const line = await ctx.io.in.readLine();
    if (line === null) return status;
    let words: string[];
    try {
      words = splitWords(line);
    } catch (error) {
      ctx.io.err.line(`sregistry: ${(error as Error).message}`);
      status = 2;
      continue;
    }
    if (words.length === 0) continue;
    if (words[0] === "exit" || words[0] === "quit") return exitStatus(words, status);
    if (words[0] === "sregistry") words.shift();
    if (words[0] === "shell") {
      ctx.io.err.line("sregistry: already in the shell");
      status = 2;
      continue;
    }
    status = await options.runLine(words, client);
  }
}

// `exit` keeps the last status; `exit N` ends with N (0-255).
function exitStatus(words: string[], last: number): number {
  if (words.length === 1) return last;
  const status = words.length === 2 && /^\d{1,3}$/.test(words[1]) ? Number(words[1]) : NaN;
  if (!(status <= 255)) {
    throw new UsageError(
      `${words[0]} takes one status from 0 to 255, not '${words.slice(1).join(" ")}'`,
    );
  }
  return status;
}

/** Splits a command line into words, honouring single and double quotes and backslashes. */
export function splitWords(line: string): string[] {
  const words: string[] = [];
  let current = "";
  let started = false;
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const char = line[i];
    if (quote) {
      if (char === quote) quote = null;
      else if (char === "\\" && quote === '"' && i + 1 < line.length) current += line[++i];
      else current += char;
    } else if (char === "'" || char === '"') {
      quote = char;
      started = true;
    } else if (char === "\\" && i + 1 < line.length) {
      current += line[++i];
      started = true;
    } else if (/\s/.test(char)) {
      if (started) words.push(current);
      current = "";
      started = false;
    } else {
      current += char;
      started = true;
    }
  }
  if (quote) throw new UsageError(`unclosed ${quote} quote`);
  if (started) words.push(current);
  return words;
}
