/**
 * Image names: `[registry/]collection/name:tag@version` (reference §4) with the defaults
 * `library` and `latest`. Anything that could leave storage, collide with sregistry's own files,
 * overflow a file name, or hide or confuse what a shell or a terminal shows is refused here, for
 * names users type and names remotes answer alike, so every later path built from an ImageName
 * stays inside storage.
 */
import { InvalidNameError, isPrintableAscii, printable } from "../errors.ts";

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

/**
 * The prefix of sregistry's own files in storage (temporary files, partial downloads,
 * tombstones): no part of a name may start with it, or an image could pass for one of them.
 */
export const RESERVED_PREFIX = ".sregistry-";
/** The longest file or folder name (in UTF-8 bytes) the usual file systems take. */
export const MAX_SEGMENT_BYTES = 255;
// A stored file is `<tag>@<version>.sif`, and a name without a version gets its MD5.
const FILE_SUFFIX = ".sif";
const MD5_LENGTH = 32;

// Image file extensions, which a name may carry and loses (`lolcow.sif` is `lolcow`).
const EXTENSIONS = [".sif", ".simg", ".img"];
let forbidden: RegExp | undefined;
const encoder = new TextEncoder();

// Printable ASCII but space and backslash: what nearly every name is, and none of it forbidden.
function isPlain(text: string): boolean {
  return isPrintableAscii(text) && !text.includes(" ") && !text.includes("\\");
}

// The first character of `input` that no name may hold, or null.
function forbiddenIn(input: string): string | null {
  // Controls, any whitespace, invisible characters (zero-width spaces and joiners, variation
  // selectors, fillers), bidirectional controls, lone surrogates and backslashes would confuse a
  // shell, a terminal or a path.
  // Private-use and unassigned code points (noncharacters among them) have no agreed look at all.
  // Built on first use, as building Unicode property classes costs about a millisecond, which
  // every start-up would pay.
  forbidden ??=
    /[\p{Cc}\p{White_Space}\p{Default_Ignorable_Code_Point}\p{Bidi_Control}\p{Cf}\p{Cs}\p{Co}\p{Cn}\u2800\\]/u;
  return forbidden.exec(input)?.[0] ?? null;
}

/** Parses `[registry/]collection/name[:tag][@version]`; throws InvalidNameError naming the bad part. */
export function parseImageName(typed: string, options: ParseOptions = {}): ImageName {
  const refuse = (why: string) =>
    new InvalidNameError(`invalid image name ${quote(typed)}: ${why}`, {
      hint: "names look like collection/name:tag@version",
    });
  // One spelling of each name: "café" typed either way is one name (NFC). Printable ASCII, what
  // nearly every name is, has one spelling already and no forbidden character.
  const plain = isPlain(typed);
  const input = plain ? typed : typed.normalize("NFC");
  if (input === "") throw refuse("the name is empty");
  const bad = plain ? null : forbiddenIn(input);
  if (bad !== null) throw refuse(`${forbiddenCharacter(bad)} not allowed in a name`);
  if (input.includes("://")) throw refuse("unexpected URI scheme inside the name");
  if (input.startsWith("/")) throw refuse("absolute paths are not names");

  let rest = withoutExtension(input);
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
    if (segment.includes(":") || segment.includes("@")) {
      throw refuse(`':' is not allowed in the collection '${segment}'`);
    }
    checkSegment(segment, "collection", refuse);
  }
  if (registry !== null) {
    checkSegment(registry, "registry", refuse);
    if (!isHostAndPort(registry)) {
      throw refuse(`the registry ${quote(registry)} is not a host name with an optional :port`);
    }
  }
  checkSegment(name, "image name", refuse);
  checkSegment(tag, "tag", refuse);
  const file = `${tag}@${version ?? "0".repeat(MD5_LENGTH)}${FILE_SUFFIX}`;
  if (byteLength(file) > MAX_SEGMENT_BYTES) {
    throw refuse(
      `the tag and version make a file name of ${byteLength(file)} bytes; ` +
        `at most ${MAX_SEGMENT_BYTES} fit a file system`,
    );
  }

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

/** The parts of a name as a remote answers them, each still to be checked. */
export interface NameParts {
  /** Registry host, when the name has one. */
  registry?: string | null;
  /** Collection, possibly nested (`a/b`). */
  collection: string;
  /** Image name. */
  name: string;
  /** Tag. */
  tag: string;
  /** Version, when there is one. */
  version?: string | null;
}

