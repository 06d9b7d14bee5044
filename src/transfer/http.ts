/**
 * The HTTP layer every remote client uses: fetch of http(s) URLs only, with a User-Agent, a time
 * limit on response headers and on silent bodies, retries with backoff (a request is sent again
 * only when that cannot make the server act twice), redirects followed here so credentials never
 * travel to another origin, and one capped reader for every answer that is parsed. Every URL in a
 * message is redacted.
 */
import { InterruptedError, RemoteError } from "../errors.ts";

/** How requests behave; only `userAgent` is required. */
export interface HttpOptions {
  /** Sent as User-Agent unless the request sets its own. */
  userAgent: string;
  /** Limit for receiving the response headers of one attempt (default 30000). */
  connectTimeoutMs?: number;
  /** A body that delivers no byte for this long fails (default 60000). */
  stallTimeoutMs?: number;
  /** Extra attempts after a network error, 5xx or 429 (default 4). */
  retries?: number;
  /** Base of the exponential backoff between attempts (default 500). */
  backoffMs?: number;
  /** Redirects followed before giving up (default 10). */
  maxRedirects?: number;
  /** Aborting it interrupts the request or body with an InterruptedError. */
  signal?: AbortSignal;
  /** Told, in one line, about every retry before it is made. */
  onRetry?: (message: string) => void;
  /**
   * The hint for an https request a plain-http server answered: what the client in use lets
   * the user do about it (default: use an http:// URL).
   */
  plainHttpHint?: string;
}

/** What to send; redirects are always followed by `request`, never by fetch. */
export interface HttpRequestInit {
  /** HTTP method, GET by default. */
  method?: string;
  /** Request headers; User-Agent is added when missing. */
  headers?: Record<string, string>;
  /** Request body; a ReadableStream body is never retried nor re-sent on a 307/308. */
  body?: BodyInit | null;
}

/** A body that failed part-way: it stalled, or the connection dropped. */
export class BodyReadError extends RemoteError {
  /** True when the remote stopped sending, false when the connection was lost. */
  readonly stalled: boolean;

  constructor(message: string, options: { stalled: boolean; cause?: unknown }) {
    super(message, { cause: options.cause });
    this.stalled = options.stalled;
  }
}

/** A remote that gave no answer at all (refused, unknown host, no response in time), retries spent. */
export class UnreachableError extends RemoteError {}

export const DEFAULT_CONNECT_TIMEOUT_MS = 30_000;
export const DEFAULT_STALL_TIMEOUT_MS = 60_000;
export const DEFAULT_RETRIES = 4;
const DEFAULT_BACKOFF_MS = 500;
const DEFAULT_MAX_REDIRECTS = 10;
const MAX_BACKOFF_MS = 30_000;
const MAX_RETRY_AFTER_MS = 60_000;

/** The most a parsed answer (manifest, listing, token page, push answer) may hold, decoded. */
export const MAX_ANSWER_BYTES = 16 * 1024 * 1024;

const IDEMPOTENT_METHODS = new Set(["GET", "HEAD", "PUT", "DELETE", "OPTIONS"]);
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
// Headers that carry a credential for the origin they were set for.
const CREDENTIAL_HEADERS = [
  "authorization",
  "proxy-authorization",
  "cookie",
  "private-token",
  "x-auth-token",
];
const CREDENTIAL_PARAM =
  /token|signature|^sig$|key|secret|passw|^pass$|^pwd$|credential|^auth|session|^code$|policy|^x-amz-|^x-goog-/i;

/**
 * Sends a request and returns the final response of any status; a URL that is not http(s) is
 * refused before anything is sent. Retries 5xx and 429 answers when the body can be sent again,
 * and network errors when sending again cannot make the server act twice (an idempotent method,
 * or a connection that never opened); throws a RemoteError once the retries are used up.
 */
