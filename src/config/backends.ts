/**
 * Changes to the secrets file (config/secrets.ts): pure edits for `sregistry backend` and
 * `login`, and an atomic mode-0600 write. Values that came from the environment are never
 * written back: writers only ever receive what the user explicitly asked to store.
 */
import { basename, dirname, join } from "../core/paths.ts";
import { ConfigError, ConflictError, NotFoundError, reason, UsageError } from "../errors.ts";
import { realPath } from "../core/storage.ts";
import { ACTIVE_KEY, activeBackend, findBackendKey, isObject } from "./secrets.ts";

/** Replaces the secrets file atomically (temp file, fsync, rename) with a mode-0600 file. */
export function writeSecrets(path: string, data: Record<string, unknown>): void {
  // Written through a symlink (into a dotfiles folder, say) instead of replacing it.
  const target = realPath(path);
  const folder = dirname(target);
  const temp = join(folder, `.${basename(target)}.tmp-${crypto.randomUUID().slice(0, 8)}`);
  const bytes = new TextEncoder().encode(JSON.stringify(data, null, 4) + "\n");
  try {
    Deno.mkdirSync(folder, { recursive: true, mode: 0o700 });
    const file = Deno.openSync(temp, { write: true, createNew: true, mode: 0o600 });
    try {
      // The open mode is filtered by the umask; chmod makes 0600 exact whatever the umask is.
      Deno.chmodSync(temp, 0o600);
      let written = 0;
      while (written < bytes.length) written += file.writeSync(bytes.subarray(written));
      file.syncSync();
    } finally {
      file.close();
    }
    Deno.renameSync(temp, target);
  } catch (error) {
    try {
      Deno.removeSync(temp);
    } catch {
      // The temp file was never created, or is already gone.
    }
    throw new ConfigError(`cannot write secrets file ${path} (${reason(error)})`, {
      hint: `check that ${folder} is writable`,
      cause: error,
    });
  }
}

/** What `addBackendSetting` did: the new file object and the stored variable name. */
export interface AddedSetting {
  /** The whole file object after the change. */
  data: Record<string, unknown>;
  /** The backend, lower-cased. */
  backend: string;
  /** The full upper-cased name, e.g. `SREGISTRY_REGISTRY_BASE`. */
  name: string;
  /** False when the same value was already stored. */
  changed: boolean;
}

/** Stores `SREGISTRY_<BACKEND>_<VAR>` for a backend; a different existing value needs `force`. */
export function addBackendSetting(
  data: Record<string, unknown>,
  backend: string,
  variable: string,
  value: string,
  options: { force?: boolean } = {},
): AddedSetting {
  const client = backendName(backend);
  const name = settingName(client, variable);
  const key = findBackendKey(data, client);
  const section = { ...existingSection(data, key) };
  const existing = Object.keys(section).filter((stored) => stored.toUpperCase() === name);
  const same = existing.length === 1 && existing[0] === name && section[name] === value;
  if (same) return { data, backend: client, name, changed: false };
  if (existing.length > 0 && !options.force) {
    // The old value is not shown: it may be a token.
    throw new ConflictError(`${name} is already set`, { hint: "use --force to replace it" });
  }
  for (const stored of existing) delete section[stored];
  section[name] = value;
  return { data: withSection(data, key, client, section), backend: client, name, changed: true };
}

/** What `removeBackendSetting` did: the new file object and the keys it removed. */
export interface RemovedSetting {
  /** The whole file object after the change. */
  data: Record<string, unknown>;
  /** The backend, lower-cased. */
  backend: string;
  /** The stored keys that were removed, as they were spelled in the file. */
  removed: string[];
}

/** Removes `VAR` and `SREGISTRY_<BACKEND>_VAR` (any case, so legacy `token` goes too). */
export function removeBackendSetting(
  data: Record<string, unknown>,
  backend: string,
  variable: string,
): RemovedSetting {
  const client = backendName(backend);
  const key = findBackendKey(data, client);
  if (key === undefined) throw unknownBackend(client);
  const wanted = variable.trim().toUpperCase();
  if (wanted === "") throw new UsageError("no setting name given");
  const names = new Set([wanted, settingName(client, wanted)]);
  const section = { ...existingSection(data, key) };
  const removed = Object.keys(section).filter((stored) => names.has(stored.toUpperCase()));
  if (removed.length === 0) {
    throw new NotFoundError(`backend ${client} has no setting ${settingName(client, wanted)}`, {
      hint: `run 'sregistry backend ls ${client}' to see its settings`,
    });
  }
  for (const stored of removed) delete section[stored];
  return { data: withSection(data, key, client, section), backend: client, removed };
}

