/**
 * A multipart/form-data upload streamed from disk with an exact Content-Length. fetch sends a
 * stream body chunked, which nginx's upload module rejects with 400, so this goes through
 * node:http and pipes the file; the file is never held in memory. A multipart upload is sent
 * again, read afresh from disk, only when the server cannot have acted on it: it answered 5xx or
 * 429, or the connection never opened. Answers are read under the same cap as every parsed answer.
 */
import type { ClientRequest, IncomingMessage, RequestOptions } from "node:http";
import { IntegrityError, InterruptedError, NotFoundError, RemoteError } from "../errors.ts";
import {
  DEFAULT_RETRIES,
  DEFAULT_STALL_TIMEOUT_MS,
  type HttpOptions,
  isRetryableStatus,
  MAX_ANSWER_BYTES,
  retryDelayMs,
  sleep,
} from "./http.ts";

/** The file part of a multipart upload. */
export interface UploadFile {
  /** Form field name, e.g. `file1`. */
  field: string;
  /** Path of the file on disk, streamed as the part's body. */
  path: string;
  /** File name announced to the server in Content-Disposition. */
  filename: string;
  /** Content-Type of the file part. */
  contentType: string;
}

/** How any upload is sent and reported. */
export interface UploadTransfer {
  /** User-Agent header value. */
  userAgent: string;
  /** Sees every chunk of the file as it is sent, e.g. to hash it in the same pass. */
  onChunk?: (chunk: Uint8Array) => void;
  /** Called with file bytes handed to the connection so far and the file's size. */
  onProgress?: (sent: number, total: number) => void;
  /** Aborting stops the upload with an InterruptedError. */
  signal?: AbortSignal;
  /** Fail when the connection is idle this long (no bytes sent or received); 60 s by default. */
  timeoutMs?: number;
}

/** What to send in a multipart upload and how to report it. */
export interface UploadOptions extends UploadTransfer {
  /** Text fields, sent in this order before the file. */
  fields: [string, string][];
  /** The file, sent last. */
  file: UploadFile;
  /** Extra request headers, e.g. Authorization; Content-Type and Content-Length are ours. */
  headers?: Record<string, string>;
  /** Called before each attempt, which sends the file from its start (e.g. to restart a hash). */
  onAttempt?: () => void;
  /** Attempts after a 5xx or 429 answer or a connection that never opened, and their backoff. */
  retry?: Pick<HttpOptions, "retries" | "backoffMs" | "onRetry">;
}

/** The server's answer to an upload; redirects are returned, not followed. */
export interface UploadResponse {
  /** HTTP status code. */
  status: number;
  /** HTTP reason phrase. */
  statusText: string;
  /** Response headers with lower-case names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  /** The whole response body as text. */
  body: string;
}

// Reads of 64 KiB: with 1 MiB reads a 1 GiB upload peaked at 140 MB (garbage buffers wait for
// the collector), with 64 KiB at 92 MB, at the same speed.
const READ_BLOCK = 64 * 1024;
const encoder = new TextEncoder();

/**
 * Sends fields and a file as multipart/form-data in one request with an exact Content-Length;
 * retries as the module says, and returns the last answer of any status.
 */
export async function uploadMultipart(
  url: string,
  options: UploadOptions,
): Promise<UploadResponse> {
  const target = new URL(url);
  const retries = options.retry?.retries ?? DEFAULT_RETRIES;
  for (let attempt = 0;; attempt++) {
    let failure: string;
    try {
      options.onAttempt?.();
      const response = await uploadOnce(url, options);
      if (!isRetryableStatus(response.status) || attempt >= retries) return response;
      failure =
        `POST ${target.origin}${target.pathname}: HTTP ${response.status} ${response.statusText}`
          .trim();
    } catch (error) {
      if (!(error instanceof UnreachedError) || attempt >= retries) throw error;
      failure = error.message;
    }
    const delay = retryDelayMs(attempt, options.retry ?? {});
    options.retry?.onRetry?.(
      `${failure}; retrying in ${delay}ms (${attempt + 1}/${retries})`,
    );
    await sleep(delay, options.signal);
  }
}

async function uploadOnce(url: string, options: UploadOptions): Promise<UploadResponse> {
  const boundary = randomBoundary();
  const head = encoder.encode(multipartHead(boundary, options.fields, options.file));
  const tail = encoder.encode(`\r\n--${boundary}--\r\n`);
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(options.headers ?? {})) {
    if (!/^(content-type|content-length|transfer-encoding)$/i.test(key)) headers[key] = value;
  }
  headers["Content-Type"] = `multipart/form-data; boundary=${boundary}`;
  return await streamRequest(url, { ...options, method: "POST", headers, head, tail });
}

