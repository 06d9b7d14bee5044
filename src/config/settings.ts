/**
 * Resolves each setting from flag, then environment, then secrets file, then default, and keeps
 * where the value came from. Resolving only reads: nothing here writes the secrets file.
 */
import { join, resolve } from "../core/paths.ts";
import { ConfigError } from "../errors.ts";
import { activeBackend, type Secrets } from "./secrets.ts";

/** Where a setting's value came from, strongest first. */
export type Origin = "flag" | "environment" | "secrets" | "default" | "filesystem";

/** A resolved value and where it came from. */
export interface Setting<T> {
  /** The value in effect. */
  value: T;
  /** Which layer supplied it. */
  origin: Origin;
  /** The flag, environment variable or secrets key that supplied it; absent for defaults. */
  source?: string;
}

/** The settings every command may need, each with its origin. */
export interface Settings {
  /** The backend used when a name has no `scheme://`, lower-cased (default `hub`). */
  client: Setting<string>;
  /** The folder holding `sregistry.db`. */
  database: Setting<string>;
  /** The root folder of image files. */
  storage: Setting<string>;
  /** True when the database and storage are disabled. */
  disable: Setting<boolean>;
  /** The path of the secrets file. */
  secrets: Setting<string>;
  /** The folder for temporary files; null when unset. */
  tmpdir: Setting<string | null>;
}

/** The process environment as passed in by the host; never read from `Deno.env` here. */
export type Env = Readonly<Record<string, string | undefined>>;

/** Global flags that override the environment. */
export interface SettingFlags {
  /** `--database`: the folder holding `sregistry.db`. */
  database?: string;
  /** `--storage`: the root folder of image files. */
  storage?: string;
}

/** What `resolveSettings` reads; `secrets` defaults to an empty, problem-free file. */
export interface SettingsInput {
  /** The process environment. */
  env: Env;
  /** Global flags from the command line. */
  flags: SettingFlags;
  /** The secrets file from `secretsPath(env, cwd)`, or how to read it when first needed. */
  secrets?: Secrets | (() => Secrets);
  /** The folder relative paths are resolved against. */
  cwd: string;
}

/** Whether a value is one of `yes`, `true`, `t`, `1`, `y` (any case); unset is false. */
export function isTruthy(value: string | undefined): boolean {
  return value !== undefined && ["yes", "true", "t", "1", "y"].includes(value.trim().toLowerCase());
}

/** The secrets file path (`$SREGISTRY_CLIENT_SECRETS`, else `$HOME/.sregistry`), read before it. */
export function secretsPath(env: Env, cwd: string): Setting<string> {
  const fromEnv = present(env.SREGISTRY_CLIENT_SECRETS);
  if (fromEnv !== undefined) {
    return {
      value: resolve(cwd, fromEnv),
      origin: "environment",
      source: "SREGISTRY_CLIENT_SECRETS",
    };
  }
  return {
    value: join(home(env, cwd, "SREGISTRY_CLIENT_SECRETS"), ".sregistry"),
    origin: "default",
  };
}

/** Resolves every global setting; throws ConfigError only when a needed default lacks `$HOME`. */
export function resolveSettings(input: SettingsInput): Settings {
  const { env, flags, cwd } = input;
  const secrets = input.secrets ?? { path: "", data: {}, problem: null };
  // Only the client comes from the secrets file, which is read when the client is first asked
  // for: commands on the local registry alone (`get`, `images`) never read it.
  let client: Setting<string> | undefined;
  return {
    get client() {
      client ??= resolveClient(env, typeof secrets === "function" ? secrets() : secrets);
      return client;
    },
    database: pathSetting(env, cwd, {
      flag: flags.database,
      flagName: "--database",
      variable: "SREGISTRY_DATABASE",
      fallback: (root) => join(root, ".singularity"),
    }),
    // The original's default is under $HOME, not under SREGISTRY_DATABASE; kept for compatibility.
    storage: pathSetting(env, cwd, {
      flag: flags.storage,
      flagName: "--storage",
      variable: "SREGISTRY_STORAGE",
      fallback: (root) => join(root, ".singularity", "shub"),
    }),
    disable: resolveDisable(env),
    secrets: secretsSetting(env, cwd),
    tmpdir: resolveTmpdir(env, cwd),
  };
}

// Shown by `config`; without HOME there is no default path, which only the commands that read
// or write the file need (they get the error from secretsPath).
function secretsSetting(env: Env, cwd: string): Setting<string> {
  try {
    return secretsPath(env, cwd);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return { value: "", origin: "default" };
  }
}

/** An environment or flag value, with empty strings counted as unset. */
export function present(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === "" ? undefined : value;
}

/** `$HOME`, resolved against cwd; a ConfigError naming the variable that would avoid it. */
function home(env: Env, cwd: string, variable: string): string {
  const value = present(env.HOME);
  if (value === undefined) {
    throw new ConfigError(`HOME is not set, so ${variable} has no default`, {
      hint: `set HOME or ${variable}`,
    });
  }
  return resolve(cwd, value);
}

function resolveClient(env: Env, secrets: Secrets): Setting<string> {
  const fromEnv = present(env.SREGISTRY_CLIENT);
  if (fromEnv !== undefined) {
    return { value: normalClient(fromEnv), origin: "environment", source: "SREGISTRY_CLIENT" };
  }
  const fromFile = activeBackend(secrets.data);
  if (fromFile !== null) return { value: fromFile, origin: "secrets", source: "SREGISTRY_CLIENT" };
  return { value: "hub", origin: "default" };
}

function normalClient(value: string): string {
  return value.trim().toLowerCase();
}

function pathSetting(
  env: Env,
  cwd: string,
  spec: { flag?: string; flagName: string; variable: string; fallback: (home: string) => string },
): Setting<string> {
  const flag = present(spec.flag);
  if (flag !== undefined) {
    return { value: resolve(cwd, flag), origin: "flag", source: spec.flagName };
  }
  const fromEnv = present(env[spec.variable]);
  if (fromEnv !== undefined) {
    return { value: resolve(cwd, fromEnv), origin: "environment", source: spec.variable };
  }
  return { value: spec.fallback(home(env, cwd, spec.variable)), origin: "default" };
}

function resolveDisable(env: Env): Setting<boolean> {
  const names = ["SREGISTRY_DISABLE", "SINGULARITY_DISABLE_CACHE"];
  const truthy = names.find((name) => isTruthy(env[name]));
  if (truthy !== undefined) return { value: true, origin: "environment", source: truthy };
  // An explicit "false" or "0" is still where the value came from.
  const set = names.find((name) => present(env[name]) !== undefined);
  if (set !== undefined) return { value: false, origin: "environment", source: set };
  return { value: false, origin: "default" };
}

function resolveTmpdir(env: Env, cwd: string): Setting<string | null> {
  const fromEnv = present(env.SREGISTRY_TMPDIR);
  if (fromEnv === undefined) return { value: null, origin: "default" };
  return { value: resolve(cwd, fromEnv), origin: "environment", source: "SREGISTRY_TMPDIR" };
}
