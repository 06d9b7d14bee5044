/**
 * Reading what an OCI registry or its token service answers: every body under a cap, counted
 * after any Content-Encoding was undone (so a compressed bomb stops at the cap), and error
 * bodies turned into one line (`CODE: message`) that never quotes the raw body.
 */
import { RemoteError } from "../errors.ts";
import { bodyReader, discard, type HttpOptions, redactUrl, statusLine } from "../transfer/http.ts";

/** The cap on a manifest: the distribution spec's minimum a registry must accept (4 MiB). */
export const MANIFEST_CAP = 4 * 1024 * 1024;
/** The cap on one page of a tag list or catalog. */
export const LISTING_CAP = 4 * 1024 * 1024;
/** The cap on a token service's answer. */
export const TOKEN_CAP = 1024 * 1024;
/** The cap on an error body (only its first error is shown). */
const ERROR_CAP = 64 * 1024;
// Control characters in a registry's message would reach the terminal.
// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

/** The whole body, or a RemoteError once it passes `cap` bytes (the rest is not read). */
export async function readCapped(
  response: Response,
  cap: number,
  http: HttpOptions,
): Promise<Uint8Array> {
  const declared = Number(response.headers.get("content-length") ?? NaN);
  if (!response.headers.has("content-encoding") && declared > cap) {
    await discard(response);
    throw tooLarge(response, cap);
  }
  const body = bodyReader(response, http);
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (let chunk = await body.read(); chunk !== null; chunk = await body.read()) {
      size += chunk.byteLength;
      if (size > cap) throw tooLarge(response, cap);
      chunks.push(chunk.slice());
    }
  } finally {
    await body.close();
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

/** The body as JSON under `cap`; a RemoteError when it is not JSON. */
export async function readJson(
  response: Response,
  cap: number,
  http: HttpOptions,
): Promise<unknown> {
  const bytes = await readCapped(response, cap, http);
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new RemoteError(`${redactUrl(response.url)} answered with malformed JSON`, {
      status: response.status,
    });
  }
}

/**
 * What an error answer says, in one line: the first `{"errors":[{"code","message"}]}` entry, else
 * the status line. Reads (and releases) the body.
 */
export async function errorText(response: Response, http: HttpOptions): Promise<string> {
  let body: unknown = null;
  try {
    body = JSON.parse(new TextDecoder().decode(await readCapped(response, ERROR_CAP, http)));
  } catch {
    // Not JSON, too large or cut short: the status line says enough.
  }
  const first = isObject(body) && Array.isArray(body.errors) && isObject(body.errors[0])
    ? body.errors[0]
    : null;
  const code = first && typeof first.code === "string" ? first.code : null;
  const message = first && typeof first.message === "string" ? first.message : null;
  const said = [code, message].filter((part) => part !== null).join(": ").slice(0, 200)
    .replace(CONTROL, " ");
  return said === "" ? statusLine(response) : `${statusLine(response)} (${said})`;
}

/** Whether a value is a plain JSON object. */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function tooLarge(response: Response, cap: number): RemoteError {
  return new RemoteError(
    `${redactUrl(response.url)} answered with more than ${cap / 1024 / 1024} MiB, more than ` +
      "sregistry reads of such an answer",
    { status: response.status },
  );
}
