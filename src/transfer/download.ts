/**
 * Downloading one image into a part file: hashed while written, resumed after an interruption
 * only when the server proves it is still the same file (its validator equals the saved one and
 * its 206 covers exactly the rest), and checked against the announced length and the expected
 * MD5 before it is handed back; an HTML page is never taken for an image. A file with a known
 * size never grows past it: a larger announced length is refused unread, and a body that runs
 * over is cut off at the first byte too many. Credentials are asked for per request, so a token
 * that expired during a long download is renewed. lock.ts keeps two processes from writing the
 * same file.
 */
import { type Digest, ImageWriter } from "../core/ingest.ts";
import { IntegrityError, InterruptedError, NotFoundError, RemoteError } from "../errors.ts";
import {
  bodyReader,
  BodyReadError,
  DEFAULT_RETRIES,
  discard,
  type HttpOptions,
  redactUrl,
  request,
  retryDelayMs,
  sleep,
  statusLine,
} from "./http.ts";
import type { ProgressListener } from "./progress.ts";
import { removeQuietly } from "./lock.ts";

/** How to download and what to check. */
export interface DownloadOptions {
  /** Timeouts, retries, User-Agent and the interrupt signal. */
  http: HttpOptions;
  /** Extra request headers, e.g. Authorization (dropped if a redirect leaves the origin). */
  headers?: Record<string, string>;
  /**
   * Headers asked for before every request (fresh credentials, such as a Bearer token that may
   * have expired), added to `headers`; after a 401 it is asked again once with that answer, and
   * null means it has nothing better to offer.
   */
  authorize?: Authorizer;
  /** The most bytes the file may have (an OCI layer's size): more is refused as soon as seen. */
  limit?: number;
  /** MD5 the remote announced; a different file is deleted and reported. */
  expectedMd5?: string | null;
  /** Called after every chunk; throttling is the listener's job. */
  onProgress?: ProgressListener;
  /** Also compute the file's SHA-256 in the same pass (OCI blobs are named by it). */
  sha256?: boolean;
}

/** Request headers for the next request; `refused` is a 401 answer to the previous headers. */
export type Authorizer = (refused: Response | null) => Promise<Record<string, string> | null>;

/** A finished, verified download sitting at the part path. */
export interface DownloadResult {
  /** Bytes in the file. */
  size: number;
  /** Lower-case hex MD5 of the file. */
  md5: string;
  /** Lower-case hex SHA-256 of the file, when asked for. */
  sha256?: string;
  /**
   * What the file was checked against: the expected MD5 (or, for an OCI layer, its SHA-256 once
   * the caller has compared it), only its announced length, or nothing.
   */
  checked: "md5" | "sha256" | "length" | "nothing";
  /** The server's validators of the file, for a later conditional request. */
  validator: Validator;
  /** The Content-Type the server gave, or null. */
  contentType: string | null;
}

/** A server's validators of a file: a later request can ask whether it changed. */
export interface Validator {
  /** The ETag header, or null. */
  etag: string | null;
  /** The Last-Modified header, or null. */
  lastModified: string | null;
}

/** What the sidecar `<part>.json` remembers so a later run can resume safely. */
interface Saved extends Validator {
  /** The length of the whole file as first announced, or null. */
  total: number | null;
}

/**
 * Streams `url` into `partPath`, resuming a part file left by an interrupted run. On success the
 * sidecar is removed and the caller renames `partPath` into place; on interruption or a stall
 * the part file is kept for the next run; a file that fails verification is deleted.
 */
export async function downloadToFile(
  url: string,
  partPath: string,
  options: DownloadOptions,
): Promise<DownloadResult> {
  return (await transfer(url, partPath, options, null))!;
}

/**
 * As downloadToFile, but first asks whether the file changed since `stored` (the validators of
 * the copy already kept): null when the server answers 304 Not Modified, and nothing is written.
 */
export async function downloadIfChanged(
  url: string,
  partPath: string,
  stored: Validator,
  options: DownloadOptions,
): Promise<DownloadResult | null> {
  return await transfer(url, partPath, options, stored);
}

