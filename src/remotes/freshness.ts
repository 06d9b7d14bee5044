/**
 * Whether a recorded image is still what its remote has: by the MD5 a manifest names now (hub,
 * registry), or by the validators a plain download saved (a conditional HEAD, no body read). Only
 * what the remote answers is compared, and an answer that cannot tell says so (`unknown`) rather
 * than guessing; nothing here writes or downloads.
 */
import { NotFoundError, RemoteError } from "../errors.ts";
import { formatImageName, type ImageName } from "../core/names.ts";
import type { Validator } from "../transfer/download.ts";
import {
  discard,
  hostOf,
  type HttpOptions,
  redactUrl,
  request,
  statusLine,
} from "../transfer/http.ts";
import type { RecordedImage, RemoteCheck, RemoteImage } from "./client.ts";

const MD5 = /^[0-9a-f]{32}$/i;

/**
 * The validators a plain-URL pull kept in a record's metadata (`sregistry.etag`,
 * `sregistry.last_modified`, written by pull.ts), or null when it kept none.
 */
export function savedValidator(metadata: unknown): Validator | null {
  const saved = isObject(metadata) ? metadata.sregistry : undefined;
  if (!isObject(saved)) return null;
  const etag = typeof saved.etag === "string" ? saved.etag : null;
  const lastModified = typeof saved.last_modified === "string" ? saved.last_modified : null;
  return etag === null && lastModified === null ? null : { etag, lastModified };
}

/**
 * Why a record holds no manifest of `client` to compare with (it was recorded by hand with
 * `--url`, or by another program), or null when it does: the manifest's `image` is the URL the
 * record keeps.
 */
export function missingManifest(record: RecordedImage, client: string): string | null {
  const image = isObject(record.metadata) ? record.metadata.image : undefined;
  if (typeof image === "string" && sameUrl(image, record.url)) return null;
  return `no ${client} manifest is kept with it (recorded by hand or by another program); ` +
    "pull it again to follow it";
}

/**
 * Compares the record's version with the MD5 the remote's manifest names now; a remote that
 * answers 404 no longer has the image.
 */
export async function byManifestVersion(
  record: RecordedImage,
  resolve: () => Promise<RemoteImage>,
): Promise<RemoteCheck> {
  let remote: RemoteImage;
  try {
    remote = await resolve();
  } catch (error) {
    if (error instanceof NotFoundError) {
      return { state: "gone", remoteVersion: null, reason: error.message };
    }
    throw error;
  }
  const now = remote.expectedMd5?.toLowerCase() ?? null;
  if (remote.name === null || nameKey(remote.name) !== nameKey(record.name)) {
    return {
      state: "unknown",
      remoteVersion: now,
      reason: remote.name === null
        ? "the remote now answers with a name sregistry cannot keep"
        : `the remote now answers with ${formatImageName(remote.name)}`,
    };
  }
  const had = [record.name.version, record.md5].find((value) => value && MD5.test(value));
  if (now === null) {
    return { state: "unknown", remoteVersion: null, reason: "the remote names no MD5 for it now" };
  }
  if (had === undefined || had === null) {
    return {
      state: "unknown",
      remoteVersion: now,
      reason: "the record has no MD5 version to compare with",
    };
  }
  return had.toLowerCase() === now
    ? { state: "current", remoteVersion: now, reason: "the remote names the same MD5" }
    : { state: "outdated", remoteVersion: now, reason: `the remote's version is now ${now}` };
}

/**
 * Asks a plain URL whether its file changed since it was stored: a HEAD (a GET whose body is
 * never read, when HEAD is refused) carrying the saved ETag and Last-Modified. 304, or the same
 * validator answered, is current; another validator, or another length, is outdated; a server that
 * gave no validator then and gives no other length now cannot tell without a download.
 */