/** What to send in a plain upload of one file: the request body is the file, nothing else. */
export interface FileUploadOptions extends UploadTransfer {
  /** HTTP method, e.g. PATCH or PUT. */
  method: string;
  /** Path of the file on disk. */
  path: string;
  /** Extra request headers, e.g. Authorization and Content-Type; Content-Length is ours. */
  headers?: Record<string, string>;
}

/**
 * Sends a file as the whole body of one request with an exact Content-Length (never chunked),
 * reading it once; redirects are returned, not followed.
 */
export async function uploadFile(url: string, options: FileUploadOptions): Promise<UploadResponse> {
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(options.headers ?? {})) {
    if (!/^(content-length|transfer-encoding)$/i.test(key)) headers[key] = value;
  }
  return await streamRequest(url, {
    ...options,
    file: { path: options.path },
    headers,
    head: new Uint8Array(0),
    tail: new Uint8Array(0),
  });
}

interface StreamedRequest extends UploadTransfer {
  method: string;
  headers: Record<string, string>;
  file: { path: string };
  head: Uint8Array;
  tail: Uint8Array;
}

// One request whose body is head, the file streamed from disk, then tail.
async function streamRequest(url: string, options: StreamedRequest): Promise<UploadResponse> {
  const target = new URL(url);
  if (target.protocol !== "http:" && target.protocol !== "https:") {
    throw new RemoteError(`cannot upload to ${target.protocol} URL ${target.origin}`);
  }
  const { signal, head, tail } = options;
  if (signal?.aborted) throw new InterruptedError("upload interrupted");

  // Loaded lazily: node:fs and node:http cost start-up time for every other command.
  const fs = await import("node:fs");
  const { pipeline } = await import("node:stream/promises");
  const { request } = target.protocol === "https:"
    ? await import("node:https")
    : await import("node:http");

  const size = await fileSize(fs, options.file.path);
  const contentLength = head.byteLength + size + tail.byteLength;
  // An encoded answer is decoded below, within the cap; asking for none keeps that rare.
  const headers: Record<string, string> = { "User-Agent": options.userAgent };
  for (const [key, value] of Object.entries(options.headers)) {
    if (!/^accept-encoding$/i.test(key)) headers[key] = value;
  }
  headers["Accept-Encoding"] = "identity";
  headers["Content-Length"] = String(contentLength);

  const requestOptions: RequestOptions = { method: options.method, headers, agent: false };
  const req: ClientRequest = request(target, requestOptions);
  const host = target.host;
  // Until the connection (and TLS) is up, a failure means the server was never reached.
  let established = false;
  req.once("socket", (socket) => {
    const ready = target.protocol === "https:" ? "secureConnect" : "connect";
    socket.once(ready, () => established = true);
  });

  let aborted = false;
  const onAbort = () => {
    aborted = true;
    req.destroy(new Error("aborted"));
  };
  signal?.addEventListener("abort", onAbort, { once: true });
  const idleMs = options.timeoutMs ?? DEFAULT_STALL_TIMEOUT_MS;
  req.setTimeout(
    idleMs,
    () => req.destroy(new TimeoutError(`no activity for ${idleMs / 1000} s`)),
  );

  const responded = new Promise<IncomingMessage>((resolve, reject) => {
    req.once("response", resolve);
    req.once("error", reject);
  });

  let sent = 0;
  let bodyDone = false;
  let readError: unknown;
  const onProgress = options.onProgress;
  onProgress?.(0, size);
  async function* body(): AsyncGenerator<Uint8Array> {
    if (head.byteLength > 0) yield head;
    const stream = fs.createReadStream(options.file.path, { highWaterMark: READ_BLOCK });
    try {
      for await (const chunk of stream as AsyncIterable<Uint8Array>) {
        sent += chunk.byteLength;
        if (sent > size) {
          throw new IntegrityError(`${options.file.path} grew while it was being uploaded`);
        }
        options.onChunk?.(chunk);
        yield chunk;
        onProgress?.(sent, size);
      }
    } catch (error) {
      readError = error;
      throw error;
    } finally {
      stream.destroy();
    }
    if (sent !== size) {
      readError = new IntegrityError(`${options.file.path} shrank while it was being uploaded`);
      throw readError;
    }
    if (tail.byteLength > 0) yield tail;
  }
  const sending = pipeline(body(), req).then(() => {
    bodyDone = true;
  });
  // A server may answer (413, 403) before the body is sent and close; the answer wins.
  sending.catch(() => {});

  try {
    const response = await responded;
    const text = await readText(response, host);
    if (!bodyDone) req.destroy();
    return {
      status: response.statusCode ?? 0,
      statusText: response.statusMessage ?? "",
      headers: flattenHeaders(response.headers),
      body: text,
    };
  } catch (error) {
    req.destroy();
    if (aborted || signal?.aborted) throw new InterruptedError("upload interrupted");
    if (readError !== undefined) throw readError;
    throw networkError(host, error, established ? { sent, size } : undefined);
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
}

class TimeoutError extends Error {}

async function fileSize(fs: typeof import("node:fs"), path: string): Promise<number> {
  try {
    const stat = await fs.promises.stat(path);
    if (!stat.isFile()) throw new NotFoundError(`${path} is not a file`);
    return stat.size;
  } catch (error) {
    if ((error as { code?: string }).code === "ENOENT") {
      throw new NotFoundError(`no such file: ${path}`, { cause: error });
    }
    throw error;
  }
}

function randomBoundary(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

// Quotes and line breaks in names are percent-encoded as browsers do (WHATWG form encoding).
function quoted(value: string): string {
  return value.replace(/"/g, "%22").replace(/\r/g, "%0D").replace(/\n/g, "%0A");
}

// The connection never opened: the server cannot have seen the upload.
class UnreachedError extends RemoteError {}

function multipartHead(boundary: string, fields: [string, string][], file: UploadFile): string {
  let text = "";
  for (const [name, value] of fields) {
    text += `--${boundary}\r\nContent-Disposition: form-data; name="${quoted(name)}"\r\n\r\n` +
      `${value}\r\n`;
  }
  text += `--${boundary}\r\nContent-Disposition: form-data; name="${quoted(file.field)}"; ` +
    `filename="${quoted(file.filename)}"\r\nContent-Type: ${file.contentType}\r\n\r\n`;
  return text;
}

// The answer as text, decoded from its Content-Encoding as it arrives and cut off at the cap.
async function readText(response: IncomingMessage, host: string): Promise<string> {
  const { createBrotliDecompress, createGunzip, createInflate } = await import("node:zlib");
  const encoding = String(response.headers["content-encoding"] ?? "identity").trim().toLowerCase();
  const decoders: Record<string, () => NodeJS.ReadWriteStream> = {
    gzip: createGunzip,
    "x-gzip": createGunzip,
    deflate: createInflate,
    br: createBrotliDecompress,
  };
  if (encoding !== "identity" && !(encoding in decoders)) {
    response.destroy();
    throw new RemoteError(`${host} answered the upload with an unknown encoding '${encoding}'`, {
      status: response.statusCode,
    });
  }
  const source: NodeJS.ReadableStream = encoding === "identity"
    ? response
    : response.pipe(decoders[encoding]());
  return await new Promise((resolve, reject) => {
    const decoder = new TextDecoder();
    let text = "";
    let size = 0;
    let settled = false;
    let received = false; // the whole (encoded) body arrived
    const fail = (error: unknown) => {
      if (settled) return;
      settled = true;
      reject(error);
    };
    source.on("data", (chunk: Uint8Array) => {
      if (settled) return;
      size += chunk.byteLength;
      if (size > MAX_ANSWER_BYTES) {
        fail(
          new RemoteError(
            `${host} answered the upload with more than ${MAX_ANSWER_BYTES / 1024 / 1024} MiB`,
            { status: response.statusCode },
          ),
        );
        response.destroy();
        return;
      }
      text += decoder.decode(chunk, { stream: true });
    });
    source.once("end", () => {
      if (settled) return;
      settled = true;
      resolve(text + decoder.decode());
    });
    source.once("error", fail);
    response.once("error", fail);
    response.once("end", () => received = true);
    response.once("close", () => {
      if (!received) fail(new Error("the connection closed before the response ended"));
    });
  });
}

function flattenHeaders(headers: IncomingMessage["headers"]): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [key, value] of Object.entries(headers)) {
    if (value !== undefined) {
      flat[key.toLowerCase()] = Array.isArray(value) ? value.join(", ") : value;
    }
  }
  return flat;
}

function networkError(
  host: string,
  error: unknown,
  progress: { sent: number; size: number } | undefined,
): RemoteError {
  const message = error instanceof Error ? error.message : String(error);
  if (progress === undefined) {
    return new UnreachedError(`could not reach ${host}: ${message}`, { cause: error });
  }
  if (error instanceof TimeoutError) {
    return new RemoteError(`upload to ${host} timed out: ${message}`, { cause: error });
  }
  return new RemoteError(
    `connection to ${host} broke during the upload (${progress.sent} of ${progress.size} ` +
      `bytes sent): ${message}`,
    { cause: error, hint: "the server may limit upload size; check its logs, then try again" },
  );
}
