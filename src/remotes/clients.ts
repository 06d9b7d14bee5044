/**
 * Scheme → client: the only file that knows every client. A URI's scheme wins, then
 * SREGISTRY_CLIENT / the active backend, then `hub`. Adding a client means one entry here.
 */
import { InvalidNameError, UnsupportedError, UsageError } from "../errors.ts";
import { splitScheme } from "../core/names.ts";
import type { Capability, ClientEnvironment, RemoteClient } from "./client.ts";
import { hubClient } from "./hub.ts";
import { urlClient } from "./url.ts";
import { registryClient } from "./registry_server.ts";
import { orasClient } from "./oras.ts";

const FACTORIES: Record<string, (environment: ClientEnvironment, scheme: string) => RemoteClient> =
  {
    hub: hubClient,
    registry: registryClient,
    oras: orasClient,
    http: urlClient,
    https: urlClient,
  };

// Schemes that name a client differently (`shub://` is Singularity Hub's own).
const ALIASES: Record<string, string> = { shub: "hub" };

/** The client for a URI and the URI without its scheme. */
export interface ChosenClient {
  /** The client. */
  client: RemoteClient;
  /** The URI without `scheme://` (for URL clients, the whole URL). */
  rest: string;
}

/**
 * Picks the client for `uri`: by scheme, else `fallback` (the active client). A name for a
 * registry client that carries credentials (`user:password@host/...`) is refused here, before
 * any message could quote it; only plain URLs may carry them.
 */
export function chooseClient(
  uri: string,
  fallback: string,
  environment: ClientEnvironment,
): ChosenClient {
  const { scheme, rest } = splitScheme(uri);
  if (scheme === null) {
    return { client: withoutCredentials(clientNamed(fallback, environment), rest), rest };
  }
  const name = ALIASES[scheme] ?? scheme;
  const factory = FACTORIES[name];
  if (!factory) {
    throw new UsageError(`unknown scheme '${scheme}://'`, {
      hint: `known schemes: ${knownSchemes().join(", ")}`,
    });
  }
  if (name === "http" || name === "https") {
    return { client: factory(environment, scheme), rest: uri };
  }
  return { client: withoutCredentials(factory(environment, scheme), rest), rest };
}

// The client, unless the name holds `user:password@` before a host.
function withoutCredentials(client: RemoteClient, rest: string): RemoteClient {
  if (!/^[^/]*@[^/]*\//.test(rest)) return client;
  throw new InvalidNameError(
    `a ${client.name}:// name cannot carry credentials (user:password@); it was not used or shown`,
    {
      hint: client.name === "oras"
        ? "log in once with 'sregistry login <host>', or set SREGISTRY_ORAS_USERNAME and " +
          "SREGISTRY_ORAS_PASSWORD"
        : "credentials come from the secrets file or the environment (see README)",
    },
  );
}

/** The client of a name (SREGISTRY_CLIENT or the active backend). */
export function clientNamed(name: string, environment: ClientEnvironment): RemoteClient {
  const key = clientKey(name);
  if (key === null) {
    throw new UnsupportedError(`'${name}' is not a client sregistry knows`, {
      hint: `set SREGISTRY_CLIENT to one of: ${clientNames().join(", ")}`,
    });
  }
  return FACTORIES[key](environment, key);
}

/**
 * The client a record names (`http` and `https` too; `shub` means `hub`), or null when sregistry
 * has none by that name (a record the Python client made with one of its other clients).
 */
export function recordClient(name: string, environment: ClientEnvironment): RemoteClient | null {
  const key = Object.hasOwn(ALIASES, name) ? ALIASES[name] : name;
  return Object.hasOwn(FACTORIES, key) ? FACTORIES[key](environment, key) : null;
}

/** The clients a backend, SREGISTRY_CLIENT or `shell` may name (plain URLs are no backend). */
export function clientNames(): string[] {
  return Object.keys(FACTORIES).filter((name) => name !== "http" && name !== "https");
}

/** The client a name means (`shub` means `hub`), or null when `clientNamed` builds none. */
export function clientKey(name: string): string | null {
  const key = ALIASES[name] ?? name;
  return clientNames().includes(key) ? key : null;
}

/** Throws UnsupportedError unless the client supports `operation`. */
export function requireCapability(client: RemoteClient, operation: Capability): void {
  if (client.capabilities.has(operation)) return;
  const able = Object.entries(FACTORIES)
    .filter(([name]) => !name.startsWith("http") || operation === "pull")
    .map(([name, factory]) => ({ name, client: factory(DUMMY_ENVIRONMENT, name) }))
    .filter((candidate) => candidate.client.capabilities.has(operation))
    .map((candidate) => candidate.name);
  const verb = operation === "labels" ? "search labels" : operation;
  throw new UnsupportedError(`the ${client.name} client cannot ${verb}`, {
    hint: able.length ? `clients that can: ${able.join(", ")}` : undefined,
  });
}

/** Every scheme `chooseClient` accepts. */
export function knownSchemes(): string[] {
  return [...Object.keys(FACTORIES), ...Object.keys(ALIASES)].map((scheme) => `${scheme}://`);
}

// Clients are cheap to build and read nothing until used, so capabilities can be asked of one
// built over an empty environment.
const DUMMY_ENVIRONMENT: ClientEnvironment = {
  env: {},
  secrets: () => ({ path: "", data: {}, problem: null }),
  http: { userAgent: "" },
};