export async function request(
  url: string,
  init: HttpRequestInit,
  options: HttpOptions,
): Promise<Response> {
  httpUrl(url);
  const method = (init.method ?? "GET").toUpperCase();
  const headers = new Headers(init.headers);
  if (!headers.has("user-agent")) headers.set("user-agent", options.userAgent);
  const maxRedirects = options.maxRedirects ?? DEFAULT_MAX_REDIRECTS;
  let current = url;
  let currentMethod = method;
  let body = init.body ?? null;
  for (let hops = 0;; hops++) {
    const response = await fetchWithRetries(
      current,
      { method: currentMethod, headers, body },
      options,
    );
    const location = REDIRECT_STATUSES.has(response.status)
      ? response.headers.get("location")
      : null;
    if (location === null) return response;
    await discard(response);
    if (hops >= maxRedirects) {
      throw new RemoteError(
        `${method} ${redactUrl(url)}: too many redirects (more than ${maxRedirects})`,
      );
    }
    let next: URL;
    try {
      next = new URL(location, current);
    } catch {
      throw new RemoteError(`${redactUrl(current)} redirected to an invalid address`);
    }
    if (next.protocol !== "http:" && next.protocol !== "https:") {
      throw new RemoteError(
        `${redactUrl(current)} redirected to an unsupported ${next.protocol} URL`,
      );
    }
    if (next.origin !== new URL(current).origin) {
      // Presigned storage URLs reject them, and they would leak the token to another host.
      for (const name of CREDENTIAL_HEADERS) headers.delete(name);
    }
    const becomesGet = (response.status === 303 && currentMethod !== "HEAD") ||
      ((response.status === 301 || response.status === 302) && currentMethod === "POST");
    if (becomesGet) {
      currentMethod = "GET";
      body = null;
      headers.delete("content-type");
      headers.delete("content-length");
    } else if (body instanceof ReadableStream) {
      throw new RemoteError(
        `${method} ${redactUrl(url)}: redirected to ${redactUrl(next.href)}, which cannot be ` +
          "followed with a streamed body",
      );
    }
    current = next.href;
  }
}

/** Parses a URL sregistry may fetch: http or https only, anything else is a RemoteError. */
export function httpUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new RemoteError(`${JSON.stringify(redactUrl(url))} is not a valid URL`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new RemoteError(
      `refusing the ${parsed.protocol} URL ${redactUrl(url)}: only http and https URLs are fetched`,
    );
  }
  return parsed;
}

/** A parsed answer and where it came from, for messages about its shape. */
export interface JsonAnswer {
  /** The parsed body; undefined when the body is not JSON (an HTML page, empty, cut off). */
  value: unknown;
  /** The HTTP status. */
  status: number;
  /** The URL that answered (after redirects). */
  url: string;
  /** The Content-Type the server gave, or null. */
  contentType: string | null;
  /** True when the body was empty. */
  empty: boolean;
}

/** Fetches JSON: a non-2xx answer or a body that is not JSON becomes a RemoteError. */
export async function getJson(
  url: string,
  init: HttpRequestInit,
  options: HttpOptions,
): Promise<JsonAnswer> {
  const method = (init.method ?? "GET").toUpperCase();
  const headers = { accept: "application/json", ...init.headers };
  const response = await request(url, { ...init, headers }, options);
  if (!response.ok) {
    await discard(response);
    throw new RemoteError(`${method} ${redactUrl(url)}: ${statusLine(response)}`, {
      status: response.status,
    });
  }
  const answer = await readJson(response, options);
  if (answer.value === undefined) {
    throw new RemoteError(
      `${redactUrl(url)} answered with ${notJson(answer)} (HTTP ${answer.status})`,
      {
        status: answer.status,
      },
    );
  }
  return answer;
}

/**
 * Reads a body as JSON through readText's cap; `value` is undefined when it is not JSON, so a
 * caller can still report the status of an error page.
 */
export async function readJson(response: Response, options: HttpOptions): Promise<JsonAnswer> {
  const text = await readText(response, options);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = undefined;
  }
  return {
    value,
    status: response.status,
    url: response.url,
    contentType: response.headers.get("content-type"),
    empty: text === "",
  };
}

