/**
 * The list of commands: the only file that knows every command. Each is loaded on demand, so
 * `sregistry get` builds and imports only `get` (start-up is what a script calling `get` in a
 * loop pays); help, suggestions, `shell` and `completions` load them all.
 */
import type { Command } from "../command_line.ts";
import type { Context } from "../context.ts";
import type { LineRunner } from "./shell.ts";

type Register = (program: Command, ctx: Context, runLine: LineRunner) => void;

// In the order `--help` lists them. Names sharing a file register together.
const COMMANDS: [string[], () => Promise<Register>][] = [
  [["version"], async () => (await import("./version.ts")).registerVersion],
  [["backend"], async () => (await import("./backend.ts")).registerBackend],
  [["shell"], async () => (await import("./shell.ts")).registerShell],
  [["config"], async () => (await import("./config.ts")).registerConfig],
  [["images"], async () => (await import("./images.ts")).registerImages],
  [["inspect"], async () => (await import("./inspect.ts")).registerInspect],
  [["get"], async () => (await import("./get.ts")).registerGet],
  [["add"], async () => (await import("./add.ts")).registerAdd],
  [["record"], async () => (await import("./record.ts")).registerRecord],
  [["pull"], async () => (await import("./pull.ts")).registerPull],
  [["push"], async () => (await import("./push.ts")).registerPush],
  [["search"], async () => (await import("./search.ts")).registerSearch],
  [["delete"], async () => (await import("./delete.ts")).registerDelete],
  [["labels"], async () => (await import("./labels.ts")).registerLabels],
  [["login", "logout"], async () => (await import("./login.ts")).registerLogin],
  [["mv", "rename"], async () => (await import("./move.ts")).registerMove],
  [["tag"], async () => (await import("./tag.ts")).registerTag],
  [["import"], async () => (await import("./import.ts")).registerImport],
  [["rm", "rmi"], async () => (await import("./remove.ts")).registerRemove],
  [["verify"], async () => (await import("./verify.ts")).registerVerify],
  [["prune"], async () => (await import("./prune.ts")).registerPrune],
  [["du"], async () => (await import("./du.ts")).registerDu],
  [["completions"], async () => (await import("./completions.ts")).registerCompletions],
];

// These need the whole tree.
const NEEDS_ALL = new Set(["shell", "completions"]);

/**
 * Registers the command named by `command` (the first word of the command line), or every
 * command when it is missing, unknown or needs them all.
 */
export async function registerCommands(
  program: Command,
  ctx: Context,
  runLine: LineRunner,
  command: string | undefined,
): Promise<void> {
  const one = command !== undefined && !NEEDS_ALL.has(command)
    ? COMMANDS.find(([names]) => names.includes(command))
    : undefined;
  const chosen = one ? [one] : COMMANDS;
  const registers = await Promise.all(chosen.map(([, load]) => load()));
  for (const register of registers) register(program, ctx, runLine);
}