/**
 * Builds a name from separate parts with the same refusals as parseImageName, and refuses a part
 * that would be read as another (a tag holding `@`, a name holding `/`): what a remote answers
 * is checked exactly as what a user types.
 */
export function nameFromParts(parts: NameParts, options: ParseOptions = {}): ImageName {
  const registry = parts.registry ?? null;
  const version = parts.version ?? null;
  const text = (registry === null ? "" : `${registry}/`) +
    `${parts.collection}/${parts.name}:${parts.tag}` + (version === null ? "" : `@${version}`);
  const parsed = parseImageName(text, options);
  const fold = (part: string) => options.keepCase ? part : part.toLowerCase();
  const misread: [string, string, string | null][] = [
    ["registry", parsed.registry ?? "", registry],
    ["collection", parsed.collection, fold(parts.collection)],
    ["image name", parsed.name, fold(parts.name)],
    ["tag", parsed.tag, fold(parts.tag)],
    ["version", parsed.version ?? "", version?.toLowerCase() ?? ""],
  ];
  for (const [what, read, given] of misread) {
    if (read !== (given ?? "")) {
      throw new InvalidNameError(
        `invalid image name ${quote(text)}: the ${what} ${quote(given ?? "")} cannot be part ` +
          "of a name",
        { hint: "names look like collection/name:tag@version" },
      );
    }
  }
  return parsed;
}

// The name without an image file extension, in any case.
function withoutExtension(text: string): string {
  const extension = EXTENSIONS.find((suffix) =>
    text.slice(-suffix.length).toLowerCase() === suffix
  );
  return extension === undefined ? text : text.slice(0, -extension.length);
}

// JSON quoting, plus escapes for what JSON leaves raw (C1 controls, invisible and bidirectional
// characters), so a message never carries one.
function quote(text: string): string {
  return printable(JSON.stringify(text));
}

// What kind of forbidden character `char` is, for the message.
function forbiddenCharacter(char: string): string {
  if (char === "\\") return "backslashes are";
  if (char === " ") return "spaces are";
  if (/\p{Cc}/u.test(char)) return `control character ${quote(char)} is`;
  const code = `U+${char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`;
  if (/\p{White_Space}/u.test(char)) return `whitespace ${code} is`;
  if (/\p{Bidi_Control}/u.test(char)) return `bidirectional control character ${code} is`;
  if (/\p{Cs}/u.test(char)) return `lone surrogate ${code} is`;
  if (/\p{Co}/u.test(char)) return `private-use character ${code} is`;
  if (/\p{Cn}/u.test(char)) return `unassigned character ${code} is`;
  return `invisible character ${code} is`;
}

// As the name is stored: lower-casing can make a segment longer ("İ" is 2 bytes, "i̇" 3).
function byteLength(text: string): number {
  // Printable ASCII, what nearly every name is, takes a byte a character in either case.
  if (isPlain(text)) return text.length;
  return Math.max(encoder.encode(text).byteLength, encoder.encode(text.toLowerCase()).byteLength);
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
  if (segment.toLowerCase().startsWith(RESERVED_PREFIX)) {
    throw refuse(`the ${what} may not start with '${RESERVED_PREFIX}' (sregistry's own files)`);
  }
  if (byteLength(segment) > MAX_SEGMENT_BYTES) {
    throw refuse(
      `the ${what} is ${byteLength(segment)} bytes long; at most ${MAX_SEGMENT_BYTES} fit a ` +
        "file system",
    );
  }
}

// A DNS name or an IPv4/IPv6 address, then an optional port: nothing that could bring userinfo,
// a path, a query or a fragment into a URL built from it.
const HOST_AND_PORT =
  /^(\[[0-9a-f:.]+\]|[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*)(:\d{1,5})?$/i;

/** True when `text` is a host name or address with an optional `:port`, and nothing else. */
export function isHostAndPort(text: string): boolean {
  return HOST_AND_PORT.test(text);
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
  // Most names have no scheme: no regular expression to compile for them.
  if (!uri.includes("://")) return { scheme: null, rest: uri };
  const match = /^([A-Za-z][A-Za-z0-9+._-]*):\/\//.exec(uri);
  if (!match) return { scheme: null, rest: uri };
  return {
    scheme: match[1].toLowerCase().replaceAll("_", "-"),
    rest: uri.slice(match[0].length),
  };
}