async function transfer(
  url: string,
  partPath: string,
  options: DownloadOptions,
  stored: Validator | null,
): Promise<DownloadResult | null> {
  const sidecarPath = `${partPath}.json`;
  // Open across the retries of this run: its hash already covers the part file, which a retry
  // then need not read again.
  let writer: ImageWriter | null = null;
  try {
    return await attempts();
  } finally {
    if (writer) await keep(writer);
  }

  async function attempts(): Promise<DownloadResult | null> {
    const retries = options.http.retries ?? DEFAULT_RETRIES;
    let losses = 0;
    let mayResume = true;
    let startedAt = performance.now();
    let resumedFrom = 0;
    let firstResponse = true;
    // What the response this round's bytes come from says about the file.
    let current: Saved = { etag: null, lastModified: null, total: null };
    let contentType: string | null = null;
    while (true) {
      const existing = writer?.size ?? await fileSize(partPath);
      const saved = mayResume && existing > 0 ? await readSaved(sidecarPath) : null;
      const validator = saved ? ifRangeValue(saved) : null;
      const offset = validator !== null ? existing : 0;
      const headers: Record<string, string> = { ...options.headers, "accept-encoding": "identity" };
      if (offset > 0 && validator !== null) {
        headers["range"] = `bytes=${offset}-`;
        headers["if-range"] = validator;
      } else if (stored !== null && firstResponse) {
        if (stored.etag) headers["if-none-match"] = stored.etag;
        if (stored.lastModified) headers["if-modified-since"] = stored.lastModified;
      }
      const response = await authorizedRequest(url, headers, options);

      const conditional = "if-none-match" in headers || "if-modified-since" in headers;
      if (response.status === 304 && conditional) {
        await discard(response);
        return null;
      }
      if (response.status === 416 && offset > 0) {
        const total = contentRangeTotal(response.headers.get("content-range"));
        await discard(response);
        // The part file may already be complete (a run died between download and rename): the
        // server's length must be the one it first announced, which the part file reached.
        if (total === offset && saved?.total === offset) {
          const digest = await closeWriter(
            writer ?? await ImageWriter.create(partPath, { resume: true, sha256: options.sha256 }),
          );
          options.onProgress?.({ done: total, total, startedAt, resumedFrom: total });
          return await finish(digest, saved, total, response.headers.get("content-type"));
        }
        await startOver();
        continue;
      }
      if (!response.ok) {
        await discard(response);
        const message = `GET ${redactUrl(url)}: ${statusLine(response)}`;
        if (response.status === 404) throw new NotFoundError(message);
        throw new RemoteError(message, { status: response.status });
      }

      let append = false;
      let total: number | null;
      const answered = {
        etag: response.headers.get("etag"),
        lastModified: response.headers.get("last-modified"),
      };
      if (response.status === 206) {
        const contentRange = response.headers.get("content-range");
        if (offset === 0) {
          await discard(response);
          throw new RemoteError(
            `GET ${redactUrl(url)}: answered with a range that was not asked for (${contentRange})`,
          );
        }
        if (!sameFileRest(response, saved!, offset)) {
          // Not proven to be the rest of the same file: start again with a plain request.
          await discard(response);
          await startOver();
          continue;
        }
        append = true;
        total = saved!.total;
      } else {
        total = response.headers.has("content-encoding")
          ? null
          : parseLength(response.headers.get("content-length"));
        if (total !== null && options.limit !== undefined && total > options.limit) {
          await discard(response);
          await removeQuietly(partPath, sidecarPath);
          throw overLimit(url, `announces ${total} bytes, more`, options.limit);
        }
        const html = isHtml(response.headers.get("content-type"));
        if (html) {
          await discard(response);
          await removeQuietly(partPath, sidecarPath);
          throw htmlError(url, response.status);
        }
      }
      if (!append) {
        current = { ...answered, total };
        contentType = response.headers.get("content-type");
        await writeSaved(sidecarPath, current);
      } else if (firstResponse) {
        current = saved!;
        contentType = response.headers.get("content-type");
      }
      if (!append || firstResponse) {
        startedAt = performance.now();
        resumedFrom = append ? offset : 0;
      }
      firstResponse = false;

      if (!append || writer === null) {
        // A fresh start, or a part file left by an earlier run: its bytes are hashed first.
        if (writer) dropWriter(writer);
        try {
          writer = await ImageWriter.create(partPath, { resume: append, sha256: options.sha256 });
        } catch (error) {
          await discard(response);
          throw error;
        }
        if (append && writer.size !== offset) {
          // The part file changed under us; nothing it holds can be trusted.
          await discard(response);
          dropWriter(writer);
          await removeQuietly(partPath);
          mayResume = false;
          continue;
        }
      }
      options.onProgress?.({ done: writer.size, total, startedAt, resumedFrom });
      try {
        const body = bodyReader(response, options.http);
        try {
          for (let chunk = await body.read(); chunk !== null; chunk = await body.read()) {
            if (writer.size === 0 && looksLikeHtml(chunk)) throw htmlError(url, response.status);
            if (options.limit !== undefined && writer.size + chunk.byteLength > options.limit) {
              throw overLimit(url, "sent more", options.limit);
            }
            await writer.write(chunk);
            options.onProgress?.({ done: writer.size, total, startedAt, resumedFrom });
          }
        } finally {
          await body.close();
        }
      } catch (error) {
        if (error instanceof InterruptedError) throw error;
        if (!(error instanceof BodyReadError)) {
          dropWriter(writer);
          await removeQuietly(partPath, sidecarPath);
          throw error;
        }
        if (error.stalled) {
          throw new RemoteError(`download of ${redactUrl(url)} stalled: ${error.message}`, {
            cause: error,
            hint: "run the command again to resume it",
          });
        }
        if (losses < retries) {
          // With a validator the next round carries on with this writer; without one it restarts.
          const delay = retryDelayMs(losses, options.http);
          losses++;
          options.http.onRetry?.(
            `${error.message} after ${writer.size} bytes; retrying in ${delay}ms (${losses}/${retries})`,
          );
          await sleep(delay, options.http.signal);
          continue;
        }
        const resumable = ifRangeValue(await readSaved(sidecarPath)) !== null;
        const received = writer.size;
        await keep(writer);
        writer = null;
        if (!resumable) await removeQuietly(partPath, sidecarPath);
        throw new IntegrityError(
          `download of ${redactUrl(url)} was cut short: got ${received} of ${total ?? "?"} ` +
            `bytes (${error.message})`,
          {
            cause: error,
            hint: resumable ? "run the command again to resume it" : "run the command again",
          },
        );
      }
      const digest = await closeWriter(writer);
      if (total !== null && digest.size !== total) {
        await removeQuietly(partPath, sidecarPath);
        throw new IntegrityError(
          `download of ${redactUrl(url)} was cut short: got ${digest.size} of ${total} bytes`,
          { hint: "the download was deleted; run the command again" },
        );
      }
      return await finish(digest, current, total, contentType);
    }

    // Nothing kept can be trusted: the next round asks for the whole file.
    async function startOver(): Promise<void> {
      if (writer) dropWriter(writer);
      await removeQuietly(partPath, sidecarPath);
      mayResume = false;
    }
  }

  // The writer is done with: closed for its digest, or dropped with its buffered bytes.
  async function closeWriter(done: ImageWriter): Promise<Digest> {
    writer = null;
    return await done.close();
  }

  function dropWriter(dropped: ImageWriter): void {
    writer = null;
    dropped.abandon();
  }

  async function finish(
    digest: Digest,
    validator: Validator,
    total: number | null,
    contentType: string | null,
  ): Promise<DownloadResult> {
    const expected = options.expectedMd5?.toLowerCase();
    if (expected && digest.md5 !== expected) {
      await removeQuietly(partPath, sidecarPath);
      throw new IntegrityError(
        `${redactUrl(url)}: MD5 is ${digest.md5}, expected ${expected}; the download was deleted`,
      );
    }
    await removeQuietly(sidecarPath);
    return {
      size: digest.size,
      md5: digest.md5,
      checked: expected ? "md5" : total !== null ? "length" : "nothing",
      validator: { etag: validator.etag, lastModified: validator.lastModified },
      contentType,
      ...(digest.sha256 === undefined ? {} : { sha256: digest.sha256 }),
    };
  }
}

