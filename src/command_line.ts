/**
 * The command tree and its parser: commands with typed arguments and options, help text,
 * suggestions for typos. It does what commander did for sregistry in a few hundred lines and no
 * package, because commander's `node:fs`, `node:process` and `node:child_process` imports
 * tripled the start-up a script calling `sregistry get` in a loop pays. Parsing is pure: it
 * returns the help text or the action to run, and throws UsageError for bad input.
 */
import { UsageError } from "./errors.ts";
import { editDistance } from "./core/edit_distance.ts";

// Types that read an option's key and value from its flags, as commander's extra-typings did:
// "-f, --force" is a boolean `force`, "--name <uri>" an optional string `name`.
type CamelCase<S extends string> = S extends `${infer Head}-${infer Tail}`
  ? `${Head}${Capitalize<CamelCase<Tail>>}`
  : S;
type LongName<F extends string> = F extends `${string}--${infer Rest}`
  ? Rest extends `${infer Name} ${string}` ? Name : Rest
  : never;
type OptionKey<F extends string> = CamelCase<LongName<F>>;
type OptionValue<F extends string> = F extends `${string}<${string}...>` ? string[]
  : F extends `${string}<${string}>` ? string | undefined
  : boolean;
type ArgumentValue<S extends string> = S extends `<${string}...>` ? string[]
  : S extends `<${string}>` ? string
  : S extends `[${string}...]` ? string[]
  : string | undefined;

/** What an action receives after its arguments: each option by its camel-cased long name. */
export type OptionValues = Record<string, string | string[] | boolean | undefined>;

/** One option of a command, as parsed from its flags ("-f, --force", "--name <uri>"). */
export interface Option {
  readonly flags: string;
  readonly description: string;
  readonly long: string;
  readonly short?: string;
  /** The placeholder of its value ("<uri>"), or undefined for a boolean flag. */
  readonly value?: string;
  /** Given more than once, it collects every value ("<label...>"). */
  readonly repeatable: boolean;
  readonly required: boolean;
  /** The key in the action's options object. */
  readonly key: string;
}

interface Argument {
  readonly spec: string;
  readonly name: string;
  readonly description: string;
  readonly required: boolean;
  readonly variadic: boolean;
}

// An action may return the exit status it ends with (`shell` does); none means 0.
type Action = (...values: unknown[]) => void | number | Promise<void | number>;

/** A command whatever its arguments and options: what trees and walkers hold. */
// deno-lint-ignore no-explicit-any
export type AnyCommand = Command<any[], object>;

/** A command: its name, arguments, options, subcommands and action. */
export class Command<Args extends unknown[] = [], Options extends object = Record<never, never>> {
  readonly name: string;
  readonly aliases: string[] = [];
  readonly commands: AnyCommand[] = [];
  readonly options: Option[] = [];
  readonly arguments: Argument[] = [];
  parent?: AnyCommand;
  summary = "";
  /** Left out of help, suggestions and completion scripts (commands for scripts sregistry makes). */
  hidden = false;
  helpAfter: string[] = [];
  handler?: Action;

  constructor(name: string) {
    this.name = name;
  }

  /** Adds and returns a subcommand. */
  command(name: string): Command {
    const child = new Command(name);
    child.parent = this as AnyCommand;
    this.commands.push(child);
    return child;
  }

  /** Sets the one-line description shown in help and completions. */
  description(text: string): this {
    this.summary = text;
    return this;
  }

  /** Leaves the command out of help, suggestions and completion scripts. */
  hide(): this {
    this.hidden = true;
    return this;
  }

  /** Another name the command answers to. */
  alias(name: string): this {
    this.aliases.push(name);
    return this;
  }

  /**
   * A positional argument: "<name>" required, "[name]" optional, "[name...]" the rest, "<name...>"
   * the rest, at least one.
   */
  argument<S extends string>(spec: S, description: string): Command<
    [...Args, ArgumentValue<S>],
    Options
  > {
    const placeholder = parsePlaceholder(spec);
    if (!placeholder) throw new Error(`bad argument spec '${spec}'`);
    this.arguments.push({ spec, description, ...placeholder });
    return this as unknown as Command<[...Args, ArgumentValue<S>], Options>;
  }

  /** An option: a boolean flag ("-f, --force") or one taking a value ("--name <uri>"). */
  option<F extends string>(flags: F, description: string): Command<
    Args,
    Options & { [K in OptionKey<F>]: OptionValue<F> }
  > {
    this.options.push(parseFlags(flags, description, false));
    return this as unknown as Command<Args, Options & { [K in OptionKey<F>]: OptionValue<F> }>;
  }

