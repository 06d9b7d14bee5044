/**
 * What remote commands share: the client environment (HTTP options from settings, the interrupt
 * signal, retry notes on stderr) and choosing the client for a URI.
 */
import type { Context } from "../context.ts";
import { UsageError } from "../errors.ts";
import type { ClientEnvironment } from "../remotes/client.ts";
import type { Capability, RemoteClient } from "../remotes/client.ts";
import type { ChosenClient } from "../remotes/clients.ts";
import type { HttpOptions } from "../transfer/http.ts";
import { VERSION } from "../version.ts";
import { activeClient, printBanner } from "./common.ts";

/** HTTP behaviour from the environment: SREGISTRY_TIMEOUT (seconds) and SREGISTRY_RETRIES. */
function httpOptions(ctx: Context): HttpOptions {
  const timeout = numberSetting(ctx, "SREGISTRY_TIMEOUT");
  const retries = numberSetting(ctx, "SREGISTRY_RETRIES");
  return {
    userAgent: `sregistry/${VERSION} (deno ${Deno.version.deno})`,
    connectTimeoutMs: timeout === null ? undefined : timeout * 1000,
    stallTimeoutMs: timeout === null ? undefined : timeout * 1000,
    retries: retries ?? undefined,
    signal: ctx.interrupts(),
    onRetry: (message) => {
      if (!ctx.flags.quiet) ctx.io.err.line(`sregistry: ${message}`);
    },
  };
}

/** The environment remote clients are built over. */
export function clientEnvironment(ctx: Context): ClientEnvironment {
  return { env: ctx.env, secrets: () => ctx.secrets(), http: httpOptions(ctx) };
}

/**
 * Chooses the client for a URI and prints the banner for it; `http` is the HTTP behaviour the
 * client was built with, for transfers the command runs itself. The remote side is loaded here,
 * on first use, so that local commands do not pay its start-up cost.
 */
export async function remoteFor(
  ctx: Context,
  uri: string,
  options: { json?: boolean } = {},
): Promise<ChosenClient & { http: HttpOptions }> {
  const { chooseClient } = await import("../remotes/clients.ts");
  const environment = clientEnvironment(ctx);
  const chosen = chooseClient(uri, activeClient(ctx), environment);
  if (!options.json) printBanner(ctx, chosen.client.name);
  return { ...chosen, http: environment.http };
}

function numberSetting(ctx: Context, name: string): number | null {
  const value = ctx.env[name];
  if (value === undefined || value === "") return null;
  const number = Number(value);
  if (!Number.isFinite(number) || number < 0) {
    throw new UsageError(`${name} must be a non-negative number, not '${value}'`);
  }
  return number;
}

/** The client named `name` (SREGISTRY_CLIENT or the active backend). */
export async function namedClient(ctx: Context, name: string): Promise<RemoteClient> {
  const { clientNamed } = await import("../remotes/clients.ts");
  return clientNamed(name, clientEnvironment(ctx));
}

/**
 * The client a user named (`backend activate`, `backend add`, `shell`), as its canonical
 * lower-case name (`shub://` is `hub`); a UsageError naming the known clients when there is none.
 */
export async function clientArgument(name: string): Promise<string> {
  const { clientKey, clientNames } = await import("../remotes/clients.ts");
  const client = clientKey(name.trim().replace(/:\/\/$/, "").toLowerCase());
  if (client === null) {
    throw new UsageError(`'${name}' is not a client sregistry knows`, {
      hint: `known clients: ${clientNames().join(", ")}`,
    });
  }
  return client;
}

/** Throws UnsupportedError unless the client supports `operation`. */
export async function requireCapability(
  client: RemoteClient,
  operation: Capability,
): Promise<void> {
  (await import("../remotes/clients.ts")).requireCapability(client, operation);
}
