/**
 * Where OCI registry credentials come from, first match wins: environment variables
 * (SREGISTRY_ORAS_*, then Apptainer's and Singularity's DOCKER_* pairs), sregistry's secrets file,
 * Apptainer's and Singularity's docker-config.json, Docker's config.json, then podman's auth.json.
 * Files are only read, as regular files under a size cap; nothing here writes or prints a secret.
 */
import { join } from "../core/paths.ts";
import { ConfigError, reason } from "../errors.ts";
import type { Env } from "../config/settings.ts";
import type { Secrets } from "../config/secrets.ts";
import { storedLogins } from "../config/logins.ts";
import { registryAliases } from "./oci_reference.ts";

/** Credentials for one registry, and where they were found (a variable or a file, never a value). */
export interface RegistryCredential {
  /** Username for Basic authentication and token requests. */
  username?: string;
  /** Password (or personal access token). */
  password?: string;
  /** An OAuth refresh token (`identitytoken`), exchanged at the token realm. */
  identityToken?: string;
  /** A ready Bearer token (`registrytoken`). */
  registryToken?: string;
  /** Where they came from, e.g. `SREGISTRY_ORAS_USERNAME` or `~/.docker/config.json`. */
  source: string;
}

/** What the lookup reads: the environment and the secrets file. */
export interface CredentialSources {
  /** The process environment. */
  env: Env;
  /** The secrets file. */
  secrets: Secrets;
}

/** An auth file in the lookup order, with the name shown in messages. */
export interface AuthFile {
  /** Absolute path. */
  path: string;
  /** How messages name it, e.g. `~/.docker/config.json`. */
  shown: string;
}

const ENV_PAIRS: [string, string][] = [
  ["SREGISTRY_ORAS_USERNAME", "SREGISTRY_ORAS_PASSWORD"],
  ["APPTAINER_DOCKER_USERNAME", "APPTAINER_DOCKER_PASSWORD"],
  ["SINGULARITY_DOCKER_USERNAME", "SINGULARITY_DOCKER_PASSWORD"],
];
const MAX_AUTH_FILE = 1024 * 1024;

/**
 * The credentials for `registry` (and `repository`, for keys that name one), or null for
 * anonymous access. Throws ConfigError for an unreadable auth file, for half of an environment
 * pair, and for a host whose only credentials are behind a credential helper.
 */
export function findCredential(
  sources: CredentialSources,
  registry: string,
  repository: string | null,
): RegistryCredential | null {
  const fromEnv = environmentCredential(sources.env);
  if (fromEnv !== null) return fromEnv;
  const keys = lookupKeys(registry, repository);
  const login = matchEntry(storedLogins(sources.secrets.data), keys);
  if (login !== null) {
    const found = entryCredential(login.entry, `the secrets file (${sources.secrets.path})`);
    if (found !== null) return found;
  }
  const helpers: string[] = [];
  for (const file of authFiles(sources.env)) {
    const config = readAuthFile(file);
    if (config === null) continue;
    const auths = isObject(config.auths) ? config.auths : {};
    const match = matchEntry(auths, keys);
    const found = match && entryCredential(match.entry, file.shown);
    if (found) return found;
    const helper = helperFor(config, keys, match !== null);
    if (helper !== null) helpers.push(`${helper} (${file.shown})`);
  }
  if (helpers.length > 0) {
    throw new ConfigError(
      `the credentials for ${registry} are kept by the credential helper docker-credential-${
        helpers[0]
      }, which sregistry cannot run`,
      {
        hint: `run 'sregistry login ${registry}', or set SREGISTRY_ORAS_USERNAME and ` +
          "SREGISTRY_ORAS_PASSWORD (or APPTAINER_DOCKER_USERNAME and APPTAINER_DOCKER_PASSWORD)",
      },
    );
  }
  return null;
}

/** The auth files read after the secrets file, in order (present or not). */
export function authFiles(env: Env): AuthFile[] {
  const home = present(env.HOME);
  const files: AuthFile[] = [];
  const add = (path: string | undefined, shown?: string) => {
    if (path === undefined || files.some((file) => file.path === path)) return;
    files.push({ path, shown: shown ?? path });
  };
  if (home !== undefined) {
    add(join(home, ".apptainer", "docker-config.json"), "~/.apptainer/docker-config.json");
    add(join(home, ".singularity", "docker-config.json"), "~/.singularity/docker-config.json");
  }
  const dockerConfig = present(env.DOCKER_CONFIG);
  if (dockerConfig !== undefined) add(join(dockerConfig, "config.json"));
  else if (home !== undefined) add(join(home, ".docker", "config.json"), "~/.docker/config.json");
  add(present(env.REGISTRY_AUTH_FILE));
  const runtime = present(env.XDG_RUNTIME_DIR);
  if (runtime !== undefined) add(join(runtime, "containers", "auth.json"));
  const config = present(env.XDG_CONFIG_HOME) ?? (home && join(home, ".config"));
  if (config !== undefined) add(join(config, "containers", "auth.json"));
  return files;
}

