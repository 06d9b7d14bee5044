/**
 * Downloading one image into a part file: hashed while written, resumed with a validated Range
 * request after an interruption, and checked against the announced length and the expected MD5
 * before it is handed back. lock.ts keeps two processes from writing the same file.
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
  /** MD5 the remote announced; a different file is deleted and reported. */
  expectedMd5?: string | null;
  /** Called after every chunk; throttling is the listener's job. */
  onProgress?: ProgressListener;
  /** Also compute the file's SHA-256 in the same pass (OCI blobs are named by it). */
  sha256?: boolean;
}

/** A finished, verified download sitting at the part path. */
export interface DownloadResult {
  /** Bytes in the file. */
  size: number;
  /** Lower-case hex MD5 of the file. */
  md5: string;
  /** Lower-case hex SHA-256 of the file, when asked for. */
  sha256?: string;
}

/** What the sidecar `<part>.json` remembers so a later run can resume safely. */
interface Validator {
  etag: string | null;
  lastModified: string | null;
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
  const sidecarPath = `${partPath}.json`;
  // Open across the retries of this run: its hash already covers the part file, which a retry
  // then need not read again.
  let writer: ImageWriter | null = null;
  try {
    return await attempts();
  } finally {
    if (writer) await keep(writer);
  }

  async function attempts(): Promise<DownloadResult> {
    const retries = options.http.retries ?? DEFAULT_RETRIES;
    let losses = 0;
    let mayResume = true;
    let startedAt = performance.now();
    let resumedFrom = 0;
    let firstResponse = true;
    while (true) {
      const existing = writer?.size ?? await fileSize(partPath);
      const saved = mayResume && existing > 0 ? await readValidator(sidecarPath) : null;
      const validator = saved ? ifRangeValue(saved) : null;
      const offset = validator !== null ? existing : 0;
      const headers: Record<string, string> = { ...options.headers, "accept-encoding": "identity" };
      if (offset > 0 && validator !== null) {
        headers["range"] = `bytes=${offset}-`;
        headers["if-range"] = validator;
      }
      const response = await request(url, { method: "GET", headers }, options.http);

      if (response.status === 416 && offset > 0) {
        const total = contentRangeTotal(response.headers.get("content-range"));
        await discard(response);
        // The part file may already be complete (a run died between download and rename).
        if (total === offset) {
          const digest = await closeWriter(
            writer ?? await ImageWriter.create(partPath, { resume: true, sha256: options.sha256 }),
          );
          options.onProgress?.({ done: total, total, startedAt, resumedFrom: total });
          return await finish(digest);
        }
        mayResume = false;
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
      if (response.status === 206) {
        const contentRange = response.headers.get("content-range");
        const range = parseContentRange(contentRange);
        if (range === null || range.start !== offset) {
          await discard(response);
          if (offset === 0) {
            throw new RemoteError(
              `GET ${
                redactUrl(url)
              }: answered with a range that was not asked for (${contentRange})`,
            );
          }
          // Not the range we asked for: start again with a plain request.
          mayResume = false;
          continue;
        }
        append = offset > 0;
        total = range.total;
      } else {
        total = response.headers.has("content-encoding")
          ? null
          : parseLength(response.headers.get("content-length"));
      }
      if (!append) {
        await writeValidator(sidecarPath, {
          etag: response.headers.get("etag"),
          lastModified: response.headers.get("last-modified"),
        });
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
        const resumable = ifRangeValue(await readValidator(sidecarPath)) !== null;
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
      return await finish(digest);
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

  async function finish(digest: Digest): Promise<DownloadResult> {
    const expected = options.expectedMd5?.toLowerCase();
    if (expected && digest.md5 !== expected) {
      await removeQuietly(partPath, sidecarPath);
      throw new IntegrityError(
        `${redactUrl(url)}: MD5 is ${digest.md5}, expected ${expected}; the download was deleted`,
      );
    }
    await removeQuietly(sidecarPath);
    return digest;
  }
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

async function readValidator(path: string): Promise<Validator | null> {
  try {
    const value = JSON.parse(await Deno.readTextFile(path));
    if (typeof value !== "object" || value === null) return null;
    return {
      etag: typeof value.etag === "string" ? value.etag : null,
      lastModified: typeof value.lastModified === "string" ? value.lastModified : null,
    };
  } catch {
    return null;
  }
}

// Replaced, never written through: a link planted at the sidecar's name is removed, not followed.
async function writeValidator(path: string, validator: Validator): Promise<void> {
  await removeQuietly(path);
  await Deno.writeTextFile(path, JSON.stringify(validator) + "\n", {
    mode: 0o600,
    createNew: true,
  });
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
