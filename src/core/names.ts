/**
 * Image names: `[registry/]collection/name:tag@version` (reference §4) with the defaults
 * `library` and `latest`. Anything that could leave storage or confuse a shell is refused here,
 * so every later path built from an ImageName stays inside storage.
 */
import { InvalidNameError } from "../errors.ts";

/** A parsed image name. */
export interface ImageName {
  /** Registry host (with port) when the name starts with one, else null. */
  registry: string | null;
  /** Collection, possibly nested (`a/b`). */
  collection: string;
  /** Image (repository) name. */
  name: string;
  /** Tag, `latest` by default. */
  tag: string;
  /** Version (an MD5 for images sregistry hashed), or null when the name has none. */
  version: string | null;
}

/** Options of parseImageName. */
export interface ParseOptions {
  /** Keep the case of collection, name and tag (Singularity Hub URLs are case-sensitive). */
  keepCase?: boolean;
}

const EXTENSION = /\.(sif|simg|img)$/i;
// Control characters, whitespace and backslashes would confuse a shell or a path.
// deno-lint-ignore no-control-regex
const FORBIDDEN = /[\u0000-\u0020\u007f-\u009f\\]/;

/** Parses `[registry/]collection/name[:tag][@version]`; throws InvalidNameError naming the bad part. */
export function parseImageName(input: string, options: ParseOptions = {}): ImageName {
  const refuse = (why: string) =>
    new InvalidNameError(`invalid image name ${quote(input)}: ${why}`, {
      hint: "names look like collection/name:tag@version",
    });
  if (input === "") throw refuse("the name is empty");
  const forbidden = FORBIDDEN.exec(input);
  if (forbidden) {
    const char = forbidden[0];
    const what = char === "\\"
      ? "backslashes are"
      : /\s/.test(char) && char >= " "
      ? "spaces are"
      : `control character ${quote(char)} is`;
    throw refuse(`${what} not allowed in a name`);
  }
  if (input.includes("://")) throw refuse("unexpected URI scheme inside the name");
  if (input.startsWith("/")) throw refuse("absolute paths are not names");

  let rest = input.replace(EXTENSION, "");
  let version: string | null = null;
  const at = rest.indexOf("@");
  if (at !== -1) {
    version = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (version === "") throw refuse("the version after '@' is empty");
    if (version.includes("/")) throw refuse("'/' is not allowed in a version");
    checkSegment(version, "version", refuse);
  }
  if (rest === "") throw refuse("the image name is empty");

  const segments = rest.split("/");
  if (segments.some((segment) => segment === "")) {
    throw refuse("empty path segment ('//' or a trailing '/')");
  }
  const last = segments.pop()!;
  const colon = last.indexOf(":");
  const name = colon === -1 ? last : last.slice(0, colon);
  const tag = colon === -1 ? "latest" : last.slice(colon + 1);
  if (name === "") throw refuse("the image name is empty");
  if (colon !== -1 && tag === "") throw refuse("the tag after ':' is empty");
  if (tag.includes(":")) throw refuse("a name can have only one ':tag'");

  let registry: string | null = null;
  if (segments.length > 0 && isRegistryHost(segments[0])) registry = segments.shift()!;
  for (const segment of segments) {
    if (/[:@]/.test(segment)) throw refuse(`':' is not allowed in the collection '${segment}'`);
    checkSegment(segment, "collection", refuse);
  }
  if (registry !== null) checkSegment(registry, "registry", refuse);
  checkSegment(name, "image name", refuse);
  checkSegment(tag, "tag", refuse);

  const collection = segments.length > 0 ? segments.join("/") : "library";
  const fold = (text: string) => options.keepCase ? text : text.toLowerCase();
  return {
    registry,
    collection: fold(collection),
    name: fold(name),
    tag: fold(tag),
    version: version === null ? null : version.toLowerCase(),
  };
}

// JSON quoting, plus the DEL and C1 controls JSON leaves raw, so a message never carries one.
function quote(text: string): string {
  return JSON.stringify(text).replace(
    /[\u007f-\u009f]/g,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

function checkSegment(
  segment: string,
  what: string,
  refuse: (why: string) => InvalidNameError,
): void {
  if (segment === "." || segment === "..") {
    throw refuse(`'${segment}' is not allowed in a name (${what})`);
  }
  if (segment.startsWith("-")) throw refuse(`the ${what} may not start with '-'`);
}

/** Docker's rule: a first segment is a registry host when it has a dot or a port, or is localhost. */
export function isRegistryHost(segment: string): boolean {
  return segment.includes(".") || segment.includes(":") || segment === "localhost";
}

/** Formats a name as `[registry/]collection/name:tag[@version]`. */
export function formatImageName(
  image: ImageName,
  options: { withVersion?: boolean } = {},
): string {
  const base = `${collectionKey(image)}/${image.name}:${image.tag}`;
  return options.withVersion !== false && image.version ? `${base}@${image.version}` : base;
}

/** The collection as stored in the database: the registry host, when any, is part of it. */
export function collectionKey(image: ImageName): string {
  return image.registry ? `${image.registry}/${image.collection}` : image.collection;
}

/** A name with its version replaced. */
export function withVersion(image: ImageName, version: string | null): ImageName {
  return { ...image, version: version === null ? null : version.toLowerCase() };
}

/** A URI split into its lower-cased scheme (`hub`, `https`, ...) and the rest. */
export interface SchemeSplit {
  /** Scheme without `://`, lower-cased, `_` as `-`; null when there is none. */
  scheme: string | null;
  /** The text after `://`, or the whole input. */
  rest: string;
}

/** Splits a leading `scheme://` from a URI. */
export function splitScheme(uri: string): SchemeSplit {
  const match = /^([A-Za-z][A-Za-z0-9+._-]*):\/\//.exec(uri);
  if (!match) return { scheme: null, rest: uri };
  return {
    scheme: match[1].toLowerCase().replaceAll("_", "-"),
    rest: uri.slice(match[0].length),
  };
}
