/**
 * Builds the command tree, runs it, and renders errors once: the only place that turns an
 * exception into a message and an exit code.
 */
import { helpText, parseCommandLine, Program } from "./command_line.ts";
import { createContext, type GlobalFlags, type Host } from "./context.ts";
import { ConfigError, printable, reason, RUNTIME_REFUSES, SregistryError } from "./errors.ts";
import { VERSION } from "./version.ts";
import { registerCommands } from "./commands/all.ts";

/** Exit codes, appended to every command's help. */
export const EXIT_CODES = `
Exit codes:
  0    success
  1    the work failed (not found, conflict, network, integrity, configuration)
  2    bad usage or invalid input (unknown flag, invalid image name)
  130  interrupted (Ctrl-C); a partial download is kept and the next pull resumes it`;

/**
 * Runs sregistry with `args` and returns the exit code. `outer` are the global flags of the
 * command line that started a shell: each line it runs keeps them unless it gives its own.
 */
export async function run(
  args: string[],
  host: Host,
  outer: GlobalFlags = { debug: false, quiet: false },
): Promise<number> {
  const ctx = createContext(host);
  ctx.flags = outer;
  const json = args.includes("--json");
  try {
    const program = await buildProgram(host, ctx, commandWord(args));
    if (args.length === 0) {
      host.io.out.write(helpText(program, program));
      return 0;
    }
    const invocation = parseCommandLine(program, args);
    if (invocation.kind !== "action") {
      host.io.out.write(invocation.text);
      return 0;
    }
    const { debug, quiet, database, storage } = invocation.globals;
    ctx.flags = {
      debug: debug === true || outer.debug,
      quiet: quiet === true || outer.quiet,
      database: typeof database === "string" ? database : outer.database,
      storage: typeof storage === "string" ? storage : outer.storage,
    };
    const status = await invocation.run();
    return typeof status === "number" ? status : 0;
  } catch (error) {
    return renderError(host, error, { json, debug: ctx.flags.debug || args.includes("--debug") });
  }
}

/**
 * Builds a fresh command tree wired to one context, with only the command `command` when it is
 * given (see commands/all.ts).
 */
export async function buildProgram(
  host: Host,
  ctx: ReturnType<typeof createContext>,
  command?: string,
): Promise<Program> {
  const program = new Program("sregistry", VERSION, EXIT_CODES);
  program
    .description(
      "Singularity Registry Global Client: keep, find and fetch container images.\n" +
        "Images live in a storage folder, records in a SQLite database; clients pull from\n" +
        "Singularity Hub, Singularity Registry Server, OCI registries (oras://) and plain URLs.",
    )
    .option("--debug", "show details and stack traces (never tokens)")
    .option("-q, --quiet", "no banner and no progress on stderr")
    .option("--database <folder>", "folder holding sregistry.db (overrides SREGISTRY_DATABASE)")
    .option("--storage <folder>", "image storage folder (overrides SREGISTRY_STORAGE)");
  await registerCommands(
    program,
    ctx,
    (args, client) =>
      run(
        args,
        client ? { ...host, env: { ...host.env, SREGISTRY_CLIENT: client } } : host,
        ctx.flags,
      ),
    command,
  );
  return program;
}

// The first word that is not a global option or its value: the command's name.
function commandWord(args: string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--database" || args[i] === "--storage") i++;
    else if (!args[i].startsWith("-")) return args[i];
  }
  return undefined;
}

function renderError(
  host: Host,
  error: unknown,
  options: { json: boolean; debug: boolean },
): number {
  const err = host.io.err;
  error = knownFailure(error);
  if (error instanceof SregistryError) {
    // Messages quote what users typed and remotes answered: never a raw control byte.
    const message = printable(error.message);
    const hint = error.hint === undefined ? undefined : printable(error.hint);
    if (options.json) {
      err.line(JSON.stringify({ error: { code: error.code, message, hint } }));
    } else {
      err.line(`sregistry: ${message}${hint ? `; ${hint}` : ""}`);
    }
    if (options.debug && error.cause instanceof Error) {
      err.line(error.cause.stack ?? String(error.cause));
    }
    return error.exitCode;
  }
  err.line(
    `sregistry: unexpected error: ${printable(reason(error))} (run with --debug for the stack)`,
  );
  if (options.debug && error instanceof Error) err.line(error.stack ?? "");
  return 1;
}

// Failures no layer turned into a SregistryError, but whose cause the user can act on.
function knownFailure(error: unknown): unknown {
  if (error instanceof SregistryError) return error;
  if (error instanceof Deno.errors.NotCapable) {
    // A path the runtime refuses (/dev, /proc, /sys) that no check caught first: say why, and
    // never pass on Deno's advice to grant everything.
    const path = /"([^"]+)"/.exec(error.message)?.[1] ?? "a path";
    return new ConfigError(`cannot use ${path}: ${RUNTIME_REFUSES}`, {
      hint: "choose a folder elsewhere (node-local scratch, $TMPDIR)",
      cause: error,
    });
  }
  // SQLite finds a damaged page only when it reads it, which can be any query.
  if (
    error instanceof Error &&
    /database disk image is malformed|file is not a database/i.test(error.message)
  ) {
    return new ConfigError(`the database is damaged (${reason(error)})`, {
      hint: "move sregistry.db aside and restore a copy, or point SREGISTRY_DATABASE elsewhere",
      cause: error,
    });
  }
  return error;
}
