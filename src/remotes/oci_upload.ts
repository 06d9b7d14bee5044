/**
 * Uploading blobs to an OCI registry (oras.md §2.5). A file goes as Apptainer sends it: one
 * PATCH with the whole file and an exact Content-Length, hashed (SHA-256) while it is sent, then
 * a PUT naming the digest, so the file is read once. A registry (or proxy) that refuses a body
 * that large gets the file again in a new session, in chunks with Content-Range. Every session
 * that fails is cancelled; the latest Location is always followed verbatim.
 */
import { IntegrityError, InterruptedError, RemoteError } from "../errors.ts";
import { discard, request } from "../transfer/http.ts";
import { uploadFile, type UploadResponse } from "../transfer/upload.ts";
import { errorText } from "./oci_http.ts";
import { answerError, apiPath, blobExists, pushScope } from "./oci_registry.ts";
import type { OciSession } from "./oci_session.ts";

/** How a file blob is uploaded. */
export interface FileBlobOptions {
  /** Send in chunks of this many bytes from the start (else one PATCH, chunks only on refusal). */
  chunkSize: number | null;
  /** Bytes sent so far and the file's size. */
  onProgress?: (sent: number, total: number) => void;
}

/** A blob as uploaded. */
export interface UploadedBlob {
  /** `sha256:<hex>` of what was sent. */
  digest: string;
  /** Bytes sent. */
  size: number;
}

/** The chunk size used after a registry refused the whole file in one request. */
export const FALLBACK_CHUNK = 4 * 1024 * 1024;
// Answers that mean "not a body like this": too large, length required, or refused outright.
const REFUSED_STYLE = new Set([400, 411, 413, 415, 416]);

/** Uploads small in-memory bytes (a config blob) unless the repository already has them. */
export async function uploadBytes(
  session: OciSession,
  repository: string,
  bytes: Uint8Array<ArrayBuffer>,
  digest: string,
): Promise<boolean> {
  if (await blobExists(session, repository, digest)) return false;
  const location = await startSession(session, repository);
  const response = await session.send(withDigest(location, digest), {
    method: "PUT",
    headers: { "content-type": "application/octet-stream" },
    body: bytes,
    scopes: [pushScope(repository)],
  });
  if (response.status !== 201 && !response.ok) {
    await cancel(session, repository, location);
    throw await answerError(session, response, repository, "push");
  }
  await discard(response);
  return true;
}

/** Uploads a file as a blob, hashing it as it goes; returns the digest the registry accepted. */
export async function uploadFileBlob(
  session: OciSession,
  repository: string,
  path: string,
  options: FileBlobOptions,
): Promise<UploadedBlob> {
  if (options.chunkSize !== null) {
    return await uploadChunked(session, repository, path, options.chunkSize, options);
  }
  const location = await startSession(session, repository);
  const { createHash } = await import("node:crypto");
  const hash = createHash("sha256");
  let size = 0;
  let answer: UploadResponse;
  try {
    answer = await uploadFile(location.href, {
      method: "PATCH",
      path,
      headers: {
        "content-type": "application/octet-stream",
        ...await ownHeaders(session, repository, location),
      },
      userAgent: session.http.userAgent,
      signal: session.http.signal,
      timeoutMs: session.http.stallTimeoutMs,
      onChunk: (chunk) => hash.update(chunk),
      onProgress: (sent, total) => {
        size = total;
        options.onProgress?.(sent, total);
      },
    });
  } catch (error) {
    await cancel(session, repository, location);
    throw error;
  }
  if (REFUSED_STYLE.has(answer.status)) {
    await cancel(session, repository, location);
    return await uploadChunked(session, repository, path, FALLBACK_CHUNK, options);
  }
  if (answer.status !== 202 && answer.status !== 204) {
    await cancel(session, repository, location);
    throw await answerError(session, asResponse(answer), repository, "push");
  }
  const next = nextLocation(location, answer.headers.location);
  return await finish(session, repository, next, `sha256:${hash.digest("hex")}`, size);
}