/** What activating or deactivating did: the new file object and the backend active before. */
export interface Activation {
  /** The whole file object after the change. */
  data: Record<string, unknown>;
  /** The backend that was active before, lower-cased; null when none was. */
  previous: string | null;
}

/** Makes a backend the active one (top-level `SREGISTRY_CLIENT`). */
export function activateBackend(data: Record<string, unknown>, backend: string): Activation {
  const client = backendName(backend);
  const previous = activeBackend(data);
  // Spreading keeps an existing exact key where it is; other spellings of it are dropped.
  const next = { ...data };
  for (const key of Object.keys(next)) {
    if (key !== ACTIVE_KEY && key.toUpperCase() === ACTIVE_KEY) delete next[key];
  }
  next[ACTIVE_KEY] = client;
  return { data: next, previous };
}

/** Clears the active backend; `previous` is null when there was none. */
export function deactivateBackend(data: Record<string, unknown>): Activation {
  const previous = activeBackend(data);
  const hasKey = Object.keys(data).some((key) => key.toUpperCase() === ACTIVE_KEY);
  return { data: hasKey ? withoutActiveKey(data) : data, previous };
}

/** What `deleteBackend` did: the new file object and whether the backend was the active one. */
export interface DeletedBackend {
  /** The whole file object after the change. */
  data: Record<string, unknown>;
  /** The backend, lower-cased. */
  backend: string;
  /** True when `SREGISTRY_CLIENT` pointed at it and was removed too. */
  deactivated: boolean;
}

/** Removes a backend's settings, and `SREGISTRY_CLIENT` when it pointed at that backend. */
export function deleteBackend(data: Record<string, unknown>, backend: string): DeletedBackend {
  const client = backendName(backend);
  const deactivated = activeBackend(data) === client;
  const keys = Object.keys(data).filter((key) =>
    key.toUpperCase() !== ACTIVE_KEY && key.toLowerCase() === client
  );
  if (keys.length === 0 && !deactivated) throw unknownBackend(client);
  const next = deactivated ? withoutActiveKey(data) : { ...data };
  for (const key of keys) delete next[key];
  return { data: next, backend: client, deactivated };
}

/** Lower-cases and checks a backend name, which becomes part of variable names. */
function backendName(backend: string): string {
  const client = backend.trim().toLowerCase();
  if (client === "") throw new UsageError("no backend name given");
  if (client.toUpperCase() === ACTIVE_KEY || !/^[a-z0-9][a-z0-9._-]*$/.test(client)) {
    throw new UsageError(`'${backend}' is not a valid backend name`, {
      hint: "use letters, digits, '.', '-' and '_'",
    });
  }
  return client;
}

/** `SREGISTRY_<BACKEND>_<VAR>`, upper-cased; a variable that already has the prefix keeps it. */
function settingName(client: string, variable: string): string {
  const upper = variable.trim().toUpperCase();
  if (upper === "") throw new UsageError("no setting name given");
  const prefix = `SREGISTRY_${client.toUpperCase()}_`;
  return upper.startsWith(prefix) ? upper : prefix + upper;
}

function existingSection(
  data: Record<string, unknown>,
  key: string | undefined,
): Record<string, unknown> {
  if (key === undefined) return {};
  const section = data[key];
  if (isObject(section)) return section;
  throw new ConfigError(`the secrets file entry "${key}" is not an object of settings`, {
    hint: "fix or remove it",
  });
}

function withSection(
  data: Record<string, unknown>,
  key: string | undefined,
  client: string,
  section: Record<string, unknown>,
): Record<string, unknown> {
  return { ...data, [key ?? client]: section };
}

function withoutActiveKey(data: Record<string, unknown>): Record<string, unknown> {
  const next = { ...data };
  for (const key of Object.keys(next)) {
    if (key.toUpperCase() === ACTIVE_KEY) delete next[key];
  }
  return next;
}

function unknownBackend(client: string): NotFoundError {
  return new NotFoundError(`${client} is not a known backend`, {
    hint: "run 'sregistry backend ls' to see the backends in the secrets file",
  });
}
