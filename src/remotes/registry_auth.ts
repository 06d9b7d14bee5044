/**
 * Singularity Registry Server request signing: the `SREGISTRY-HMAC-SHA256` Authorization header,
 * an HMAC-SHA256 of `kind|collection|timestamp|name|tag|` keyed by the user's token. The
 * timestamp has hour granularity in UTC, so the server accepts a signature only within its hour.
 */
import { createHmac } from "node:crypto";

/** The operation a signature authorizes; the server checks it matches the endpoint. */
export type RegistryAction = "push" | "upload" | "pull" | "delete" | "build";

/** What one signature covers, and who signs it. */
export interface AuthorizationOptions {
  /** The operation being authorized. */
  action: RegistryAction;
  /** The collection name (not its id). */
  collection: string;
  /** The image name inside the collection. */
  name: string;
  /** The image tag. */
  tag: string;
  /** The registry username, sent base64-encoded in the credential. */
  username: string;
  /** The registry token: the HMAC key, never sent. */
  token: string;
  /** `%Y%m%dT%HZ` timestamp; the current UTC hour when omitted. */
  timestamp?: string;
}

/** Formats a date as the server's `%Y%m%dT%HZ` UTC hour stamp, e.g. `20230620T17Z`. */
export function registryTimestamp(date: Date): string {
  const pad = (value: number, width = 2) => String(value).padStart(width, "0");
  return `${pad(date.getUTCFullYear(), 4)}${pad(date.getUTCMonth() + 1)}${pad(date.getUTCDate())}` +
    `T${pad(date.getUTCHours())}Z`;
}

/** Builds the `SREGISTRY-HMAC-SHA256 Credential=...,Signature=...` header value. */
export function authorizationHeader(options: AuthorizationOptions): string {
  const timestamp = options.timestamp ?? registryTimestamp(new Date());
  const user = btoa(String.fromCharCode(...new TextEncoder().encode(options.username)));
  const credential = `${options.action}/${user}/${timestamp}`;
  const payload =
    `${options.action}|${options.collection}|${timestamp}|${options.name}|${options.tag}|`;
  // String key and message are hashed as UTF-8, as the Python client encodes them.
  const signature = createHmac("sha256", options.token).update(payload, "utf8").digest("hex");
  return `SREGISTRY-HMAC-SHA256 Credential=${credential},Signature=${signature}`;
}
