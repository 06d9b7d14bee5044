/**
 * The distribution API calls sregistry makes on a repository: manifests (get under a cap and
 * checked against the digest they were asked by, head, put, delete), blob existence, and the
 * paged tag and catalog listings, whose names are checked against the OCI grammar (the others are
 * skipped and said). Every path is built segment by segment. Answers become typed errors that say what to do, with
 * "not found or no access" where a registry cannot tell the two apart.
 */
import {
  IntegrityError,
  InvalidNameError,
  NotFoundError,
  printable,
  RemoteError,
} from "../errors.ts";
import { isOciRepository, isOciTag } from "./oci_reference.ts";
import { discard, redactUrl } from "../transfer/http.ts";
import {
  errorText,
  isObject,
  LISTING_CAP,
  MANIFEST_CAP,
  readCapped,
  readJson,
} from "./oci_http.ts";
import { type Manifest, MANIFEST_ACCEPT, mediaTypeOf, parseManifest } from "./oci_manifest.ts";
import type { OciSession } from "./oci_session.ts";

/** A manifest as fetched: its bytes' digest, its type and its parsed content. */
export interface FetchedManifest {
  /** `sha256:<hex>` of the exact bytes. */
  digest: string;
  /** The parsed manifest. */
  manifest: Manifest;
}

const MAX_PAGES = 10_000;
const DIGEST = /^sha256:[0-9a-f]{64}$/;

/**
 * A path under the registry's API, `/v2/<repository>/<segments...>`, every component escaped on
 * its own: a name can never leave the repository's path or reach the query.
 */
export function apiPath(repository: string, ...segments: string[]): string {
  return `/v2/${[...repository.split("/"), ...segments].map(pathSegment).join("/")}`;
}

// A path segment escaped, keeping the ':' of a digest (a character a path segment may hold). A
// dot segment would move the path whatever its escaping (URLs read `%2e%2e` as `..`): refused.
function pathSegment(text: string): string {
  if (/^(|\.|\.\.)$/.test(text)) {
    throw new InvalidNameError(`'${text}' cannot be part of a registry path`);
  }
  return encodeURIComponent(text).replaceAll("%3A", ":");
}

/** Pull scope of a repository. */
export function pullScope(repository: string): string {
  return `repository:${repository}:pull`;
}

/** GETs a manifest by tag or digest; a digest reference must match the bytes received. */
export async function getManifest(
  session: OciSession,
  repository: string,
  reference: string,
): Promise<FetchedManifest> {
  const response = await session.send(apiPath(repository, "manifests", reference), {
    headers: { accept: MANIFEST_ACCEPT },
    scopes: [pullScope(repository)],
  });
  if (!response.ok) throw await answerError(session, response, `${repository}:${reference}`);
  const bytes = await readCapped(response, MANIFEST_CAP, session.http);
  const digest = await sha256Digest(bytes);
  if (reference.startsWith("sha256:") && digest !== reference) {
    throw new IntegrityError(
      `the manifest ${session.registry}/${repository}@${reference} has digest ${digest}`,
      { hint: "the registry answered with other content; nothing was written" },
    );
  }
  const type = mediaTypeOf(response.headers.get("content-type"));
  return { digest, manifest: parseManifest(bytes, type) };
}

/** The digest of the manifest a tag names (HEAD, else GET and hash). */
export async function manifestDigest(
  session: OciSession,
  repository: string,
  tag: string,
): Promise<string> {
  const response = await session.send(apiPath(repository, "manifests", tag), {
    method: "HEAD",
    headers: { accept: MANIFEST_ACCEPT },
    scopes: [pullScope(repository)],
  });
  const announced = response.headers.get("docker-content-digest");
  if (response.ok && announced !== null && DIGEST.test(announced)) {
    await discard(response);
    return announced;
  }
  if (!response.ok && response.status !== 405) {
    throw await answerError(session, response, `${repository}:${tag}`);
  }
  await discard(response);
  return (await getManifest(session, repository, tag)).digest;
}