// A 206 continues the saved file only when it carries the validator the resume was asked with,
// starts where the part file ends, and runs to the end of the length first announced.
function sameFileRest(response: Response, saved: Saved, offset: number): boolean {
  const range = parseContentRange(response.headers.get("content-range"));
  if (range === null || range.start !== offset) return false;
  const total = range.total ?? saved.total;
  if (total === null || total !== saved.total || range.end !== total - 1) return false;
  const length = parseLength(response.headers.get("content-length"));
  if (length !== null && length !== total - offset) return false;
  const used = ifRangeValue(saved);
  return used === saved.etag
    ? response.headers.get("etag") === saved.etag
    : response.headers.get("last-modified") === saved.lastModified;
}

function isHtml(contentType: string | null): boolean {
  return /^\s*(text\/html|application\/xhtml\+xml)\s*(;|$)/i.test(contentType ?? "");
}

// An HTML page sent as application/octet-stream (a login or error page) starts like one.
function looksLikeHtml(chunk: Uint8Array): boolean {
  const head = new TextDecoder().decode(chunk.subarray(0, 256)).replace(/^\ufeff/, "").trimStart();
  return /^<(!doctype\s+html|html[\s>])/i.test(head);
}

// `said` is what the server did: "sent more", "announces 5000 bytes, more".
function overLimit(url: string, said: string, limit: number): IntegrityError {
  return new IntegrityError(
    `${redactUrl(url)} ${said} than the ${limit} bytes expected; the download was stopped and ` +
      "deleted",
  );
}