/** The environment pair in effect, or null; half a pair of sregistry's own is an error. */
export function environmentCredential(env: Env): RegistryCredential | null {
  for (const [user, pass] of ENV_PAIRS) {
    const username = present(env[user]);
    const password = present(env[pass]);
    if (username !== undefined && password !== undefined) {
      return { username, password, source: user };
    }
    if (user.startsWith("SREGISTRY_") && (username !== undefined) !== (password !== undefined)) {
      const missing = username === undefined ? user : pass;
      throw new ConfigError(`${missing} is not set, but ${username ? user : pass} is`, {
        hint: "set both, or neither",
      });
    }
  }
  return null;
}

// Most specific first: host/repository, its parent namespaces, then the host; for every alias.
function lookupKeys(registry: string, repository: string | null): string[] {
  const keys: string[] = [];
  for (const host of registryAliases(registry)) {
    const parts = repository?.split("/") ?? [];
    for (let length = parts.length; length > 0; length--) {
      keys.push(`${host}/${parts.slice(0, length).join("/")}`);
    }
  }
  for (const host of registryAliases(registry)) keys.push(host);
  return keys;
}

// Keys may be written as URLs (`https://host/v1/`, Docker Hub's own key): compared by host/path.
function normalKey(key: string): string {
  return key.trim().toLowerCase().replace(/^[a-z]+:\/\//, "").replace(/\/(v1|v2)\/?$/, "")
    .replace(/\/+$/, "");
}

function matchEntry(
  auths: Record<string, unknown>,
  keys: string[],
): { key: string; entry: Record<string, unknown> } | null {
  const normal = new Map<string, string>();
  for (const key of Object.keys(auths)) {
    if (!normal.has(normalKey(key))) normal.set(normalKey(key), key);
  }
  for (const wanted of keys) {
    const key = normal.get(wanted);
    if (key !== undefined && isObject(auths[key])) return { key, entry: auths[key] };
  }
  return null;
}

function entryCredential(
  entry: Record<string, unknown>,
  source: string,
): RegistryCredential | null {
  const credential: RegistryCredential = { source };
  const auth = text(entry.auth);
  if (auth !== undefined) {
    const decoded = decodeBase64(auth);
    const colon = decoded?.indexOf(":") ?? -1;
    if (decoded === null || colon === -1) {
      throw new ConfigError(`the 'auth' entry in ${source} is not base64 of user:password`, {
        hint: "log in again to rewrite it",
      });
    }
    credential.username = decoded.slice(0, colon);
    credential.password = decoded.slice(colon + 1);
  } else {
    credential.username = text(entry.username);
    credential.password = text(entry.password);
  }
  credential.identityToken = text(entry.identitytoken);
  credential.registryToken = text(entry.registrytoken);
  const usable = (credential.username !== undefined && credential.password !== undefined) ||
    credential.identityToken !== undefined || credential.registryToken !== undefined;
  return usable ? withoutUndefined(credential) : null;
}

// A credential helper that holds this host's secret: `credHelpers`, or `credsStore` when the
// file lists the host (Docker writes an empty entry for every login it stored in the helper).
function helperFor(
  config: Record<string, unknown>,
  keys: string[],
  listed: boolean,
): string | null {
  if (isObject(config.credHelpers)) {
    const helpers = config.credHelpers;
    for (const [key, value] of Object.entries(helpers)) {
      if (keys.includes(normalKey(key)) && text(value) !== undefined) return text(value)!;
    }
  }
  const store = text(config.credsStore);
  return store !== undefined && listed ? store : null;
}

function readAuthFile(file: AuthFile): Record<string, unknown> | null {
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(file.path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
      return null;
    }
    throw unreadable(file, reason(error));
  }
  if (!info.isFile) throw unreadable(file, "it is not a regular file");
  if (info.size > MAX_AUTH_FILE) throw unreadable(file, "it is larger than 1 MiB");
  let parsed: unknown;
  try {
    parsed = JSON.parse(Deno.readTextFileSync(file.path));
  } catch (error) {
    // The parser's message may quote the file, which holds secrets: never shown.
    throw unreadable(file, error instanceof SyntaxError ? "it is not valid JSON" : reason(error));
  }
  if (!isObject(parsed)) throw unreadable(file, "it does not hold a JSON object");
  return parsed;
}

function unreadable(file: AuthFile, why: string): ConfigError {
  return new ConfigError(`cannot use the registry credentials in ${file.shown}: ${why}`, {
    hint: "fix or move the file",
  });
}

function decodeBase64(value: string): string | null {
  try {
    const binary = atob(value.trim());
    return new TextDecoder("utf-8", { fatal: true }).decode(
      Uint8Array.from(binary, (char) => char.charCodeAt(0)),
    );
  } catch {
    return null;
  }
}

function withoutUndefined(credential: RegistryCredential): RegistryCredential {
  return Object.fromEntries(
    Object.entries(credential).filter(([, value]) => value !== undefined),
  ) as unknown as RegistryCredential;
}

function text(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

function present(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === "" ? undefined : value;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