/** What a body that is not JSON was: "an HTML page", "an empty body", "a body that is not JSON". */
export function notJson(answer: JsonAnswer): string {
  const type = answer.contentType?.split(";")[0].trim().toLowerCase() || null;
  if (type === "text/html" || type === "application/xhtml+xml") return "an HTML page";
  if (answer.empty) return "an empty body";
  return `a body that is not JSON${type ? ` (${type})` : ""}`;
}

/** A response body read chunk by chunk into one reused buffer. */
export interface BodyReader {
  /**
   * The next chunk, or null at the end. The chunk is a view of a buffer that the next read
   * reuses: write or copy it first. Throws BodyReadError when no byte arrives for
   * `stallTimeoutMs` or the connection drops, and InterruptedError when `signal` aborts.
   */
  read(): Promise<Uint8Array | null>;
  /** Stops reading and releases the connection. */
  close(): Promise<void>;
}

const BODY_BUFFER = 1024 * 1024;

/**
 * Reads a response body into one reused 1 MiB buffer (a BYOB read): allocating a chunk per read
 * doubles the cost of a large download and most of its memory.
 */
export function bodyReader(response: Response, options: HttpOptions): BodyReader {
  const stallMs = options.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS;
  const host = hostOf(response.url);
  const reader = response.body?.getReader({ mode: "byob" }) ?? null;
  let buffer: ArrayBuffer = new ArrayBuffer(BODY_BUFFER);
  // One watchdog per body instead of a timer per read; only time spent waiting in read()
  // counts, so a slow consumer (a busy disk) is not mistaken for a silent server.
  let waitingSince: number | null = null;
  let stalled = false;
  let finished = reader === null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const watch = () => {
    if (waitingSince === null) {
      timer = setTimeout(watch, stallMs);
      return;
    }
    const idle = performance.now() - waitingSince;
    if (idle >= stallMs) {
      stalled = true;
      reader?.cancel().catch(() => {});
    } else {
      timer = setTimeout(watch, stallMs - idle);
    }
  };
  if (reader) timer = setTimeout(watch, stallMs);
  const close = async () => {
    clearTimeout(timer);
    if (reader === null) return;
    if (!finished && !stalled) await reader.cancel().catch(() => {});
    finished = true;
    try {
      reader.releaseLock();
    } catch {
      // already released
    }
  };
  return {
    async read() {
      if (finished || reader === null) return null;
      waitingSince = performance.now();
      let result: ReadableStreamReadResult<Uint8Array>;
      try {
        // The read transfers the buffer and hands it back inside the view it returns.
        result = await reader.read(new Uint8Array(buffer));
      } catch (error) {
        await close();
        if (options.signal?.aborted) throw new InterruptedError("interrupted", { cause: error });
        if (stalled) {
          throw new BodyReadError(`${host} sent no data for ${formatMs(stallMs)}`, {
            stalled: true,
          });
        }
        throw new BodyReadError(`the connection to ${host} was lost: ${networkReason(error)}`, {
          stalled: false,
          cause: error,
        });
      } finally {
        waitingSince = null;
      }
      if (stalled) {
        await close();
        throw new BodyReadError(`${host} sent no data for ${formatMs(stallMs)}`, { stalled: true });
      }
      if (result.value) buffer = result.value.buffer as ArrayBuffer;
      if (result.done) {
        finished = true;
        await close();
        return null;
      }
      return result.value;
    },
    close,
  };
}

/** Removes userinfo and the values of query parameters that look like credentials. */
export function redactUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // Not a URL we can parse: still hide anything shaped like user:password@.
    return url.replace(/\/\/[^/@\s]*@/, "//");
  }
  parsed.username = "";
  parsed.password = "";
  const search = redactParams(parsed.search.slice(1));
  const hash = parsed.hash.includes("=")
    ? redactParams(parsed.hash.slice(1))
    : parsed.hash.slice(1);
  const origin = parsed.origin === "null" ? `${parsed.protocol}//${parsed.host}` : parsed.origin;
  return origin + parsed.pathname + (parsed.search ? `?${search}` : "") +
    (parsed.hash ? `#${hash}` : "");
}