export async function byValidators(record: RecordedImage, http: HttpOptions): Promise<RemoteCheck> {
  const url = record.url;
  const saved = savedValidator(record.metadata);
  const headers: Record<string, string> = { "accept-encoding": "identity" };
  if (saved?.etag) headers["if-none-match"] = saved.etag;
  if (saved?.lastModified) headers["if-modified-since"] = saved.lastModified;
  let method = "HEAD";
  let response = await request(url, { method, headers }, http);
  if (response.status === 405 || response.status === 501) {
    await discard(response);
    method = "GET";
    response = await request(url, { method, headers }, http);
  }
  await discard(response);
  if (response.status === 304 && saved !== null) {
    return {
      state: "current",
      remoteVersion: saved.etag ?? saved.lastModified,
      reason: "the server answered 304 Not Modified",
    };
  }
  if (response.status === 404 || response.status === 410) {
    return {
      state: "gone",
      remoteVersion: null,
      reason: `${method} ${redactUrl(url)}: ${statusLine(response)}`,
    };
  }
  if (!response.ok) {
    const refused = response.status === 401 || response.status === 403;
    throw new RemoteError(`${method} ${redactUrl(url)}: ${statusLine(response)}`, {
      status: response.status,
      hint: refused
        ? "credentials in a URL are not kept: pull it again with them to check it"
        : undefined,
    });
  }
  if (
    /^\s*(text\/html|application\/xhtml\+xml)\s*(;|$)/i.test(
      response.headers.get("content-type") ?? "",
    )
  ) {
    throw new RemoteError(
      `${redactUrl(url)} answered with an HTML page (HTTP ${response.status}), not the image`,
      { status: response.status, hint: "the URL may now need a login" },
    );
  }
  return compareValidators(record, saved, response);
}

function compareValidators(
  record: RecordedImage,
  saved: Validator | null,
  response: Response,
): RemoteCheck {
  const etag = response.headers.get("etag");
  const lastModified = response.headers.get("last-modified");
  const remoteVersion = etag ?? lastModified;
  if (saved?.etag && etag) {
    return weakEqual(saved.etag, etag)
      ? { state: "current", remoteVersion, reason: "the server answers the same ETag" }
      : { state: "outdated", remoteVersion, reason: `the ETag changed from ${shown(saved.etag)}` };
  }
  if (saved?.lastModified && lastModified) {
    return saved.lastModified === lastModified
      ? { state: "current", remoteVersion, reason: "the server answers the same Last-Modified" }
      : {
        state: "outdated",
        remoteVersion,
        reason: `Last-Modified changed from ${shown(saved.lastModified)}`,
      };
  }
  const length = response.headers.has("content-encoding")
    ? null
    : /^\d+$/.test(response.headers.get("content-length")?.trim() ?? "")
    ? Number(response.headers.get("content-length"))
    : null;
  if (length !== null && record.size !== null && length !== record.size) {
    return {
      state: "outdated",
      remoteVersion,
      reason: `the server's file has ${length} bytes, the stored one ${record.size}`,
    };
  }
  return {
    state: "unknown",
    remoteVersion,
    reason: saved === null
      ? `${hostOf(record.url)} gave no ETag or Last-Modified when it was pulled; ` +
        "only a download can tell"
      : `${hostOf(record.url)} no longer answers the validator it gave`,
  };
}

// A server's header in a one-line message: a few words, not a page.
function shown(value: string): string {
  return value.length > 80 ? `${value.slice(0, 80)}...` : value;
}

// If-None-Match compares weakly: `W/"x"` and `"x"` name the same version.
function weakEqual(a: string, b: string): boolean {
  return a.replace(/^W\//, "") === b.replace(/^W\//, "");
}

function sameUrl(a: string, b: string): boolean {
  try {
    return redactUrl(new URL(a).href) === redactUrl(new URL(b).href);
  } catch {
    return false;
  }
}

// `registry/collection/name:tag`, lower-cased: the image a name means, whatever its version.
function nameKey(name: ImageName): string {
  return formatImageName(name, { withVersion: false }).toLowerCase();
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
