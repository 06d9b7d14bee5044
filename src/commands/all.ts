/**
 * The list of commands: the only file that knows every command. Each is loaded on demand (but
 * `get` and `images`, which start with the program) and `sregistry get` builds only `get`
 * (start-up is what a script calling `get` in a loop pays); help, suggestions, `shell` and
 * `completions` load them all.
 */
import type { Command } from "../command_line.ts";
import type { Context } from "../context.ts";
import { registerGet } from "./get.ts";
import { registerImages } from "./images.ts";

/** Runs a command line in the same process (what `shell` does with each line it reads). */
export type LineRunner = (args: string[], client: string | undefined) => Promise<number>;

type Register = (program: Command, ctx: Context, runLine: LineRunner) => void;

// The specifier is built at run time, so Deno loads a command's module graph only when it runs:
// a literal one makes every start-up read the graphs of all commands (about 3 ms of 10).
// scripts/compile.ts includes the command modules by name for that reason.
// `get` and `images`, which scripts call in loops, are imported statically: an import() of a
// specifier built at run time costs about 0.4 ms, and even a literal one about 0.5 ms more than
// loading the same modules with the rest (which costs every other command about 0.25 ms).
function load(file: string, name: string): () => Promise<Register> {
  return async () => (await import(new URL(`./${file}.ts`, import.meta.url).href))[name];
}

// In the order `--help` lists them. Names sharing a file register together.
const COMMANDS: [string[], () => Promise<Register>][] = [
  [["version"], load("version", "registerVersion")],
  [["backend"], load("backend", "registerBackend")],
  [["shell"], load("shell", "registerShell")],
  [["config"], load("config", "registerConfig")],
  [["images"], () => Promise.resolve(registerImages)],
  [["inspect"], load("inspect", "registerInspect")],
  [["get"], () => Promise.resolve(registerGet)],
  [["add"], load("add", "registerAdd")],
  [["record"], load("record", "registerRecord")],
  [["pull"], load("pull", "registerPull")],
  [["push"], load("push", "registerPush")],
  [["search"], load("search", "registerSearch")],
  [["delete"], load("delete", "registerDelete")],
  [["labels"], load("labels", "registerLabels")],
  [["login", "logout"], load("login", "registerLogin")],
  [["mv", "rename"], load("move", "registerMove")],
  [["tag"], load("tag", "registerTag")],
  [["import"], load("import", "registerImport")],
  [["rm", "rmi"], load("remove", "registerRemove")],
  [["verify"], load("verify", "registerVerify")],
  [["prune"], load("prune", "registerPrune")],
  [["du"], load("du", "registerDu")],
  [["refresh"], load("refresh", "registerRefresh")],
  [["completions"], load("completions", "registerCompletions")],
  [["__complete"], load("complete", "registerComplete")],
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
