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

// The longest wait a timer can keep (2^31 - 1 ms, about 24.8 days); a longer one fires at once.
const MAX_TIMEOUT_SECONDS = Math.floor((2 ** 31 - 1) / 1000);
const MAX_RETRIES = 100;

/** HTTP behaviour from the environment: SREGISTRY_TIMEOUT (seconds) and SREGISTRY_RETRIES. */
function httpOptions(ctx: Context): HttpOptions {
  const timeout = timeoutSetting(ctx);
  const retries = retriesSetting(ctx);
  return {
    userAgent: `sregistry/${VERSION} (deno ${Deno.version.deno})`,
    connectTimeoutMs: timeout === null ? undefined : timeout,
    stallTimeoutMs: timeout === null ? undefined : timeout,
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

// SREGISTRY_TIMEOUT in milliseconds: above zero (0 would fail every request at once), and at
// most what a timer can wait (a longer value is clamped, and said so).
function timeoutSetting(ctx: Context): number | null {
  const value = ctx.env.SREGISTRY_TIMEOUT?.trim();
  if (value === undefined || value === "") return null;
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds <= 0) {
    throw new UsageError(`SREGISTRY_TIMEOUT must be a number of seconds above 0, not '${value}'`, {
      hint: "unset it for the defaults: 30 s for an answer to start, 60 s for a silent transfer",
    });
  }
  if (seconds > MAX_TIMEOUT_SECONDS) {
    ctx.io.err.line(
      `sregistry: SREGISTRY_TIMEOUT=${value} is longer than the longest wait; using ` +
        `${MAX_TIMEOUT_SECONDS} seconds (about 24 days)`,
    );
    return MAX_TIMEOUT_SECONDS * 1000;
  }
  return Math.max(1, Math.round(seconds * 1000));
}

function retriesSetting(ctx: Context): number | null {
  const value = ctx.env.SREGISTRY_RETRIES?.trim();
  if (value === undefined || value === "") return null;
  const retries = Number(value);
  if (!Number.isInteger(retries) || retries < 0 || retries > MAX_RETRIES) {
    throw new UsageError(
      `SREGISTRY_RETRIES must be a whole number from 0 to ${MAX_RETRIES}, not '${value}'`,
    );
  }
  return retries;
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
