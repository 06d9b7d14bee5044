/**
 * Running the CLI as a user would: `sregistry()` spawns `deno run` with the executable's
 * permission set (deno.json's `permissions`), `sregistryInProcess()` calls run() with buffers
 * that can pretend to be a terminal. Both return { code, stdout, stderr }.
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { run } from "../../src/cli.ts";
import type { Host } from "../../src/context.ts";
import { outputStream } from "../../src/output/io.ts";
import { V8_FLAGS } from "../../scripts/v8_flags.ts";

/** The repository root. */
export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
/** The Deno cache the spawned CLI shares with the tests (a temporary HOME would start an empty one). */
export const DENO_DIR = Deno.env.get("DENO_DIR") ??
  join(Deno.env.get("HOME") ?? "/root", ".cache", "deno");

/** What a run printed and returned. */
export interface CliResult {
  /** Exit code. */
  code: number;
  /** Standard output. */
  stdout: string;
  /** Standard error. */
  stderr: string;
}

/** Options of a CLI run. */
export interface CliOptions {
  /** Environment (HOME and SREGISTRY_*); PATH and DENO_DIR are added. */
  env?: Record<string, string>;
  /** Working directory. */
  cwd?: string;
  /** Text fed to standard input. */
  stdin?: string;
  /** Abort (SIGINT) the process when this resolves. */
  signal?: AbortSignal;
}

/** The argument list that runs the CLI from source with the executable's permissions. */
export function sregistryCommand(args: string[]): string[] {
  return denoRunArgs(join(ROOT, "main.ts"), args);
}

/**
 * The argument list that runs `script` as the CLI is run: the same Deno and V8 flags, the
 * executable's permission set (deno.json's). The benchmarks' empty script is run this way too.
 */
export function denoRunArgs(script: string, args: string[] = []): string[] {
  return [
    "run",
    "--quiet",
    "--no-prompt",
    ...V8_FLAGS,
    "--config",
    join(ROOT, "deno.json"),
    "-P",
    script,
    ...args,
  ];
}

/**
 * Starts the CLI as a separate process with a clean environment (only `env`, plus PATH, DENO_DIR
 * and NO_COLOR), stdout and stderr piped; for tests that watch or signal it while it runs.
 */
export function startSregistry(
  args: string[],
  options: { env?: Record<string, string>; cwd?: string; stdin?: "piped" | "null" } = {},
): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: sregistryCommand(args),
    cwd: options.cwd ?? ROOT,
    env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", DENO_DIR, NO_COLOR: "1", ...options.env },
    clearEnv: true,
    stdin: options.stdin ?? "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** Spawns the CLI as a separate process, exactly as a user runs it. */
export async function sregistry(args: string[], options: CliOptions = {}): Promise<CliResult> {
  const child = startSregistry(args, {
    env: options.env,
    cwd: options.cwd,
    stdin: options.stdin === undefined ? "null" : "piped",
  });
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    try {
      await writer.write(new TextEncoder().encode(options.stdin));
      await writer.close();
    } catch (error) {
      // The CLI may stop reading before the end of its input (a refused line), as `head` does.
      if (!(error instanceof Deno.errors.BrokenPipe)) throw error;
    }
  }
  const output = await child.output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** Options of an in-process run. */
export interface InProcessOptions extends CliOptions {
  /** Pretend stdout is a terminal. */
  stdoutTerminal?: boolean;
  /** Pretend stderr is a terminal. */
  stderrTerminal?: boolean;
  /** Pretend stdin is a terminal. */
  stdinTerminal?: boolean;
  /** An abort signal standing in for Ctrl-C. */
  interrupt?: AbortSignal;
}

/** Calls run() in this process with string buffers (for TTY rendering a pipe cannot show). */
export async function sregistryInProcess(
  args: string[],
  options: InProcessOptions = {},
): Promise<CliResult> {
  let stdout = "";
  let stderr = "";
  const lines = (options.stdin ?? "").split("\n");
  if (lines.at(-1) === "") lines.pop();
  const host: Host = {
    io: {
      out: outputStream((text) => stdout += text, { isTerminal: options.stdoutTerminal }),
      err: outputStream((text) => stderr += text, { isTerminal: options.stderrTerminal }),
      in: {
        isTerminal: options.stdinTerminal ?? false,
        readLine: () => Promise.resolve(lines.length ? lines.shift()! : null),
      },
    },
    env: { ...options.env },
    cwd: options.cwd ?? ROOT,
    interrupts: () => options.interrupt ?? new AbortController().signal,
  };
  const code = await run(args, host);
  return { code, stdout, stderr };
}