  /** An option taking a value that must be given. */
  requiredOption<F extends string>(flags: F, description: string): Command<
    Args,
    Options & { [K in OptionKey<F>]: string }
  > {
    this.options.push(parseFlags(flags, description, true));
    return this as unknown as Command<Args, Options & { [K in OptionKey<F>]: string }>;
  }

  /** Text shown after the generated help (examples, notes). */
  addHelpText(text: string): this {
    this.helpAfter.push(text);
    return this;
  }

  /** What the command does with its arguments, then its options; it may return an exit status. */
  action(handler: (...values: [...Args, Options]) => void | number | Promise<void | number>): this {
    this.handler = handler as Action;
    return this;
  }

  /** The words that name this command from the root: "sregistry backend ls". */
  path(): string {
    return this.parent ? `${this.parent.path()} ${this.name}` : this.name;
  }
}

// The specs below are read by hand, not by regular expressions: a regular expression is compiled
// when first used, and the few that read these cost every start-up about 0.15 ms.

function parseFlags(flags: string, description: string, required: boolean): Option {
  // "-f, --force", "--name <uri>", "--label <key=value...>"
  const short = flags[0] === "-" && flags[1] !== "-" ? flags[1] : undefined;
  const rest = short === undefined ? flags : flags.slice(4);
  const space = rest.indexOf(" ");
  const long = rest.slice(2, space === -1 ? undefined : space);
  const value = space === -1 ? undefined : rest.slice(space + 1);
  const placeholder = value === undefined ? undefined : parsePlaceholder(value, "=");
  const valid = (short === undefined || (isLetter(short, 0) && flags.slice(2, 4) === ", ")) &&
    rest.startsWith("--") && isLower(long, 0) && allOf(long, "-", isLower, isDigit) &&
    (value === undefined || placeholder?.required === true);
  if (!valid) throw new Error(`bad option flags '${flags}'`);
  if (required && value === undefined) {
    throw new Error(`a required option takes a value: '${flags}'`);
  }
  return {
    flags,
    description,
    long,
    short,
    value,
    repeatable: placeholder?.variadic === true,
    required,
    key: camelCase(long),
  };
}

// "<name>", "[name]", "<name...>" or "[name...]": its name, whether it is required ("<") and
// whether it takes the rest. A name starts with a letter and holds letters, digits, "_", "-"
// and the characters of `extra`.
function parsePlaceholder(
  spec: string,
  extra = "",
): { name: string; required: boolean; variadic: boolean } | null {
  const required = spec[0] === "<";
  if (!required && spec[0] !== "[") return null;
  if (spec[spec.length - 1] !== (required ? ">" : "]")) return null;
  const variadic = spec.endsWith("...", spec.length - 1);
  const name = spec.slice(1, spec.length - (variadic ? 4 : 1));
  const valid = isLetter(name, 0) && allOf(name, `_-${extra}`, isLetter, isDigit);
  return valid ? { name, required, variadic } : null;
}

// "dry-run" is dryRun: a dash before a lowercase letter makes it uppercase.
function camelCase(name: string): string {
  let key = "";
  for (let i = 0; i < name.length; i++) {
    if (name[i] === "-" && isLower(name, i + 1)) key += name[++i].toUpperCase();
    else key += name[i];
  }
  return key;
}

type CharTest = (text: string, at: number) => boolean;

// Whether every character of `text` passes one of the tests or is one of `also`.
function allOf(text: string, also: string, ...tests: CharTest[]): boolean {
  for (let i = 0; i < text.length; i++) {
    if (!also.includes(text[i]) && !tests.some((test) => test(text, i))) return false;
  }
  return true;
}

function isLower(text: string, at: number): boolean {
  const code = text.charCodeAt(at);
  return code >= 0x61 && code <= 0x7a;
}

function isLetter(text: string, at: number): boolean {
  const code = text.charCodeAt(at) | 0x20;
  return code >= 0x61 && code <= 0x7a;
}

function isDigit(text: string, at: number): boolean {
  const code = text.charCodeAt(at);
  return code >= 0x30 && code <= 0x39;
}

/** The root: the program's name, version, global options and text for the end of every help. */
export class Program extends Command {
  constructor(name: string, readonly version: string, readonly helpAfterAll: string) {
    super(name);
  }
}

/** What a command line asks for. */
export type Invocation =
  | { kind: "help"; text: string }
  | { kind: "version"; text: string }
  | {
    kind: "action";
    globals: OptionValues;
    run: () => void | number | Promise<void | number>;
  };

const HELP = { flags: "-h, --help", description: "show this help" };
const VERSION = { flags: "-V, --version", description: "print the version" };

