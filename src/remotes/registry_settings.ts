/**
 * Where the Registry Server is and who signs requests: environment first, then the secrets
 * file's `registry` section (`SREGISTRY_REGISTRY_*` keys, then the legacy `base`/`username`/
 * `token` of the server's token page). Reading never writes; the token is never shown.
 */
import { ConfigError } from "../errors.ts";
import { clientSetting } from "../config/client_settings.ts";
import { isTruthy } from "../config/settings.ts";
import type { ClientEnvironment } from "./client.ts";
import type { RegistryAction } from "./registry_auth.ts";

/** The server's API base (ending in `/api`) and whether URI hosts use plain http. */
export interface RegistrySettings {
  /** Normalised base, e.g. `https://registry.example.org/api`; null when none is configured. */
  base: string | null;
  /** SREGISTRY_REGISTRY_NOHTTPS is truthy. */
  noHttps: boolean;
}

/** Reads the server settings. */
export function registrySettings(environment: ClientEnvironment): RegistrySettings {
  const base = setting(environment, "SREGISTRY_REGISTRY_BASE", ["base"]);
  const noHttps = isTruthy(setting(environment, "SREGISTRY_REGISTRY_NOHTTPS", []) ?? undefined);
  return {
    base: base === null ? null : normaliseBase(base, { noHttps }),
    noHttps,
  };
}

/**
 * Appends `/api` to a base URL unless it ends with it; a base without a scheme gets https://,
 * or http:// when `noHttps`.
 */
export function normaliseBase(base: string, options: { noHttps?: boolean } = {}): string {
  let url = base.trim().replace(/\/+$/, "");
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
    url = `${options.noHttps ? "http" : "https"}://${url}`;
  }
  return url.endsWith("/api") ? url : `${url}/api`;
}

/** The username and token that sign a request; a clear error when either is missing. */
export function registryCredentials(
  environment: ClientEnvironment,
  action: RegistryAction,
): { username: string; token: string } {
  const username = setting(environment, "SREGISTRY_REGISTRY_USERNAME", ["username"]);
  const token = setting(environment, "SREGISTRY_REGISTRY_TOKEN", ["token"]);
  if (username === null || token === null) {
    const missing = username === null ? "SREGISTRY_REGISTRY_USERNAME" : "SREGISTRY_REGISTRY_TOKEN";
    throw new ConfigError(`cannot sign the ${action} request: ${missing} is not set`, {
      hint:
        "set SREGISTRY_REGISTRY_USERNAME and SREGISTRY_REGISTRY_TOKEN from the server's token page",
    });
  }
  return { username, token };
}

function setting(environment: ClientEnvironment, name: string, legacy: string[]): string | null {
  return clientSetting({
    env: environment.env,
    secrets: environment.secrets(),
    client: "registry",
    name,
    legacy,
  }).value;
}
