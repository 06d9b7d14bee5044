/**
 * Registry authentication (distribution's token flow): `WWW-Authenticate` challenges, Basic
 * credentials, Bearer tokens fetched from the challenge's realm for a set of scopes (anonymously,
 * with Basic credentials, or with a refresh token) and cached for the run until shortly before
 * they expire. Secrets go only to URLs `mayReceiveSecrets` allows, and never into a message.
 */
import { RemoteError } from "../errors.ts";
import { type HttpOptions, redactUrl, request } from "../transfer/http.ts";
import { base64 } from "../config/logins.ts";
import type { RegistryCredential } from "./oci_credentials.ts";
import { errorText, isObject, readJson, TOKEN_CAP } from "./oci_http.ts";

/** One challenge of a `WWW-Authenticate` header. */
export interface Challenge {
  /** The scheme, lower-cased: `bearer`, `basic`, ... */
  scheme: string;
  /** Its parameters, names lower-cased. */
  params: Record<string, string>;
}

/** What the authenticator needs from its client. */
export interface AuthOptions {
  /** The registry host, for messages. */
  registry: string;
  /** HTTP behaviour for token requests. */
  http: HttpOptions;
  /** The credentials to use, looked up on first need; null for anonymous. */
  credential: () => RegistryCredential | null;
  /** Whether a URL may receive credentials (https, loopback, or a host marked insecure). */
  mayReceiveSecrets: (url: URL) => boolean;
}

const DEFAULT_EXPIRY_S = 60;

