/**
 * `sregistry shell [client]`: an interactive prompt that runs sregistry commands typed without
 * the `sregistry` word, until `exit` or end of input. Each line runs as a fresh command tree.
 */
import type { Command } from "../command_line.ts";
import type { Context } from "../context.ts";
import { UsageError } from "../errors.ts";
import { activeClient, printBanner } from "./common.ts";

/** Runs one command line's words with an optional client override; returns its exit code. */
export type LineRunner = (args: string[], client: string | undefined) => Promise<number>;

/** Registers `shell`. */
export function registerShell(program: Command, ctx: Context, runLine: LineRunner): void {
  program.command("shell").description("an interactive sregistry prompt")
    .argument("[client]", "client to use in the shell (default: the active one)")
    .addHelpText(
      "\nType commands without 'sregistry', e.g. 'images' or 'get vsoch/hello-world';\n" +
        "'exit' or end of input leaves.\n\nExample:\n  sregistry shell registry",
    )
    .action((client) => runShell(ctx, { client, runLine }));
}

/** Runs `shell`. */
export async function runShell(
  ctx: Context,
  options: { client?: string; runLine: LineRunner },
): Promise<void> {
  const client = options.client?.replace(/:\/\/$/, "").toLowerCase();
  printBanner(ctx, client ?? activeClient(ctx));
  while (true) {
    if (ctx.io.in.isTerminal) ctx.io.err.write("sregistry> ");
    const line = await ctx.io.in.readLine();
    if (line === null) break;
    let words: string[];
    try {
      words = splitWords(line);
    } catch (error) {
      ctx.io.err.line(`sregistry: ${(error as Error).message}`);
      continue;
    }
    if (words.length === 0) continue;
    if (words[0] === "exit" || words[0] === "quit") break;
    if (words[0] === "sregistry") words.shift();
    if (words[0] === "shell") {
      ctx.io.err.line("sregistry: already in the shell");
      continue;
    }
    await options.runLine(words, client);
  }
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