/**
 * Parses `args` against the tree. Global options (the root's) are accepted anywhere; a
 * command's options anywhere after its name; `--` ends the options.
 */
export function parseCommandLine(program: Program, args: string[]): Invocation {
  let command: AnyCommand = program;
  const positionals: string[] = [];
  const values = new Map<Option, string | true>();
  const repeated = new Map<Option, string[]>();
  const setValue = (option: Option, value: string) => {
    values.set(option, value);
    if (option.repeatable) repeated.set(option, [...(repeated.get(option) ?? []), value]);
  };
  let help = false;
  let optionsEnded = false;

  // The option that `flag` names in the command or one of its ancestors.
  const find = (test: (option: Option) => boolean): Option | undefined => {
    for (let at: AnyCommand | undefined = command; at; at = at.parent) {
      const found = at.options.find(test);
      if (found) return found;
    }
    return undefined;
  };
  const take = (option: Option, inline: string | undefined, i: number): number => {
    if (option.value === undefined) {
      if (inline !== undefined) {
        throw new UsageError(`option '--${option.long}' does not take a value`);
      }
      values.set(option, true);
      return i;
    }
    if (inline !== undefined) {
      setValue(option, inline);
      return i;
    }
    if (i + 1 >= args.length) throw new UsageError(`option '${option.flags}' needs a value`);
    setValue(option, args[i + 1]);
    return i + 1;
  };

  // Asked for help, a user gets it even when the rest of the line is wrong.
  const optionsEnd = args.includes("--") ? args.indexOf("--") : args.length;
  const wantsHelp = args.slice(0, optionsEnd).some((arg) => arg === "--help" || arg === "-h");
  try {
    for (let i = 0; i < args.length; i++) {
      const arg = args[i];
      if (!optionsEnded && arg === "--") {
        optionsEnded = true;
      } else if (!optionsEnded && arg.startsWith("--")) {
        const [flag, inline] = splitInline(arg);
        if (flag === "--help") help = true;
        else if (flag === "--version" && command === program) {
          return { kind: "version", text: `${program.version}\n` };
        } else {
          const option = find((o) => `--${o.long}` === flag);
          if (!option) throw unknownOption(flag, command);
          i = take(option, inline, i);
        }
      } else if (!optionsEnded && arg.startsWith("-") && arg.length > 1) {
        // A cluster of short flags ("-fy"); a short option taking a value ends it ("-kfoo").
        for (let at = 1; at < arg.length; at++) {
          const letter = arg[at];
          if (letter === "h") {
            help = true;
            continue;
          }
          if (letter === "V" && command === program) {
            return { kind: "version", text: `${program.version}\n` };
          }
          const option = find((o) => o.short === letter);
          if (!option) throw unknownOption(`-${letter}`, command);
          const rest = arg.slice(at + 1);
          if (option.value !== undefined && rest !== "") {
            setValue(option, rest);
            break;
          }
          i = take(option, undefined, i);
        }
      } else if (positionals.length === 0 && command.commands.length > 0) {
        const sub = command.commands.find((c) => c.name === arg || c.aliases.includes(arg));
        if (sub) command = sub;
        else if (command === program && arg === "help") return helpFor(program, args.slice(i + 1));
        else throw unknownCommand(arg, command);
      } else {
        positionals.push(arg);
      }
    }
  } catch (error) {
    if (wantsHelp && error instanceof UsageError) {
      return { kind: "help", text: helpText(program, command) };
    }
    throw error;
  }

  if (help) return { kind: "help", text: helpText(program, command) };
  const handler = command.handler;
  if (!handler) {
    const names = command.commands.filter((c) => !c.hidden).map((c) => c.name).join(", ");
    throw new UsageError(`'${command.path()}' needs a command: ${names}`, {
      hint: `see '${command.path()} --help'`,
    });
  }
  const actionArgs = bindArguments(command, positionals);
  const options: OptionValues = {};
  for (const option of command.options) {
    const value = values.get(option);
    if (value === undefined && option.required) {
      throw new UsageError(`option '${option.flags}' is required`, {
        hint: `see '${command.path()} --help'`,
      });
    }
    options[option.key] = option.value === undefined
      ? value === true
      : option.repeatable
      ? repeated.get(option) ?? []
      : value;
  }
  const globals: OptionValues = {};
  for (const option of program.options) {
    const value = values.get(option);
    globals[option.key] = option.value === undefined ? value === true : value;
  }
  return { kind: "action", globals, run: () => handler(...actionArgs, options) };
}

function splitInline(arg: string): [string, string | undefined] {
  const equals = arg.indexOf("=");
  return equals === -1 ? [arg, undefined] : [arg.slice(0, equals), arg.slice(equals + 1)];
}

