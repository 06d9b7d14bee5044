/**
 * The secrets/settings JSON file (`~/.sregistry`): a tolerant read that never creates it, and
 * what it says of backends. Its edits and atomic write are config/backends.ts, which only the
 * commands that change it load.
 */
import { ConfigError, SregistryError } from "../errors.ts";
import { readInputFile } from "../core/input_file.ts";

/** The largest secrets file read: settings and tokens, never more than a few kB. */
export const MAX_SECRETS_BYTES = 1024 * 1024;

/** The top-level key naming the active backend; every other top-level key is a backend. */
export const ACTIVE_KEY = "SREGISTRY_CLIENT";

/** The secrets file as read: its path, its object (or `{}`), and why it could not be used. */
export interface Secrets {
  /** Where the file is (or would be). */
  path: string;
  /** The file's top-level object; `{}` when the file is missing or unusable. */
  data: Record<string, unknown>;
  /** Why the file could not be used; null when it was read or is simply missing. */
  problem: ConfigError | null;
}

/**
 * Reads the secrets file without ever throwing, blocking or creating it; a missing file is
 * empty, and one that is not a regular file of at most MAX_SECRETS_BYTES is a problem.
 */
export function readSecrets(path: string): Secrets {
  let text: string | null;
  try {
    text = readInputFile(path, { what: "secrets file", limit: MAX_SECRETS_BYTES });
  } catch (error) {
    if (!(error instanceof SregistryError)) throw error;
    const hint = error instanceof ConfigError ? "check its permissions" : "fix or remove it";
    return problem(path, error.message, hint);
  }
  if (text === null) return { path, data: {}, problem: null };
  // An empty file holds no settings; treating it as `{}` loses nothing.
  if (text.trim() === "") return { path, data: {}, problem: null };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    const why = jsonReason(error);
    return problem(path, `secrets file ${path} is not valid JSON (${why})`, "fix or remove it");
  }
  if (!isObject(parsed)) {
    return problem(path, `secrets file ${path} does not hold a JSON object`, "fix or remove it");
  }
  return { path, data: parsed, problem: null };
}

/** Returns the file's object, or throws why it could not be read (for commands that need it). */
export function requireSecrets(secrets: Secrets): Record<string, unknown> {
  if (secrets.problem) throw secrets.problem;
  return secrets.data;
}

/** The settings of one backend as strings; `{}` when it has none. */
export function clientSection(
  data: Record<string, unknown>,
  client: string,
): Record<string, string> {
  const key = findBackendKey(data, client);
  const section = key === undefined ? undefined : data[key];
  if (!isObject(section)) return {};
  const settings: Record<string, string> = {};
  for (const [name, value] of Object.entries(section)) {
    if (value === null || value === undefined) continue;
    settings[name] = typeof value === "string"
      ? value
      : typeof value === "object"
      ? JSON.stringify(value)
      : String(value);
  }
  return settings;
}

/** The backends that have settings in the file, in file order; `SREGISTRY_CLIENT` is not one. */
export function listBackends(data: Record<string, unknown>): string[] {
  return Object.keys(data).filter((key) => key.toUpperCase() !== ACTIVE_KEY && isObject(data[key]));
}

/** The backend named by the file's `SREGISTRY_CLIENT`, lower-cased; null when none is. */
export function activeBackend(data: Record<string, unknown>): string | null {
  const key = Object.keys(data).find((stored) => stored === ACTIVE_KEY) ??
    Object.keys(data).find((stored) => stored.toUpperCase() === ACTIVE_KEY);
  const value = key === undefined ? undefined : data[key];
  return typeof value === "string" && value.trim() !== "" ? value.trim().toLowerCase() : null;
}

/** Whether a value is a plain JSON object (not null, not an array). */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function problem(path: string, message: string, hint: string): Secrets {
  return { path, data: {}, problem: new ConfigError(message, { hint }) };
}

/** The parser's complaint without the excerpt of the file V8 quotes, which may hold a token. */
function jsonReason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const line = /line (\d+) column (\d+)/.exec(message);
  const what = message.replace(/, ".*is not valid JSON$/s, "").replace(/ in JSON at .*$/s, "");
  return line ? `${what} at line ${line[1]}, column ${line[2]}` : what;
}

/** The stored key of a backend: the exact lower-case name first, then any case. */
export function findBackendKey(data: Record<string, unknown>, backend: string): string | undefined {
  const client = backend.toLowerCase();
  if (Object.hasOwn(data, client) && client.toUpperCase() !== ACTIVE_KEY) return client;
  return Object.keys(data).find((key) =>
    key.toUpperCase() !== ACTIVE_KEY && key.toLowerCase() === client
  );
}
