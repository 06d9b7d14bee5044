/**
 * The oras client's settings, each from the environment, else the secrets file's `oras` section:
 * which hosts may be reached over plain http (SREGISTRY_ORAS_NOHTTPS) and the upload chunk size
 * (SREGISTRY_ORAS_CHUNK_SIZE); where Apptainer and Singularity cache oras layers; and the rows
 * `sregistry config` shows of all that.
 */
import { join } from "../core/paths.ts";
import { UsageError } from "../errors.ts";
import { clientSetting } from "../config/client_settings.ts";
import { isTruthy, type Setting } from "../config/settings.ts";
import type { SettingRow } from "../config/settings_report.ts";
import { storedLogins } from "../config/logins.ts";
import type { ClientEnvironment } from "./client.ts";
import { authFiles, environmentCredential } from "./oci_credentials.ts";
import { hostName } from "./oci_reference.ts";

/** The largest chunk size accepted: a chunk is held in memory while it is sent. */
const MAX_CHUNK = 64 * 1024 * 1024;
const UNITS: Record<string, number> = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** SREGISTRY_ORAS_NOHTTPS with its origin: truthy for every host, or a list of hosts. */
function noHttpsSetting(environment: ClientEnvironment): Setting<string | null> {
  return clientSetting({
    env: environment.env,
    secrets: environment.secrets(),
    client: "oras",
    name: "SREGISTRY_ORAS_NOHTTPS",
  });
}

/** SREGISTRY_ORAS_CHUNK_SIZE with its origin. */
function chunkSizeSetting(environment: ClientEnvironment): Setting<string | null> {
  return clientSetting({
    env: environment.env,
    secrets: environment.secrets(),
    client: "oras",
    name: "SREGISTRY_ORAS_CHUNK_SIZE",
  });
}

/** Whether `host` may be reached over plain http (it is listed, or every host is). */
export function isInsecureHost(environment: ClientEnvironment, host: string): boolean {
  const value = noHttpsSetting(environment).value;
  if (value === null) return false;
  if (isTruthy(value)) return true;
  const wanted = host.toLowerCase();
  return value.split(/[\s,]+/).filter(Boolean).some((listed) => {
    const entry = listed.toLowerCase().replace(/^[a-z]+:\/\//, "").replace(/\/+$/, "");
    return entry === wanted || (!/:\d+$/.test(entry) && entry === hostName(wanted));
  });
}

/** The upload chunk size in bytes, or null for one request with the whole file. */
export function chunkSize(environment: ClientEnvironment): number | null {
  const value = chunkSizeSetting(environment).value;
  if (value === null) return null;
  const match = /^\s*(\d+)\s*([kmg]?)(i?b)?\s*$/i.exec(value);
  const bytes = match ? Number(match[1]) * UNITS[match[2].toLowerCase()] : NaN;
  if (!Number.isSafeInteger(bytes) || bytes < 1024 || bytes > MAX_CHUNK) {
    throw new UsageError(`SREGISTRY_ORAS_CHUNK_SIZE must be between 1K and 64M, not '${value}'`);
  }
  return bytes;
}

/**
 * Whether requests to `url` go through a proxy (HTTPS_PROXY/HTTP_PROXY, minus NO_PROXY), as
 * Deno's fetch decides it. Uploads through node:http would bypass the proxy, so proxied pushes
 * are sent in chunks with fetch instead.
 */
export function isProxied(environment: ClientEnvironment, url: URL): boolean {
  const env = environment.env;
  const pick = (...names: string[]) => names.map((name) => env[name]?.trim()).find(Boolean);
  const proxy = url.protocol === "https:"
    ? pick("HTTPS_PROXY", "https_proxy")
    : pick("HTTP_PROXY", "http_proxy");
  if (proxy === undefined) return false;
  const host = hostName(url.host).toLowerCase();
  const exempt = (pick("NO_PROXY", "no_proxy") ?? "").split(",").map((entry) =>
    entry.trim().toLowerCase().replace(/:\d+$/, "")
  ).filter(Boolean);
  return !exempt.some((entry) =>
    entry === "*" || host === entry.replace(/^\./, "") ||
    host.endsWith(`.${entry.replace(/^\./, "")}`)
  );
}

/**
 * Where Apptainer and Singularity keep an oras layer they pulled: `<cachedir>/cache/oras/<digest>`
 * under APPTAINER_CACHEDIR (default ~/.apptainer) and SINGULARITY_CACHEDIR (~/.singularity).
 */
export function cachedLayerPaths(environment: ClientEnvironment, digest: string): string[] {
  const env = environment.env;
  const home = env.HOME?.trim() ? env.HOME : undefined;
  const roots = [
    env.APPTAINER_CACHEDIR?.trim() || (home && join(home, ".apptainer")),
    env.SINGULARITY_CACHEDIR?.trim() || (home && join(home, ".singularity")),
  ].filter((root): root is string => typeof root === "string" && root !== "");
  return [...new Set(roots)].map((root) => join(root, "cache", "oras", digest));
}

/**
 * The oras rows of `sregistry config`: settings with their origins, the credentials in effect, and
 * where logins and auth files are. Secrets are only said to be set.
 */
export function orasSettingRows(environment: ClientEnvironment): SettingRow[] {
  const row = (
    name: string,
    setting: { value: string | null; origin: SettingRow["origin"]; source?: string },
    fallback = "",
  ): SettingRow => ({
    name,
    value: setting.value ?? fallback,
    origin: setting.origin,
    ...(setting.source === undefined ? {} : { source: setting.source }),
  });
  let credential: SettingRow;
  try {
    const found = environmentCredential(environment.env);
    credential = found === null
      ? { name: "oras credentials (environment)", value: "", origin: "default" }
      : {
        name: "oras credentials (environment)",
        value: `${found.username} (password set, not shown)`,
        origin: "environment",
        source: found.source,
      };
  } catch (error) {
    credential = {
      name: "oras credentials (environment)",
      value: `unusable: ${(error as Error).message}`,
      origin: "environment",
    };
  }
  const logins = Object.keys(storedLogins(environment.secrets().data));
  const files = authFiles(environment.env).filter((file) => {
    try {
      return Deno.statSync(file.path).isFile;
    } catch {
      return false;
    }
  });
  return [
    row("SREGISTRY_ORAS_NOHTTPS", noHttpsSetting(environment), "(loopback hosts only)"),
    row(
      "SREGISTRY_ORAS_CHUNK_SIZE",
      chunkSizeSetting(environment),
      "(whole file, chunks if refused)",
    ),
    credential,
    logins.length > 0
      ? { name: "oras logins", value: logins.join(", "), origin: "secrets", source: "oras.auths" }
      : { name: "oras logins", value: "", origin: "default" },
    {
      name: "oras auth files",
      value: files.map((file) => file.shown).join(", "),
      origin: "default",
    },
  ];
}
