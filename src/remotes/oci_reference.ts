/**
 * OCI references (`oras://[host[:port]/]repository[:tag][@sha256:<hex>]`) by Docker's reference
 * grammar: a name outside it is refused before any request, naming the part that is wrong. A
 * reference maps to an sregistry name (the host a leading folder) only when names.ts agrees.
 */
import { InvalidNameError, printable } from "../errors.ts";
import { type ImageName, isRegistryHost, parseImageName } from "../core/names.ts";

/** A parsed OCI reference. */
export interface OciReference {
  /** `host[:port]`, lower-cased; `docker.io` for Docker Hub. */
  registry: string;
  /** Repository path, e.g. `lab/tools`; Docker Hub's one-part names get `library/`. */
  repository: string;
  /** The tag; null only when the reference names a digest and no tag. */
  tag: string | null;
  /** `sha256:<hex>` of a manifest, or null. */
  digest: string | null;
}

/** Docker Hub's name in references and records. */
const DOCKER_HUB = "docker.io";
/** Docker Hub's API host. */
const DOCKER_HUB_API = "registry-1.docker.io";
const DOCKER_HUB_ALIASES = new Set(["docker.io", "index.docker.io", "registry-1.docker.io"]);

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;
const DOMAIN_PART = /^(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])$/;
const PORT = /^[0-9]{1,5}$/;
const MAX_NAME = 255;

/** True for a tag of the OCI grammar: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`. */
export function isOciTag(text: string): boolean {
  return TAG.test(text);
}

/** True for a repository of the OCI grammar: lower-case components joined by `/`. */
export function isOciRepository(text: string): boolean {
  return text.length <= MAX_NAME && text.split("/").every((part) => COMPONENT.test(part));
}

/**
 * Parses a reference (without `oras://`); throws InvalidNameError naming the wrong part. A
 * reference holding credentials (`user:password@host/...`) is refused without being quoted.
 */
export function parseOciReference(text: string): OciReference {
  const refuse = (why: string, hint?: string) =>
    new InvalidNameError(`invalid oras:// reference ${printable(JSON.stringify(text))}: ${why}`, {
      hint: hint ?? "references look like oras://host[:port]/repository[:tag][@sha256:<digest>]",
    });
  if (text === "") throw refuse("it is empty");
  let rest = text;
  let digest: string | null = null;
  const at = rest.lastIndexOf("@");
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    // What comes before '@' may be a password: nothing of the reference is shown.
    if (digest.includes("/") || rest.includes("@")) throw credentialsRefused(digest);
    if (!DIGEST.test(digest)) {
      throw new InvalidNameError(
        `invalid oras:// reference: '${printable(digest)}' after '@' is not a digest ` +
          "(sha256:<64 lower-case hex digits>)",
        { hint: "credentials never go in a reference: log in with 'sregistry login <host>'" },
      );
    }
  }
  let tag: string | null = null;
  const colon = rest.lastIndexOf(":");
  if (colon > rest.lastIndexOf("/")) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) {
      throw refuse(
        `the tag '${tag}' is not valid`,
        "a tag is up to 128 letters, digits, '_', '.' and '-', not starting with '.' or '-'",
      );
    }
  }
  const parts = rest.split("/");
  let registry = DOCKER_HUB;
  if (parts.length > 1 && isRegistryHost(parts[0])) {
    registry = checkHost(parts.shift()!, refuse);
  }
  if (parts.some((part) => part === "")) throw refuse("the repository has an empty component");
  for (const part of parts) {
    if (!COMPONENT.test(part)) {
      throw refuse(
        `the repository component '${part}' is not valid`,
        "repository components are lower-case letters and digits, joined by '.', '_', '__' or '-'",
      );
    }
  }
  if (DOCKER_HUB_ALIASES.has(registry)) {
    registry = DOCKER_HUB;
    if (parts.length === 1) parts.unshift("library");
  }
  const repository = parts.join("/");
  if (registry.length + 1 + repository.length > MAX_NAME) {
    throw refuse(`the name is longer than ${MAX_NAME} characters`);
  }
  return { registry, repository, tag: tag ?? (digest === null ? "latest" : null), digest };
}