/** PUTs manifest bytes under a tag; returns their digest, checked against the registry's. */
export async function putManifest(
  session: OciSession,
  repository: string,
  tag: string,
  manifest: { bytes: Uint8Array<ArrayBuffer>; mediaType: string },
): Promise<string> {
  const digest = await sha256Digest(manifest.bytes);
  const response = await session.send(apiPath(repository, "manifests", tag), {
    method: "PUT",
    headers: { "content-type": manifest.mediaType },
    body: manifest.bytes,
    scopes: [pushScope(repository)],
  });
  if (response.status !== 201 && !response.ok) {
    throw await answerError(session, response, `${repository}:${tag}`, "push");
  }
  const stored = response.headers.get("docker-content-digest");
  await discard(response);
  if (stored !== null && stored !== digest) {
    throw new IntegrityError(
      `${session.registry} stored the manifest as ${stored}, but its digest is ${digest}`,
    );
  }
  return digest;
}

/** Deletes the manifest with `digest`; 405 says the registry does not allow deletes. */
export async function deleteManifest(
  session: OciSession,
  repository: string,
  digest: string,
): Promise<void> {
  const response = await session.send(apiPath(repository, "manifests", digest), {
    method: "DELETE",
    scopes: [`repository:${repository}:delete,pull`],
  });
  if (response.ok) {
    await discard(response);
    return;
  }
  if (response.status === 405) {
    throw new RemoteError(
      `${session.registry} does not allow deleting images: ${await errorText(
        response,
        session.http,
      )}`,
      {
        status: 405,
        hint: "its administrator must enable deletion (storage.delete.enabled for distribution)",
      },
    );
  }
  throw await answerError(session, response, `${repository}@${digest}`, "delete");
}

/** Whether the repository holds a blob (HEAD; a redirect to storage also means yes). */
export async function blobExists(
  session: OciSession,
  repository: string,
  digest: string,
): Promise<boolean> {
  const response = await session.send(apiPath(repository, "blobs", digest), {
    method: "HEAD",
    scopes: [pushScope(repository)],
  });
  await discard(response);
  if (response.ok) return true;
  if (response.status === 404) return false;
  if (response.status === 401 || response.status === 403) {
    throw await answerError(session, response, repository, "push");
  }
  return false;
}

/** Names a registry listed: those of the OCI grammar, sorted, and what was left out. */
export interface Listing {
  /** The valid names, each once, sorted. */
  names: string[];
  /** One line for each kind of entry left out (not a string, outside the grammar). */
  skipped: string[];
}

/** Every tag of a repository, across pages (Link: rel="next"); tags outside the grammar are skipped. */
export async function listTags(session: OciSession, repository: string): Promise<Listing> {
  const pages = await listPages(session, apiPath(repository, "tags", "list"), [
    pullScope(repository),
  ]);
  const entries: unknown[] = [];
  for (const page of pages) {
    if (!isObject(page) || !(Array.isArray(page.tags) || page.tags === null)) {
      throw new RemoteError(`${session.registry} answered the tag list of ${repository} oddly`);
    }
    entries.push(...page.tags ?? []);
  }
  return checkedNames(entries, isOciTag, `${session.registry}/${repository} lists`, "tag");
}

/** Every repository in the registry's catalog, across pages; invalid names are skipped. */
export async function listCatalog(session: OciSession): Promise<Listing> {
  const pages = await listPages(session, "/v2/_catalog", ["registry:catalog:*"]);
  const entries: unknown[] = [];
  for (const page of pages) {
    if (!isObject(page) || !Array.isArray(page.repositories)) {
      throw new RemoteError(`${session.registry} answered its catalog oddly`);
    }
    entries.push(...page.repositories);
  }
  return checkedNames(
    entries,
    isOciRepository,
    `${session.registry}'s catalog lists`,
    "repository",
  );
}