// One GET with the headers `authorize` gives now; a 401 is asked about once, and the request is
// sent again only when it offers other headers.
async function authorizedRequest(
  url: string,
  headers: Record<string, string>,
  options: DownloadOptions,
): Promise<Response> {
  const send = (extra: Record<string, string>) =>
    request(url, { method: "GET", headers: { ...headers, ...extra } }, options.http);
  if (options.authorize === undefined) return await send({});
  const response = await send(await options.authorize(null) ?? {});
  if (response.status !== 401) return response;
  const again = await options.authorize(response);
  if (again === null) return response;
  await discard(response);
  return await send(again);
}

function htmlError(url: string, status: number): RemoteError {
  return new RemoteError(
    `${redactUrl(url)} answered with an HTML page (HTTP ${status}), not an image; nothing was kept`,
    { status, hint: "the URL may need a login, or point at a web page about the image" },
  );
}

async function keep(writer: ImageWriter): Promise<void> {
  // close() flushes the buffered block too, so the part file keeps every byte received.
  try {
    await writer.close();
  } catch {
    writer.abandon();
  }
}

async function fileSize(path: string): Promise<number> {
  try {
    return (await Deno.stat(path)).size;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return 0;
    throw error;
  }
}

async function readSaved(path: string): Promise<Saved | null> {
  try {
    const value = JSON.parse(await Deno.readTextFile(path));
    if (typeof value !== "object" || value === null) return null;
    return {
      etag: typeof value.etag === "string" ? value.etag : null,
      lastModified: typeof value.lastModified === "string" ? value.lastModified : null,
      total: Number.isSafeInteger(value.total) && value.total >= 0 ? value.total : null,
    };
  } catch {
    return null;
  }
}

// Replaced, never written through: a link planted at the sidecar's name is removed, not followed.
async function writeSaved(path: string, saved: Saved): Promise<void> {
  await removeQuietly(path);
  await Deno.writeTextFile(path, JSON.stringify(saved) + "\n", { mode: 0o600, createNew: true });
}

// If-Range needs a strong validator: a weak ETag would make the server ignore the Range.
function ifRangeValue(validator: Validator | null): string | null {
  if (validator === null) return null;
  if (validator.etag && !validator.etag.startsWith("W/")) return validator.etag;
  return validator.lastModified;
}

function parseContentRange(
  value: string | null,
): { start: number; end: number; total: number | null } | null {
  const match = value?.match(/^bytes\s+(\d+)-(\d+)\/(\d+|\*)$/i);
  if (!match) return null;
  return {
    start: Number(match[1]),
    end: Number(match[2]),
    total: match[3] === "*" ? null : Number(match[3]),
  };
}

function contentRangeTotal(value: string | null): number | null {
  const match = value?.match(/^bytes\s+\*\/(\d+)$/i);
  return match ? Number(match[1]) : null;
}

function parseLength(value: string | null): number | null {
  if (value === null || !/^\d+$/.test(value.trim())) return null;
  return Number(value.trim());
}
