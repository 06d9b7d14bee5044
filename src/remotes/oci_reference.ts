/**
 * OCI references (`oras://[host[:port]/]repository[:tag][@sha256:<hex>]`) by Docker's reference
 * grammar: a name outside it is refused before any request, naming the part that is wrong. A
 * reference maps to an sregistry name (the host a leading folder) only when names.ts agrees.
 */
import { InvalidNameError } from "../errors.ts";
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

/** Parses a reference (without `oras://`); throws InvalidNameError naming the wrong part. */
export function parseOciReference(text: string): OciReference {
  const refuse = (why: string, hint?: string) =>
    new InvalidNameError(`invalid oras:// reference ${JSON.stringify(text)}: ${why}`, {
      hint: hint ?? "references look like oras://host[:port]/repository[:tag][@sha256:<digest>]",
    });
  if (text === "") throw refuse("it is empty");
  let rest = text;
  let digest: string | null = null;
  const at = rest.indexOf("@");
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) {
      throw refuse(`the digest '${digest}' is not sha256:<64 lower-case hex digits>`);
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
  const refuse = (why: string) =>
    new InvalidNameError(`invalid registry host ${JSON.stringify(text)}: ${why}`, {
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
 * last component the image name, the tag (`sha256-<hex>` for a digest without a tag). The name
 * parser must agree part for part, or the reference is refused.
 */
export function recordedName(reference: OciReference): ImageName {
  const tag = reference.tag ?? reference.digest!.replace(":", "-");
  const text = `${reference.registry}/${reference.repository}:${tag}`;
  const name = parseImageName(text);
  const slash = reference.repository.lastIndexOf("/");
  const collection = slash === -1 ? "library" : reference.repository.slice(0, slash);
  const expected = reference.repository.slice(slash + 1);
  if (
    name.registry !== reference.registry || name.collection !== collection ||
    name.name !== expected || name.tag !== tag.toLowerCase()
  ) {
    throw new InvalidNameError(`${text} cannot be kept under an sregistry name`, {
      hint: "pull it with --name <file> to save it without a record",
    });
  }
  return name;
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
