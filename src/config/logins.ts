/**
 * Registry logins in the secrets file, in Docker's layout inside the `oras` section:
 * `{"oras": {"auths": {"<host>": {"auth": "<base64 of user:password>"}}}}`. Edits are pure (they
 * return the new file object for writeSecrets); only what `sregistry login` was given is stored.
 */
import { ConfigError } from "../errors.ts";

/** The secrets-file section of the oras client. */
const ORAS_SECTION = "oras";
const AUTHS = "auths";

/** The `auths` object of the oras section, `{}` when there is none; never throws. */
export function storedLogins(data: Record<string, unknown>): Record<string, unknown> {
  const section = data[sectionKey(data) ?? ORAS_SECTION];
  if (!isObject(section) || !isObject(section[AUTHS])) return {};
  return section[AUTHS];
}

/** The file object with `host`'s login set to `username` and `password`. */
export function withLogin(
  data: Record<string, unknown>,
  host: string,
  username: string,
  password: string,
): Record<string, unknown> {
  const auth = base64(`${username}:${password}`);
  return withAuths(data, { ...storedLogins(data), [host]: { auth } });
}

/** The file object without `host`'s login, and whether there was one. */
export function withoutLogin(
  data: Record<string, unknown>,
  host: string,
): { data: Record<string, unknown>; removed: boolean } {
  const auths = { ...storedLogins(data) };
  if (!Object.hasOwn(auths, host)) return { data, removed: false };
  delete auths[host];
  return { data: withAuths(data, auths), removed: true };
}

/** Base64 of a string's UTF-8 bytes, as `auth` entries hold `user:password`. */
export function base64(text: string): string {
  let binary = "";
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

function withAuths(
  data: Record<string, unknown>,
  auths: Record<string, unknown>,
): Record<string, unknown> {
  const key = sectionKey(data) ?? ORAS_SECTION;
  const section = data[key] ?? {};
  if (!isObject(section)) {
    throw new ConfigError(`the secrets file entry "${key}" is not an object of settings`, {
      hint: "fix or remove it",
    });
  }
  return { ...data, [key]: { ...section, [AUTHS]: auths } };
}

// The section's key as stored: `oras` first, then any spelling of it.
function sectionKey(data: Record<string, unknown>): string | undefined {
  if (Object.hasOwn(data, ORAS_SECTION)) return ORAS_SECTION;
  return Object.keys(data).find((key) => key.toLowerCase() === ORAS_SECTION);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