/** Checks a registry host as `login` and `search` take it: `host[:port]`, maybe after oras://. */
export function parseRegistryHost(text: string): string {
  const host = text.replace(/^oras:\/\//i, "").replace(/\/+$/, "");
  if (host.includes("@")) throw credentialsRefused(host.slice(host.lastIndexOf("@") + 1));
  const refuse = (why: string) =>
    new InvalidNameError(`invalid registry host ${printable(JSON.stringify(text))}: ${why}`, {
      hint: "give the host and port only, e.g. registry.example.org or localhost:5000",
    });
  if (host === "") throw refuse("it is empty");
  if (host.includes("/")) throw refuse("a host has no path");
  const checked = checkHost(host, refuse);
  return DOCKER_HUB_ALIASES.has(checked) ? DOCKER_HUB : checked;
}

/** `host/repository[:tag][@digest]`, as `oras://` URIs and messages show it. */
export function formatOciReference(reference: OciReference): string {
  return `${reference.registry}/${reference.repository}` +
    (reference.tag === null ? "" : `:${reference.tag}`) +
    (reference.digest === null ? "" : `@${reference.digest}`);
}

/** The host requests go to: Docker Hub's API host for `docker.io`, else the registry itself. */
export function apiHost(registry: string): string {
  return registry === DOCKER_HUB ? DOCKER_HUB_API : registry;
}

/** Every spelling of a registry that credentials may be filed under (Docker Hub has several). */
export function registryAliases(registry: string): string[] {
  return DOCKER_HUB_ALIASES.has(registry) ? [...DOCKER_HUB_ALIASES] : [registry];
}

/** True for hosts that never leave the machine: localhost, *.localhost, 127.0.0.0/8, ::1. */
export function isLoopbackHost(host: string): boolean {
  const name = hostName(host).toLowerCase();
  return name === "localhost" || name.endsWith(".localhost") || name === "::1" ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name);
}

/** The host without its port, and without brackets for IPv6. */
export function hostName(host: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(host);
  if (bracketed) return bracketed[1];
  return host.replace(/:\d+$/, "");
}

/**
 * The sregistry name a reference is recorded under: the host a leading folder, the repository's
 * last component the image name, the tag in lower case (`sha256-<hex>` for a digest without a
 * tag). Null when the name parser does not agree part for part (a tag ending in `.sif`, which a
 * name drops): such an image can be pulled into a file, pushed and deleted, but not recorded.
 */
export function recordedName(reference: OciReference): ImageName | null {
  const tag = reference.tag ?? reference.digest!.replace(":", "-");
  let name: ImageName;
  try {
    name = parseImageName(`${reference.registry}/${reference.repository}:${tag}`);
  } catch (error) {
    if (error instanceof InvalidNameError) return null;
    throw error;
  }
  const slash = reference.repository.lastIndexOf("/");
  const collection = slash === -1 ? "library" : reference.repository.slice(0, slash);
  const expected = reference.repository.slice(slash + 1);
  const agrees = name.registry === reference.registry && name.collection === collection &&
    name.name === expected && name.tag === tag.toLowerCase();
  return agrees ? name : null;
}

// A reference with `user:password@` in it: refused, showing only the host after the '@'.
function credentialsRefused(after: string): InvalidNameError {
  const host = after.split("/")[0];
  const login = /^[A-Za-z0-9.-]+(?::\d{1,5})?$/.test(host)
    ? `sregistry login ${host}`
    : "sregistry login <host>";
  return new InvalidNameError(
    "an oras:// reference cannot carry credentials (user:password@); it was not used or shown",
    {
      hint:
        `log in once with '${login}', or set SREGISTRY_ORAS_USERNAME and SREGISTRY_ORAS_PASSWORD`,
    },
  );
}

function checkHost(host: string, refuse: (why: string) => InvalidNameError): string {
  const bracketed = /^\[([0-9A-Fa-f:.]+)\](?::([0-9]+))?$/.exec(host);
  let port: string | undefined;
  if (bracketed) {
    port = bracketed[2];
  } else {
    const colon = host.lastIndexOf(":");
    const name = colon === -1 ? host : host.slice(0, colon);
    port = colon === -1 ? undefined : host.slice(colon + 1);
    if (!name.split(".").every((part) => DOMAIN_PART.test(part))) {
      throw refuse(`the registry host '${name}' is not a valid host name`);
    }
  }
  if (port !== undefined && (!PORT.test(port) || Number(port) > 65535 || Number(port) === 0)) {
    throw refuse(`the registry port '${port}' is not a port number`);
  }
  return host.toLowerCase();
}
