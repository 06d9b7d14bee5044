/**
 * What the black-box tests of registry commands share: an environment pointing the CLI at a fake
 * Singularity Registry Server with env-only credentials, a port nothing listens on, and views of
 * the requests the fake received.
 */
import type { FakeRegistry, RecordedRequest } from "./fake_registry.ts";
import type { TempHome } from "./home.ts";

/** The username the fake accepts by default. */
export const USERNAME = "dino";
/** The token the fake accepts for USERNAME by default. */
export const TOKEN = "sekrit";

/**
 * HOME's environment plus SREGISTRY_REGISTRY_BASE (the origin: the client appends /api),
 * username, token and SREGISTRY_CLIENT=registry; `extra` overrides any of them.
 */
export function registryEnv(
  home: TempHome,
  registry: FakeRegistry,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    ...home.env,
    SREGISTRY_CLIENT: "registry",
    SREGISTRY_REGISTRY_BASE: registry.url,
    SREGISTRY_REGISTRY_USERNAME: USERNAME,
    SREGISTRY_REGISTRY_TOKEN: TOKEN,
    ...extra,
  };
}

/** A 127.0.0.1 port that was just free and has nothing listening on it: a server that is down. */
export function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/**
 * The settings of a registry that is down (nothing listens on its port), as the active client
 * with credentials; `basePath` is appended to its base as users write it ("/api", "/").
 */
export function downRegistryEnv(
  home: TempHome,
  basePath = "",
): { port: number; env: Record<string, string> } {
  const port = closedPort();
  return {
    port,
    env: {
      ...home.env,
      SREGISTRY_CLIENT: "registry",
      SREGISTRY_REGISTRY_BASE: `http://127.0.0.1:${port}${basePath}`,
      SREGISTRY_REGISTRY_USERNAME: USERNAME,
      SREGISTRY_REGISTRY_TOKEN: TOKEN,
      SREGISTRY_RETRIES: "0",
    },
  };
}

/** `METHOD path` of every request the fake received, in order. */
export function requestLines(registry: FakeRegistry, from = 0): string[] {
  return registry.requests.slice(from).map((seen) => `${seen.method} ${seen.path}`);
}

/** Requests with a given method whose path starts with `prefix`. */
export function requestsTo(
  registry: FakeRegistry,
  method: string,
  prefix: string,
): RecordedRequest[] {
  return registry.requests.filter((seen) => seen.method === method && seen.path.startsWith(prefix));
}

/** The server's current UTC hour stamp, `%Y%m%dT%HZ`, as signatures carry it. */
export function hourStamp(date = new Date()): string {
  const iso = date.toISOString();
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}T${iso.slice(11, 13)}Z`;
}

/** A regular expression for an Authorization header signed for `kind` by USERNAME. */
export function signedFor(kind: string, username = USERNAME): RegExp {
  return new RegExp(
    `^SREGISTRY-HMAC-SHA256 Credential=${kind}/${btoa(username)}/\\d{8}T\\d{2}Z,` +
      "Signature=[0-9a-f]{64}$",
  );
}

/** MD5 hex and size of a file, computed by `md5sum` (an independent implementation). */
export async function md5sum(path: string): Promise<{ md5: string; size: number }> {
  const output = await new Deno.Command("md5sum", { args: [path], stdout: "piped" }).output();
  if (!output.success) throw new Error(`md5sum ${path} failed`);
  const md5 = new TextDecoder().decode(output.stdout).split(/\s+/)[0];
  return { md5, size: (await Deno.stat(path)).size };
}