/** Parses every challenge of a `WWW-Authenticate` value (quoted values may hold commas). */
export function parseChallenges(header: string): Challenge[] {
  const challenges: Challenge[] = [];
  const token = /\s*([A-Za-z0-9!#$%&'*+.^_`|~-]+)/y;
  const param = /\s*([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]*))\s*,?/y;
  let at = 0;
  while (at < header.length) {
    token.lastIndex = at;
    const scheme = token.exec(header);
    if (!scheme) break;
    at = token.lastIndex;
    const params: Record<string, string> = {};
    while (true) {
      param.lastIndex = at;
      const found = param.exec(header);
      if (!found) break;
      params[found[1].toLowerCase()] = found[2] !== undefined
        ? found[2].replace(/\\(.)/g, "$1")
        : found[3];
      at = param.lastIndex;
    }
    challenges.push({ scheme: scheme[1].toLowerCase(), params });
    while (at < header.length && /[\s,]/.test(header[at])) at++;
  }
  return challenges;
}

/**
 * Scopes merged per resource: `repository:a:pull` and `repository:a:push` become one
 * `repository:a:pull,push` (some token services refuse a repository named twice).
 */
export function mergeScopes(...lists: string[][]): string[] {
  const actions = new Map<string, Set<string>>();
  for (const scope of lists.flat()) {
    const last = scope.lastIndexOf(":");
    if (last <= 0) continue;
    const resource = scope.slice(0, last);
    const set = actions.get(resource) ?? new Set<string>();
    for (const action of scope.slice(last + 1).split(",")) if (action) set.add(action);
    actions.set(resource, set);
  }
  return [...actions].map(([resource, set]) => `${resource}:${[...set].sort().join(",")}`).sort();
}

/** Authorization for one registry: learns its challenge, then gives a header per scope set. */
export class RegistryAuth {
  readonly #options: AuthOptions;
  #challenge: Challenge | null = null;
  #credential: RegistryCredential | null | undefined;
  readonly #tokens = new Map<string, { header: string; until: number }>();

  constructor(options: AuthOptions) {
    this.#options = options;
  }

  /** The credentials in use (looked up once), or null. */
  credential(): RegistryCredential | null {
    if (this.#credential === undefined) this.#credential = this.#options.credential();
    return this.#credential;
  }

  /** True once the registry asked for Basic or Bearer authentication. */
  get required(): boolean {
    return this.#challenge !== null;
  }

  /**
   * Learns from a 401's challenge; returns the scopes it names (Bearer), or null when it holds no
   * challenge sregistry can answer. Forgets `rejected`, a header that was just refused.
   */
  learn(response: Response, rejected: string | null): string[] | null {
    const challenges = parseChallenges(response.headers.get("www-authenticate") ?? "");
    const chosen = challenges.find((c) => c.scheme === "bearer" && c.params.realm) ??
      challenges.find((c) => c.scheme === "basic");
    if (chosen === undefined) return null;
    this.#challenge = chosen;
    for (const [key, token] of this.#tokens) {
      if (token.header === rejected) this.#tokens.delete(key);
    }
    return chosen.params.scope?.split(" ").filter(Boolean) ?? [];
  }

  /** The Authorization header for requests needing `scopes` on `target`; null for anonymous. */
  async header(scopes: string[], target: URL): Promise<string | null> {
    const challenge = this.#challenge;
    if (challenge === null) return null;
    const credential = this.credential();
    if (challenge.scheme === "basic") {
      if (!credential?.username || credential.password === undefined) return null;
      this.#mayReceive(target, credential);
      return `Basic ${base64(`${credential.username}:${credential.password}`)}`;
    }
    if (credential?.registryToken) {
      this.#mayReceive(target, credential);
      return `Bearer ${credential.registryToken}`;
    }
    const wanted = mergeScopes(scopes);
    const key = `${challenge.params.realm}|${challenge.params.service ?? ""}|${wanted.join(" ")}`;
    const cached = this.#tokens.get(key);
    if (cached && cached.until > Date.now()) return cached.header;
    const { token, expiresIn } = await this.#fetchToken(challenge, wanted, credential);
    // Renewed a little before it expires, so a request never carries a token about to lapse.
    const margin = Math.min(10, expiresIn / 2);
    const header = `Bearer ${token}`;
    this.#tokens.set(key, { header, until: Date.now() + (expiresIn - margin) * 1000 });
    return header;
  }

  // Credentials are never withheld in silence (an anonymous answer would pass for theirs): a URL
  // that may not receive them is an error that says so.
  #mayReceive(url: URL, credential: RegistryCredential): void {
    if (this.#options.mayReceiveSecrets(url)) return;
    throw new RemoteError(
      `credentials (from ${credential.source}) are not sent to ${url.protocol}//${url.host} over ` +
        `plain http, where ${this.#options.registry} asks for them`,
      {
        hint: `only if you trust the network to ${url.host}, add it to SREGISTRY_ORAS_NOHTTPS ` +
          `(e.g. SREGISTRY_ORAS_NOHTTPS=${url.host})`,
      },
    );
  }

  async #fetchToken(
    challenge: Challenge,
    scopes: string[],
    credential: RegistryCredential | null,
  ): Promise<{ token: string; expiresIn: number }> {
    let realm: URL;
    try {
      realm = new URL(challenge.params.realm);
    } catch {
      throw new RemoteError(`${this.#options.registry} named an invalid token service address`);
    }
    if (realm.protocol !== "https:" && realm.protocol !== "http:") {
      throw new RemoteError(`${this.#options.registry} named a token service that is not http(s)`);
    }
    const secrets = credential !== null &&
        (credential.identityToken !== undefined ||
          (credential.username !== undefined && credential.password !== undefined))
      ? credential
      : null;
    if (secrets !== null) this.#mayReceive(realm, secrets);
    const service = challenge.params.service;
    const headers: Record<string, string> = { accept: "application/json" };
    let response: Response;
    if (secrets?.identityToken) {
      const form = new URLSearchParams({
        grant_type: "refresh_token",
        refresh_token: secrets.identityToken,
        client_id: "sregistry",
      });
      if (service) form.set("service", service);
      if (scopes.length > 0) form.set("scope", scopes.join(" "));
      headers["content-type"] = "application/x-www-form-urlencoded";
      response = await request(realm.href, { method: "POST", headers, body: form.toString() }, {
        ...this.#options.http,
      });
    } else {
      if (service) realm.searchParams.append("service", service);
      for (const scope of scopes) realm.searchParams.append("scope", scope);
      if (secrets?.username && secrets.password !== undefined) {
        headers.authorization = `Basic ${base64(`${secrets.username}:${secrets.password}`)}`;
      }
      response = await request(realm.href, { headers }, this.#options.http);
    }
    if (!response.ok) {
      const why = await errorText(response, this.#options.http);
      throw new RemoteError(
        secrets !== null
          ? `the token service of ${this.#options.registry} refused the credentials from ` +
            `${secrets.source}: ${why}`
          : `the token service of ${this.#options.registry} refused an anonymous token: ${why}`,
        {
          status: response.status,
          hint: secrets !== null
            ? `check them, or log in again with 'sregistry login ${this.#options.registry}'`
            : `the repository may be private: log in with 'sregistry login ${this.#options.registry}'`,
        },
      );
    }
    const body = await readJson(response, TOKEN_CAP, this.#options.http);
    const token = isObject(body)
      ? [body.token, body.access_token].find((value) => typeof value === "string" && value !== "")
      : undefined;
    // A token goes into a header: nothing but visible ASCII.
    if (typeof token !== "string" || !/^[\x21-\x7e]+$/.test(token)) {
      throw new RemoteError(`${redactUrl(realm.origin)} answered without a usable token`);
    }
    const expires = isObject(body) && typeof body.expires_in === "number" && body.expires_in > 0
      ? body.expires_in
      : DEFAULT_EXPIRY_S;
    return { token, expiresIn: expires };
  }
}