/** The delay before retry number `attempt` (0-based): exponential, capped, with jitter. */
export function retryDelayMs(attempt: number, options: Pick<HttpOptions, "backoffMs">): number {
  const base = options.backoffMs ?? DEFAULT_BACKOFF_MS;
  const ceiling = Math.min(base * 2 ** attempt, MAX_BACKOFF_MS);
  return Math.round(ceiling / 2 + Math.random() * ceiling / 2);
}

/** Waits `ms` milliseconds, or throws InterruptedError as soon as `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(new InterruptedError("interrupted"));
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(new InterruptedError("interrupted"));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** `HTTP 404 Not Found`, with the reason phrase when the server sent one. */
export function statusLine(response: Response): string {
  return response.statusText
    ? `HTTP ${response.status} ${response.statusText}`
    : `HTTP ${response.status}`;
}

/** Releases a response body that will not be read, so its connection can be reused. */
export async function discard(response: Response): Promise<void> {
  await response.body?.cancel().catch(() => {});
}

/** `host:port` of a URL, for messages; never includes credentials. */
export function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return "the remote";
  }
}

async function fetchWithRetries(
  url: string,
  init: { method: string; headers: Headers; body: BodyInit | null },
  options: HttpOptions,
): Promise<Response> {
  // A stream body is consumed by the first attempt; any other body can be sent again.
  const retryable = !(init.body instanceof ReadableStream);
  const idempotent = IDEMPOTENT_METHODS.has(init.method);
  const retries = options.retries ?? DEFAULT_RETRIES;
  for (let attempt = 0;; attempt++) {
    if (options.signal?.aborted) throw new InterruptedError("interrupted");
    let response: Response;
    try {
      response = await fetchOnce(url, init, options);
    } catch (error) {
      if (error instanceof InterruptedError) throw error;
      const reason = networkReason(error);
      const failure = `could not reach ${hostOf(url)}: ${reason}`;
      // A request that may have reached the server is sent again only if that is harmless.
      const again = retryable && (idempotent || neverSent(error));
      if (!again || attempt >= retries) {
        throw new UnreachableError(failure, { cause: error, hint: networkHint(reason, options) });
      }
      const delay = retryDelayMs(attempt, options);
      options.onRetry?.(`${failure}; retrying in ${formatMs(delay)} (${attempt + 1}/${retries})`);
      await sleep(delay, options.signal);
      continue;
    }
    if (!retryable || !isRetryableStatus(response.status)) return response;
    const failure = `${init.method} ${redactUrl(url)}: ${statusLine(response)}`;
    const retryAfter = retryAfterMs(response.headers.get("retry-after"));
    await discard(response);
    if (attempt >= retries) throw new RemoteError(failure, { status: response.status });
    const delay = retryAfter ?? retryDelayMs(attempt, options);
    options.onRetry?.(`${failure}; retrying in ${formatMs(delay)} (${attempt + 1}/${retries})`);
    await sleep(delay, options.signal);
  }
}