// The entries that are valid names, and a line for those that are not (a few shown, escaped).
function checkedNames(
  entries: unknown[],
  valid: (name: string) => boolean,
  source: string,
  what: "tag" | "repository",
): Listing {
  const names = new Set<string>();
  const bad: string[] = [];
  for (const entry of entries) {
    if (typeof entry === "string" && valid(entry)) names.add(entry);
    else if (typeof entry === "string") bad.push(printable(JSON.stringify(entry.slice(0, 80))));
    else bad.push(`a ${entry === null ? "null" : typeof entry}`);
  }
  const kind = bad.length === 1 ? what : what === "tag" ? "tags" : "repositories";
  const shown = bad.slice(0, 3).join(", ") + (bad.length > 3 ? ", ..." : "");
  const skipped = bad.length === 0
    ? []
    : [`${source} ${bad.length} ${kind} outside the OCI grammar (${shown}); skipped`];
  return { names: [...names].sort(), skipped };
}

// `sha256:<hex>` of some bytes.
async function sha256Digest(bytes: Uint8Array): Promise<string> {
  const hash = new Uint8Array(
    await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>),
  );
  return `sha256:${Array.from(hash, (byte) => byte.toString(16).padStart(2, "0")).join("")}`;
}

/** Push scope of a repository. */
export function pushScope(repository: string): string {
  return `repository:${repository}:pull,push`;
}

/**
 * The error for an answer that is not what was asked: 404 is not found; 401 and 403 are
 * "not found or no access" (registries hide private repositories); others say what the
 * registry said.
 */
export async function answerError(
  session: OciSession,
  response: Response,
  what: string,
  action: "pull" | "push" | "delete" = "pull",
): Promise<Error> {
  const said = await errorText(response, session.http);
  const name = `${session.registry}/${what}`;
  if (response.status === 404) return new NotFoundError(`${name} was not found: ${said}`);
  if (response.status === 401 || response.status === 403) {
    const used = session.auth.required ? session.auth.credential() : null;
    const login = `'sregistry login ${session.registry}'`;
    if (used === null) {
      return new RemoteError(`${name} was not found or needs credentials (${said})`, {
        status: response.status,
        hint: `log in with ${login}, or set SREGISTRY_ORAS_USERNAME and SREGISTRY_ORAS_PASSWORD`,
      });
    }
    return new RemoteError(
      response.status === 401
        ? `${session.registry} refused the credentials from ${used.source} (${said})`
        : `${name}: the credentials from ${used.source} may not ${action} it (${said})`,
      {
        status: response.status,
        hint: response.status === 401
          ? `check them, or log in again with ${login}`
          : `it may not exist, or another user must ${action} it`,
      },
    );
  }
  if (response.status === 413) {
    return new RemoteError(`${session.registry} refused ${what}: too large (${said})`, {
      status: 413,
      hint: "the registry (or a proxy in front of it) limits the size of what it accepts",
    });
  }
  return new RemoteError(`${redactUrl(response.url)}: ${said}`, { status: response.status });
}

async function listPages(session: OciSession, path: string, scopes: string[]): Promise<unknown[]> {
  const pages: unknown[] = [];
  const seen = new Set<string>();
  let next: string | null = path;
  while (next !== null) {
    if (seen.has(next) || seen.size >= MAX_PAGES) {
      throw new RemoteError(`${session.registry} keeps paginating ${path}`);
    }
    seen.add(next);
    const url: URL = await session.url(next);
    const response = await session.send(url.href, {
      headers: { accept: "application/json" },
      scopes,
    });
    if (!response.ok) throw await answerError(session, response, path.replace(/^\/v2\//, ""));
    const link = nextLink(response.headers.get("link"));
    pages.push(await readJson(response, LISTING_CAP, session.http));
    next = link === null ? null : new URL(link, url).href;
    if (next !== null && new URL(next).origin !== url.origin) {
      throw new RemoteError(`${session.registry} sent a next page on another host`);
    }
  }
  return pages;
}

function nextLink(header: string | null): string | null {
  for (const part of header?.split(",") ?? []) {
    const match = /<([^>]*)>\s*;(.*)/.exec(part.trim());
    if (match && /rel="?next"?/i.test(match[2])) return match[1];
  }
  return null;
}
