/**
 * What a remote answers is checked here before anything uses it: the shape of every parsed
 * answer, the names it gives (through the same parser as a typed name), the versions it claims
 * (an MD5 is a claim the download must meet, anything else is not trusted), and the URLs it
 * points at (http and https only). A bad answer is the server's fault: a RemoteError (exit 1)
 * naming the server and the HTTP status. Names go into request URLs escaped segment by segment.
 */
import { InvalidNameError, RemoteError } from "../errors.ts";
import {
  type ImageName,
  nameFromParts,
  type NameParts,
  type ParseOptions,
  withVersion,
} from "../core/names.ts";
import { hostOf, httpUrl, type JsonAnswer, notJson, redactUrl } from "../transfer/http.ts";

const MD5 = /^[0-9a-f]{32}$/i;

/** A parsed answer and what it was an answer to, for messages: "the manifest of a/b:c". */
export interface Asked {
  /** The answer. */
  answer: JsonAnswer;
  /** What was asked, e.g. "the manifest of vsoch/hello:latest". */
  what: string;
}

/** The RemoteError for an answer of the wrong shape: what came, what was expected, the status. */
export function wrongShape(
  asked: Asked,
  expected: string,
  got: unknown = asked.answer.value,
): RemoteError {
  const { answer, what } = asked;
  return new RemoteError(
    `${hostOf(answer.url)} answered ${what} with ${describe(got, answer)} instead of ${expected} ` +
      `(HTTP ${answer.status})`,
    { status: answer.status },
  );
}

/** The answer as a JSON object; anything else is a wrongShape error. */
export function objectAnswer(asked: Asked): Record<string, unknown> {
  const value = asked.answer.value;
  if (!isObject(value)) throw wrongShape(asked, "a JSON object");
  return value;
}

/** The answer as a list of JSON objects; anything else is a wrongShape error. */
export function objectList(
  asked: Asked,
  value: unknown = asked.answer.value,
): Record<string, unknown>[] {
  if (!Array.isArray(value)) throw wrongShape(asked, "a list", value);
  for (const item of value) {
    if (!isObject(item)) throw wrongShape(asked, "a list of objects", item);
  }
  return value;
}

/**
 * A text field of an answer's object: its string, or null when it is absent, null or empty;
 * any other type is a wrongShape error.
 */
export function textField(
  asked: Asked,
  record: Record<string, unknown>,
  key: string,
): string | null {
  const value = record[key];
  if (value === undefined || value === null || value === "") return null;
  if (typeof value !== "string") throw wrongShape(asked, `a text '${key}'`, value);
  return value;
}

/** A text field the answer must have. */
export function requiredText(
  asked: Asked,
  record: Record<string, unknown>,
  key: string,
): string {
  const value = textField(asked, record, key);
  if (value === null) throw wrongShape(asked, `an object with a '${key}'`, record);
  return value;
}

// A name a remote answered, checked by the same rules as a typed name; a bad part is the
// server's fault (RemoteError, exit 1), named with the server.
function remoteName(
  parts: NameParts,
  server: string,
  options: ParseOptions = {},
): ImageName {
  try {
    return nameFromParts(parts, options);
  } catch (error) {
    if (!(error instanceof InvalidNameError)) throw error;
    throw new RemoteError(`${server} answered with an unusable name: ${error.message}`, {
      cause: error,
      hint: "the server's answer was refused; nothing was written or downloaded",
    });
  }
}

/** The name a manifest gives an image, with what to check its download against. */
export interface ManifestName {
  /** The name to record, its version the MD5 claimed (or asked for), else none. */
  name: ImageName;
  /** The MD5 the download must have (as the remote or the user wrote it), or null. */
  expectedMd5: string | null;
  /** What the user should know: another image than asked, a version that is no MD5. */
  notes: string[];
}

/**
 * Checks the parts of a name a manifest gives (every one, the version too, through the name
 * parser) against what was asked: an MD5 asked for and another claimed is refused; a claimed
 * version that is not an MD5 is kept out of the name, as nothing could check it.
 */
export function manifestName(server: string, asked: ImageName, parts: NameParts): ManifestName {
  const claimed = parts.version ?? null;
  const claim = md5Claim(claimed);
  const wanted = md5Claim(asked.version);
  if (claim && wanted && claim.toLowerCase() !== wanted.toLowerCase()) {
    throw new RemoteError(
      `${server} answered ${asked.collection}/${asked.name}:${asked.tag}@${asked.version} ` +
        `with version ${claim}, not the one asked for`,
    );
  }
  const checked = remoteName({ ...parts, version: claimed ?? asked.version }, server);
  const name = withVersion(checked, claim ?? wanted);
  const notes = [otherImage(server, asked, name)];
  if (claimed !== null && claim === null) {
    notes.push(
      `${server} gave version ${JSON.stringify(claimed)}, which is not an MD5 sregistry can ` +
        "check; the image is recorded under the MD5 of what was downloaded",
    );
  }
  return {
    name,
    expectedMd5: claim ?? wanted,
    notes: notes.filter((note) => note !== null),
  };
}

// A note when a remote answered with another image than the one asked for, else null.
function otherImage(server: string, asked: ImageName, answered: ImageName): string | null {
  const key = (name: ImageName) => `${name.collection}/${name.name}:${name.tag}`.toLowerCase();
  if (key(asked) === key(answered)) return null;
  return `${server} answered ${key(asked)} with ${key(answered)}; it is recorded under that name`;
}

// The value as an MD5 claim (any case), or null when it is not shaped like one.
function md5Claim(value: string | null | undefined): string | null {
  return value && MD5.test(value) ? value : null;
}

/** An image URL a remote answered: http or https only, refused before any byte is read. */
export function imageUrl(url: string, server: string): string {
  try {
    return httpUrl(url).href;
  } catch (error) {
    throw new RemoteError(
      `${server} gave the image URL ${JSON.stringify(redactUrl(url))}, which is not http(s); ` +
        "nothing was downloaded",
      { cause: error },
    );
  }
}

/**
 * `<collection>/<name>:<tag>[@<version>]` for a request URL, every segment escaped, so no name
 * can leave the API's base path or reach its query.
 */
export function containerPath(name: ImageName): string {
  const collection = name.collection.split("/").map(encodeURIComponent).join("/");
  return `${collection}/${encodeURIComponent(name.name)}:${encodeURIComponent(name.tag)}` +
    (name.version ? `@${encodeURIComponent(name.version)}` : "");
}

/** A copy of an answer with credentials taken out of every URL in it (for keeping as metadata). */
export function withoutCredentials(value: unknown): unknown {
  if (typeof value === "string") {
    return /^https?:\/\//i.test(value) ? redactUrl(value) : value;
  }
  if (Array.isArray(value)) return value.map(withoutCredentials);
  if (isObject(value)) {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, withoutCredentials(item)]),
    );
  }
  return value;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

// "an HTML page (HTTP 200)", "an empty body", "a bare number (400)", "a list", "an object"...
function describe(value: unknown, answer: JsonAnswer): string {
  if (value === undefined) return notJson(answer);
  if (value === null) return "null";
  if (typeof value === "number") return `a bare number (${value})`;
  if (typeof value === "string") return `a bare string`;
  if (typeof value === "boolean") return `a bare ${value}`;
  if (Array.isArray(value)) return value.length === 0 ? "an empty list" : "a list";
  return Object.keys(value as object).length === 0 ? "an empty object" : "an object";
}