function bindArguments(command: AnyCommand, positionals: string[]): unknown[] {
  const bound: unknown[] = [];
  let next = 0;
  for (const argument of command.arguments) {
    if (argument.variadic) {
      if (argument.required && next >= positionals.length) {
        throw new UsageError(`missing required argument '${argument.name}'`, {
          hint: `usage: ${usage(command)}`,
        });
      }
      bound.push(positionals.slice(next));
      next = positionals.length;
    } else if (next < positionals.length) {
      bound.push(positionals[next++]);
    } else if (argument.required) {
      throw new UsageError(`missing required argument '${argument.name}'`, {
        hint: `usage: ${usage(command)}`,
      });
    } else {
      bound.push(undefined);
    }
  }
  if (next < positionals.length) {
    const expected = command.arguments.length;
    throw new UsageError(
      `too many arguments for '${command.path()}': expected ${expected}, got ${positionals.length}`,
      { hint: `usage: ${usage(command)}` },
    );
  }
  return bound;
}

function unknownOption(flag: string, command: AnyCommand): UsageError {
  const known: string[] = ["--help"];
  for (let at: AnyCommand | undefined = command; at; at = at.parent) {
    known.push(...at.options.map((option) => `--${option.long}`));
  }
  const suggestion = flag.startsWith("--") ? closest(flag, known) : undefined;
  return new UsageError(`unknown option '${flag}'`, {
    hint: suggestion ? `did you mean ${suggestion}?` : `see '${command.path()} --help'`,
  });
}

function unknownCommand(word: string, command: AnyCommand): UsageError {
  const names = command.commands.filter((c) => !c.hidden).flatMap((c) => [c.name, ...c.aliases]);
  const suggestion = closest(word, names);
  return new UsageError(`unknown command '${word}'`, {
    hint: suggestion ? `did you mean ${suggestion}?` : `see '${command.path()} --help'`,
  });
}

// `help [command...]`: the help of the command those words name.
function helpFor(program: Program, words: string[]): Invocation {
  let command: AnyCommand = program;
  for (const word of words) {
    const sub = command.commands.find((c) => c.name === word || c.aliases.includes(word));
    if (!sub) throw unknownCommand(word, command);
    command = sub;
  }
  return { kind: "help", text: helpText(program, command) };
}

/** The closest candidate within a few edits of `word`, as a suggestion for a typo. */
export function closest(word: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(word, candidate);
    const similar = distance <= 3 && (candidate.length - distance) / candidate.length > 0.4;
    if (similar && distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

function usage(command: AnyCommand): string {
  const names = [command.name, ...command.aliases].join("|");
  const words = [command.parent ? `${command.parent.path()} ${names}` : names, "[options]"];
  if (command.commands.length > 0) words.push("[command]");
  words.push(...command.arguments.map((argument) => argument.spec));
  return words.join(" ");
}

/** The help of one command: usage, description, arguments, options, commands, notes. */
export function helpText(program: Program, command: AnyCommand): string {
  const sections = [`Usage: ${usage(command)}`];
  if (command.summary) sections.push(command.summary);
  if (command.arguments.length > 0) {
    sections.push(
      "Arguments:\n" + table(command.arguments.map((a) => [a.name, a.description])),
    );
  }
  const options = command.options.map((o) => [o.flags, o.description]);
  if (command === program) options.push([VERSION.flags, VERSION.description]);
  options.push([HELP.flags, HELP.description]);
  sections.push("Options:\n" + table(options));
  if (command !== program) {
    const globals = program.options.map((o) => [o.flags, o.description]);
    sections.push("Global options:\n" + table(globals));
  }
  if (command.commands.length > 0) {
    const rows = command.commands.filter((c) => !c.hidden).map((c) => {
      const term = [[c.name, ...c.aliases].join("|")];
      if (c.options.length > 0) term.push("[options]");
      if (c.commands.length > 0) term.push("[command]");
      term.push(...c.arguments.map((a) => a.spec));
      return [term.join(" "), c.summary.split("\n")[0]];
    });
    if (command === program) rows.push(["help [command]", "show the help of a command"]);
    sections.push("Commands:\n" + table(rows));
  }
  let text = sections.join("\n\n") + "\n";
  for (const after of command.helpAfter) text += `${after}\n`;
  return text + program.helpAfterAll + "\n";
}

function table(rows: string[][]): string {
  const width = Math.max(...rows.map(([term]) => term.length));
  return rows.map(([term, description]) => `  ${term.padEnd(width)}  ${description}`)
    .join("\n");
}
