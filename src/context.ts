/**
 * The context every command runs in: streams, environment, global flags, and lazy access to
 * settings and the registry. `systemHost()` is the only code that touches Deno.env, Deno.stdout
 * and Deno.stderr, so tests run commands in-process with buffers and a plain env object.
 */
import { ConfigError } from "./errors.ts";
import { type Io, lineReader, outputStream } from "./output/io.ts";
import { readSecrets, type Secrets } from "./config/secrets.ts";
import { type Env, resolveSettings, secretsPath, type Settings } from "./config/settings.ts";
import { openRegistry, type Registry } from "./core/registry.ts";

/** What the outside world provides to a run. */
export interface Host {
  /** Standard streams. */
  io: Io;
  /** Environment variables. */
  env: Env;
  /** Working directory for relative paths. */
  cwd: string;
  /**
   * A fresh signal for the command starting now, aborted by the next Ctrl-C; the first call
   * stops Ctrl-C from killing the process.
   */
  interrupts(): AbortSignal;
}

/** Flags accepted by every command. */
export interface GlobalFlags {
  /** Show stack traces and request details (never tokens). */
  debug: boolean;
  /** No banner, no progress. */
  quiet: boolean;
  /** Database folder override. */
  database?: string;
  /** Storage folder override. */
  storage?: string;
}

/** Everything a command body needs. */
export interface Context {
  /** Standard streams. */
  readonly io: Io;
  /** Environment variables. */
  readonly env: Env;
  /** Working directory. */
  readonly cwd: string;
  /** Global flags, set before a command's action runs. */
  flags: GlobalFlags;
  /** The secrets file, read on first use; a corrupt one is reported only to commands that need it. */
  secrets(): Secrets;
  /** Effective settings, resolved on first use. */
  settings(): Settings;
  /** Opens the local registry; throws when SREGISTRY_DISABLE is set. */
  openRegistry(): Promise<Registry>;
  /** Aborts on Ctrl-C, for long transfers that keep a partial file to resume; one per command. */
  interrupts(): AbortSignal;
}

/** Builds a fresh context over a host. */
export function createContext(host: Host): Context {
  let secrets: Secrets | undefined;
  let settings: Settings | undefined;
  let interrupts: AbortSignal | undefined;
  const context: Context = {
    io: host.io,
    env: host.env,
    cwd: host.cwd,
    flags: { debug: false, quiet: false },
    secrets() {
      secrets ??= secretsOf(host);
      return secrets;
    },
    settings() {
      settings ??= resolveSettings({
        env: host.env,
        flags: { database: context.flags.database, storage: context.flags.storage },
        secrets: () => context.secrets(),
        cwd: host.cwd,
      });
      return settings;
    },
    openRegistry() {
      const current = context.settings();
      if (current.disable.value) {
        throw new ConfigError(
          `this command needs the database, which ${current.disable.source} disables`,
          { hint: `unset ${current.disable.source} to use it` },
        );
      }
      return openRegistry({
        databaseFolder: current.database.value,
        storageRoot: current.storage.value,
        failpoint: failpoints(host.env.SREGISTRY_FAILPOINT, host.io),
      });
    },
    interrupts() {
      interrupts ??= host.interrupts();
      return interrupts;
    },
  };
  return context;
}

/**
 * The failpoint that SREGISTRY_FAILPOINT names, which only tests set: `<step>` stops the process
 * the first time it reaches that step of a journaled change (core/journal.ts), `<step>#N` the Nth
 * time, and `<step>=error` fails there as a write error would. A stopped process says so on
 * stderr and blocks, holding whatever it holds, until the test kills it.
 */
function failpoints(spec: string | undefined, io: Io): ((step: string) => void) | undefined {
  if (!spec) return undefined;
  const [target, action] = spec.split("=");
  const [name, nth] = target.split("#");
  const at = Number(nth ?? 1);
  let seen = 0;
  return (step) => {
    if (step !== name || ++seen !== at) return;
    if (action === "error") throw new Deno.errors.PermissionDenied(`failpoint ${spec}`);
    io.err.line(`sregistry: stopped at failpoint ${spec}`);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
  };
}

// Without HOME the file has no default path: a problem for the commands that need it only.
function secretsOf(host: Host): Secrets {
  let path: string;
  try {
    path = secretsPath(host.env, host.cwd).value;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return { path: "", data: {}, problem: error };
  }
  return readSecrets(path);
}

/** The real process: Deno's streams and environment. */
export function systemHost(): Host {
  // The command now running: a shell runs many, and one interrupted must not abort the next.
  let current: AbortController | undefined;
  const encoder = new TextEncoder();
  const writer = (stream: typeof Deno.stdout) => (text: string) => {
    const bytes = encoder.encode(text);
    let written = 0;
    try {
      while (written < bytes.byteLength) written += stream.writeSync(bytes.subarray(written));
    } catch (error) {
      // The reader went away (`sregistry images | head`): stop quietly, as other tools do.
      if (error instanceof Deno.errors.BrokenPipe) Deno.exit(0);
      throw error;
    }
  };
  // Asked only when a renderer wants the width (off a terminal, asking throws, which is slow).
  let width: number | undefined;
  const columns = () => {
    if (width !== undefined) return width;
    try {
      width = Deno.consoleSize().columns;
    } catch {
      width = 80;
    }
    return width;
  };
  return {
    io: {
      out: outputStream(writer(Deno.stdout), {
        isTerminal: Deno.stdout.isTerminal(),
        columns,
      }),
      err: outputStream(writer(Deno.stderr), {
        isTerminal: Deno.stderr.isTerminal(),
        columns,
      }),
      in: { isTerminal: Deno.stdin.isTerminal(), readLine: lazyLineReader(), readSecret },
    },
    env: Deno.env.toObject(),
    cwd: Deno.cwd(),
    interrupts() {
      if (!current) {
        // A batch scheduler's SIGTERM winds down like Ctrl-C: the partial download is kept.
        for (const signal of ["SIGINT", "SIGTERM"] as const) {
          Deno.addSignalListener(signal, () => {
            // A second signal does not wait for the transfer to wind down.
            if (current!.signal.aborted) Deno.exit(130);
            current!.abort();
          });
        }
      }
      current = new AbortController();
      return current.signal;
    },
  };
}

// A line typed with echo off (the terminal's cbreak mode keeps Ctrl-C working): backspace
// edits it, Enter ends it, Ctrl-D on an empty line is the end of input.
async function readSecret(): Promise<string | null> {
  const bytes: number[] = [];
  const buffer = new Uint8Array(256);
  Deno.stdin.setRaw(true, { cbreak: true });
  try {
    while (true) {
      const read = await Deno.stdin.read(buffer);
      if (read === null) {
        return bytes.length > 0 ? new TextDecoder().decode(new Uint8Array(bytes)) : null;
      }
      for (const byte of buffer.subarray(0, read)) {
        if (byte === 0x0d || byte === 0x0a) return new TextDecoder().decode(new Uint8Array(bytes));
        if (byte === 0x04 && bytes.length === 0) return null;
        if (byte === 0x7f || byte === 0x08) bytes.pop();
        else if (byte >= 0x20) bytes.push(byte);
      }
    }
  } finally {
    Deno.stdin.setRaw(false);
  }
}

function lazyLineReader(): () => Promise<string | null> {
  let read: (() => Promise<string | null>) | undefined;
  return () => {
    read ??= lineReader(Deno.stdin.readable);
    return read();
  };
}