async function uploadChunked(
  session: OciSession,
  repository: string,
  path: string,
  chunkSize: number,
  options: FileBlobOptions,
): Promise<UploadedBlob> {
  const { createHash } = await import("node:crypto");
  const hash = createHash("sha256");
  using file = await Deno.open(path, { read: true });
  const total = (await file.stat()).size;
  let location = await startSession(session, repository);
  const buffer = new Uint8Array(chunkSize);
  let sent = 0;
  try {
    options.onProgress?.(0, total);
    while (true) {
      if (session.http.signal?.aborted) throw new InterruptedError("upload interrupted");
      let filled = 0;
      while (filled < chunkSize) {
        const read = await file.read(buffer.subarray(filled));
        if (read === null) break;
        filled += read;
      }
      if (filled === 0) break;
      const chunk = buffer.slice(0, filled);
      hash.update(chunk);
      const response = await session.send(location.href, {
        method: "PATCH",
        headers: {
          "content-type": "application/octet-stream",
          "content-range": `${sent}-${sent + filled - 1}`,
        },
        body: chunk,
        scopes: [pushScope(repository)],
      });
      if (response.status !== 202 && response.status !== 204) {
        const why = await errorText(response, session.http);
        throw new RemoteError(
          `${session.registry} refused a ${filled}-byte chunk of the upload: ${why}`,
          {
            status: response.status,
            hint: response.status === 413
              ? "set SREGISTRY_ORAS_CHUNK_SIZE to a smaller size (bytes, or e.g. 1M)"
              : undefined,
          },
        );
      }
      location = nextLocation(location, response.headers.get("location") ?? undefined);
      await discard(response);
      sent += filled;
      options.onProgress?.(sent, total);
    }
    if (sent !== total) {
      throw new IntegrityError(`${path} changed size while it was being uploaded`);
    }
  } catch (error) {
    await cancel(session, repository, location);
    throw error;
  }
  return await finish(session, repository, location, `sha256:${hash.digest("hex")}`, sent);
}

// The closing PUT names the digest of what was sent; the registry checks it.
async function finish(
  session: OciSession,
  repository: string,
  location: URL,
  digest: string,
  size: number,
): Promise<UploadedBlob> {
  const response = await session.send(withDigest(location, digest), {
    method: "PUT",
    headers: { "content-type": "application/octet-stream" },
    body: new Uint8Array(0),
    scopes: [pushScope(repository)],
  });
  if (response.status === 201 || response.ok) {
    await discard(response);
    return { digest, size };
  }
  const why = await errorText(response, session.http);
  await cancel(session, repository, location);
  if (/DIGEST_INVALID|SIZE_INVALID/.test(why)) {
    throw new IntegrityError(
      `${session.registry} received other bytes than were read (${why}); was the file changed?`,
    );
  }
  throw new RemoteError(`${session.registry} refused to complete the upload: ${why}`, {
    status: response.status,
  });
}

async function startSession(session: OciSession, repository: string): Promise<URL> {
  const response = await session.send(`${apiPath(repository, "blobs", "uploads")}/`, {
    method: "POST",
    body: new Uint8Array(0),
    scopes: [pushScope(repository)],
  });
  if (response.status !== 202) throw await answerError(session, response, repository, "push");
  const location = response.headers.get("location");
  await discard(response);
  if (location === null) {
    throw new RemoteError(`${session.registry} started an upload without saying where to send it`);
  }
  return nextLocation(new URL(response.url), location);
}

// Authorization only for the registry's own origin: an upload may be sent elsewhere.
async function ownHeaders(
  session: OciSession,
  repository: string,
  location: URL,
): Promise<Record<string, string>> {
  if (location.origin !== await session.origin()) return {};
  return await session.headers([pushScope(repository)], location);
}

function nextLocation(current: URL, location: string | undefined): URL {
  if (location === undefined || location === "") return current;
  let next: URL;
  try {
    next = new URL(location, current);
  } catch {
    throw new RemoteError(`the registry gave an invalid upload address`);
  }
  if (next.protocol !== "https:" && next.protocol !== "http:") {
    throw new RemoteError(`the registry gave an upload address that is not http(s)`);
  }
  return next;
}

// `digest=` appended to the Location as given, which may carry the registry's own state.
function withDigest(location: URL, digest: string): string {
  const href = location.href;
  return `${href}${location.search ? "&" : "?"}digest=${encodeURIComponent(digest)}`;
}

// The answer of an upload, as a Response the error rendering reads.
function asResponse(answer: UploadResponse): Response {
  const empty = answer.status === 204 || answer.status === 304;
  return new Response(empty ? null : answer.body, {
    status: answer.status,
    statusText: answer.statusText,
    headers: answer.headers,
  });
}

// Cancels an upload session; failures are ignored (the registry purges it later anyway).
async function cancel(session: OciSession, repository: string, location: URL): Promise<void> {
  try {
    const headers = await ownHeaders(session, repository, location);
    const response = await request(location.href, { method: "DELETE", headers }, {
      ...session.http,
      signal: undefined,
      retries: 0,
    });
    await discard(response);
  } catch {
    // the session dies with the registry's purge
  }
}