async function fetchOnce(
  url: string,
  init: { method: string; headers: Headers; body: BodyInit | null },
  options: HttpOptions,
): Promise<Response> {
  const timeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const deadline = new AbortController();
  // The combined signal stays attached to the body, so an interrupt also stops a download.
  const signal = options.signal
    ? AbortSignal.any([options.signal, deadline.signal])
    : deadline.signal;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    deadline.abort();
  }, timeoutMs);
  try {
    return await fetch(url, {
      method: init.method,
      headers: init.headers,
      body: init.body,
      redirect: "manual",
      signal,
    });
  } catch (error) {
    if (options.signal?.aborted) throw new InterruptedError("interrupted", { cause: error });
    if (timedOut) throw new Error(`no response within ${formatMs(timeoutMs)}`);
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A small body as text, under the same stall watchdog as an image, and at most
 * MAX_ANSWER_BYTES once decoded: fetch undoes a Content-Encoding as the bytes arrive, so a small
 * compressed bomb is stopped at the cap instead of filling memory.
 */
export async function readText(response: Response, options: HttpOptions): Promise<string> {
  const tooLarge = () =>
    new RemoteError(
      `${hostOf(response.url)} sent an answer larger than ${MAX_ANSWER_BYTES / 1024 / 1024} MiB ` +
        `(HTTP ${response.status}); it was not read`,
      { status: response.status },
    );
  const announced = Number(response.headers.get("content-length") ?? "0");
  if (!response.headers.has("content-encoding") && announced > MAX_ANSWER_BYTES) {
    await discard(response);
    throw tooLarge();
  }
  const decoder = new TextDecoder();
  const body = bodyReader(response, options);
  let text = "";
  let size = 0;
  try {
    for (let chunk = await body.read(); chunk !== null; chunk = await body.read()) {
      size += chunk.byteLength;
      if (size > MAX_ANSWER_BYTES) throw tooLarge();
      text += decoder.decode(chunk, { stream: true });
    }
  } finally {
    await body.close();
  }
  return text + decoder.decode();
}

/** True for a status that says the server did not do the work and may succeed later. */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || (status >= 500 && status !== 501 && status !== 505);
}

function retryAfterMs(value: string | null): number | null {
  if (value === null) return null;
  const trimmed = value.trim();
  let ms: number;
  if (/^\d+$/.test(trimmed)) {
    ms = Number(trimmed) * 1000;
  } else {
    const date = Date.parse(trimmed);
    if (Number.isNaN(date)) return null;
    ms = date - Date.now();
  }
  return Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS);
}

function redactParams(query: string): string {
  if (query === "") return query;
  return query.split("&").map((pair) => {
    const equals = pair.indexOf("=");
    if (equals < 0) return pair;
    let name = pair.slice(0, equals);
    try {
      name = decodeURIComponent(name.replaceAll("+", " "));
    } catch {
      // keep the raw name for matching
    }
    return CREDENTIAL_PARAM.test(name) ? `${pair.slice(0, equals)}=REDACTED` : pair;
  }).join("&");
}

// Deno's messages look like "fetch failed" with a cause "error sending request for url (<url>):
// client error (Connect): tcp connect error: Connection refused (os error 111)"; keep the tail,
// which says what happened, and never the URL, which may carry a token.
function networkReason(error: unknown): string {
  let message = error instanceof Error ? error.message : String(error);
  if (error instanceof Error && error.cause instanceof Error && /^fetch failed$/i.test(message)) {
    message = error.cause.message;
  }
  message = message
    .replace(/^error sending request for url \(.*?\):\s*/i, "")
    .replace(/^client error \(\w+\):\s*/i, "")
    .replace(/\bhttps?:\/\/[^\s)]+/g, (found) => redactUrl(found));
  return message.split("\n")[0] || "unknown network error";
}

// True when the connection never opened (refused, no such host, TLS handshake), so the server
// cannot have seen the request; after that, a lost connection may follow work it did.
function neverSent(error: unknown): boolean {
  const messages: string[] = [];
  for (let at: unknown = error; at instanceof Error && messages.length < 4; at = at.cause) {
    messages.push(at.message);
  }
  return /client error \(Connect\)|tcp connect error|dns error|connection refused/i.test(
    messages.join(" "),
  );
}

function networkHint(reason: string, options: HttpOptions): string | undefined {
  if (/certificate|UnknownIssuer/i.test(reason)) {
    return "if your site uses its own certificate authority, set DENO_CERT=/path/to/ca.pem";
  }
  if (/InvalidContentType|corrupt message|wrong version number/i.test(reason)) {
    return `the server may speak plain http: ${options.plainHttpHint ?? "use an http:// URL"}`;
  }
  return undefined;
}

function formatMs(ms: number): string {
  return ms < 1000 ? `${ms}ms` : `${Number((ms / 1000).toFixed(1))}s`;
}
