/**
 * Talking to one OCI registry: its base URL (https always; plain http only for loopback hosts
 * and hosts marked insecure, after https failed), a ping that learns its challenge, and requests
 * that carry the Authorization its scopes need, retried once after a 401 that names new scopes.
 * Credentials go only to the registry's own origin; other origins get no Authorization.
 */
import { RemoteError } from "../errors.ts";
import { discard, type HttpOptions, type HttpRequestInit, request } from "../transfer/http.ts";
import type { Authorizer } from "../transfer/download.ts";
import { RegistryAuth } from "./oci_auth.ts";
import type { RegistryCredential } from "./oci_credentials.ts";
import { errorText } from "./oci_http.ts";
import { apiHost, isLoopbackHost } from "./oci_reference.ts";

/** How a session reaches its registry. */
export interface SessionOptions {
  /** `host[:port]` as in references (`docker.io` for Docker Hub). */
  registry: string;
  /** HTTP behaviour. */
  http: HttpOptions;
  /** Whether the user marked this registry insecure (plain http allowed). */
  insecure: boolean;
  /** Whether another host is marked insecure (a token realm may be on one). */
  insecureHost: (host: string) => boolean;
  /** The credentials, looked up on first need. */
  credential: () => RegistryCredential | null;
}

/** A request to the registry: a path under its origin (`/v2/...`) or an absolute URL. */
export interface RegistryRequest extends HttpRequestInit {
  /** The scopes the request needs, e.g. `repository:lab/tools:pull`. */
  scopes: string[];
}

/** One registry's connection: origin, auth, requests. */
export class OciSession {
  /** The registry as named in references. */
  readonly registry: string;
  /** The authenticator (its token cache lasts as long as the session). */
  readonly auth: RegistryAuth;
  /** HTTP behaviour of every request. */
  readonly http: HttpOptions;
  readonly #options: SessionOptions;
  #origin: Promise<string> | null = null;

  constructor(options: SessionOptions) {
    this.registry = options.registry;
    this.http = {
      ...options.http,
      plainHttpHint:
        `only if you trust the network to it, set SREGISTRY_ORAS_NOHTTPS=${options.registry}`,
    };
    this.#options = options;
    this.auth = new RegistryAuth({
      registry: options.registry,
      http: this.http,
      credential: options.credential,
      mayReceiveSecrets: (url) =>
        url.protocol === "https:" || isLoopbackHost(url.host) || options.insecureHost(url.host),
    });
  }

  /** The registry's origin, e.g. `https://ghcr.io`; pings it on first use. */
  origin(): Promise<string> {
    this.#origin ??= this.#ping();
    return this.#origin;
  }

  /** An absolute URL for a path under the registry, or an address it gave, resolved. */
  async url(target: string): Promise<URL> {
    return new URL(target, await this.origin());
  }

  /** The Authorization header (as a header object) for `scopes`, for requests made elsewhere. */
  async headers(scopes: string[], target: URL): Promise<Record<string, string>> {
    const header = await this.auth.header(scopes, target);
    return header === null ? {} : { authorization: header };
  }

  /**
   * Authorization for requests made elsewhere (a blob download), asked for before each of them:
   * a cached token until shortly before it expires, then a new one. After a 401 from the
   * registry itself whose challenge can be met, a new header once; null when there is none.
   */
  authorizer(scopes: string[], target: URL): Authorizer {
    let wanted = scopes;
    let last: string | null = null;
    return async (refused): Promise<Record<string, string> | null> => {
      if (refused !== null) {
        const own = new URL(refused.url || target.href).origin === await this.origin();
        const asked = own ? this.auth.learn(refused, last) : null;
        if (asked === null) return null;
        wanted = [...wanted, ...asked];
      }
      const header = await this.auth.header(wanted, target);
      if (refused !== null && (header === null || header === last)) return null;
      last = header;
      return header === null ? {} : { authorization: header };
    };
  }

  /**
   * Sends a request with the Authorization its scopes need. A 401 whose challenge can be met
   * (a first challenge, new scopes, an expired token) is retried once, unless the body was a
   * stream; any other answer is returned as it is.
   */
  async send(target: string, init: RegistryRequest): Promise<Response> {
    const url = await this.url(target);
    const own = url.origin === await this.origin();
    let scopes = init.scopes;
    const attempt = async (header: string | null) =>
      await request(url.href, {
        ...init,
        headers: { ...init.headers, ...(header === null ? {} : { authorization: header }) },
      }, this.http);
    const first = own ? await this.auth.header(scopes, url) : null;
    const response = await attempt(first);
    if (response.status !== 401 || !own || init.body instanceof ReadableStream) return response;
    const asked = this.auth.learn(response, first);
    if (asked === null) return response;
    scopes = [...scopes, ...asked];
    const next = await this.auth.header(scopes, url);
    if (next === null || next === first) return response;
    await discard(response);
    return await attempt(next);
  }

  async #ping(): Promise<string> {
    const host = apiHost(this.registry);
    const plainAllowed = this.#options.insecure || isLoopbackHost(host);
    const secure = `https://${host}`;
    let response: Response;
    try {
      // Where plain http is allowed, https is still tried first, without retries.
      response = await request(
        `${secure}/v2/`,
        {},
        plainAllowed ? { ...this.http, retries: 0 } : this.http,
      );
    } catch (error) {
      // A certificate problem means the registry speaks https: say that, not an http failure.
      const tls = error instanceof Error && /certificate|UnknownIssuer/i.test(error.message);
      if (!plainAllowed || !(error instanceof RemoteError) || error.status !== undefined || tls) {
        throw error;
      }
      const plain = `http://${host}`;
      return await this.#learn(plain, await request(`${plain}/v2/`, {}, this.http));
    }
    return await this.#learn(secure, response);
  }

  async #learn(origin: string, response: Response): Promise<string> {
    if (response.status === 401) {
      this.auth.learn(response, null);
      await discard(response);
      return origin;
    }
    if (response.ok) {
      await discard(response);
      return origin;
    }
    throw new RemoteError(
      `${this.registry} does not answer as an OCI registry: GET ${origin}/v2/ gave ${await errorText(
        response,
        this.http,
      )}`,
      { status: response.status },
    );
  }
}
