/**
 * Debian's docker-registry (distribution 2.8.2) for tests, as oras.md §3 describes it: started on
 * 127.0.0.1 at a random port in a temporary folder, without authentication, with htpasswd Basic
 * (a committed bcrypt line), or with Bearer tokens (`auth: silly` and a token server of ours),
 * with absolute or relative upload Locations, and optionally with blobs redirected to a server on
 * another origin that fails any request carrying Authorization. Disposing stops every process and
 * server and removes the folder.
 */
import { join } from "node:path";
import { ROOT } from "./cli.ts";
import { installed } from "./state.ts";
import { siteCertificates } from "./tls.ts";

/** The user in tests/fixtures/htpasswd and the token server. */
export const REGISTRY_USER = "oras-user";
/** That user's password: distinctive, so a test can assert it never appears in any output. */
export const REGISTRY_PASSWORD = "pw-Fq7Lx-distinct-9321";
/** A refresh token the token server exchanges (the `identitytoken` flow). */
export const REFRESH_TOKEN = "refresh-Hm4Zr-distinct-5530";
/** Every token the token server issues starts with this, so tests can look for leaks. */
export const TOKEN_PREFIX = "tok-Vw8Jq-distinct-";
/** The service name in the Bearer challenge. */
export const TOKEN_SERVICE = "sregistry-test";

/** How the registry is set up. */
export interface DockerRegistryOptions {
  /** `none` (default), `basic` (htpasswd) or `bearer` (silly + our token server). */
  auth?: "none" | "basic" | "bearer";
  /** Path-only upload Locations (`http.relativeurls: true`). */
  relativeUrls?: boolean;
  /** Manifest deletion allowed (default true). */
  deleteEnabled?: boolean;
  /** Blob GETs answer 307 to a server on another origin. */
  redirectBlobs?: boolean;
  /** Serve https with a certificate of a site CA (`ca` is its file, for DENO_CERT). */
  tls?: boolean;
}

/** One request to the token server. */
export interface TokenRequest {
  /** GET or POST. */
  method: string;
  /** The scopes asked for. */
  scopes: string[];
  /** The `service` parameter. */
  service: string | null;
  /** The user of the Basic credentials, `<refresh>` for a refresh token, or null. */
  user: string | null;
  /** The answer's status. */
  status: number;
}

/** One request to the blob server (redirect target). */
export interface BlobRequest {
  /** Method and path. */
  method: string;
  path: string;
  /** The Range header, if any. */
  range: string | null;
  /** Whether it carried an Authorization header (which fails it). */
  authorized: boolean;
}

/** A running registry. */
export interface DockerRegistry extends AsyncDisposable {
  /** `127.0.0.1:<port>`, as references name it. */
  host: string;
  /** `http://127.0.0.1:<port>` (https with `tls`). */
  url: string;
  /** The site CA's certificate file (with `tls`), else null. */
  ca: string | null;
  /** The storage root folder. */
  root: string;
  /** The set-up. */
  options: Required<DockerRegistryOptions>;
  /** Requests to the token server (bearer set-up). */
  tokenRequests: TokenRequest[];
  /** Requests to the blob server (redirect set-up). */
  blobRequests: BlobRequest[];
  /** Serve blobs from the redirect target at about this many bytes per second (null: full speed). */
  throttleBlobs(bytesPerSecond: number | null): void;
  /** The registry's log so far. */
  log(): string;
  /** The Authorization header a test's own requests use (anything goes for silly). */
  authorization: string | null;
  /** Stops everything. */
  close(): Promise<void>;
}

/** True when docker-registry can run here. */
export function dockerRegistryInstalled(): boolean {
  return installed("docker-registry", "--version");
}

/** Why oras tests are skipped, printed once per file. */
export const SKIP_REASON = "docker-registry is not installed (apt-get install docker-registry); " +
  "the oras:// tests against a real registry are skipped";

/** Starts a registry; `await using registry = await startDockerRegistry({...})`. */
export async function startDockerRegistry(
  options: DockerRegistryOptions = {},
): Promise<DockerRegistry> {
  const settings: Required<DockerRegistryOptions> = {
    auth: options.auth ?? "none",
    relativeUrls: options.relativeUrls ?? false,
    deleteEnabled: options.deleteEnabled ?? true,
    redirectBlobs: options.redirectBlobs ?? false,
    tls: options.tls ?? false,
  };
  const folder = await Deno.makeTempDir({ prefix: "sregistry-docker-registry-" });
  const root = join(folder, "data");
  const tokenRequests: TokenRequest[] = [];
  const blobRequests: BlobRequest[] = [];
  const servers: Deno.HttpServer[] = [];
  let throttle: number | null = null;
  let tokens = 0;
  const cleanups: (() => Promise<void>)[] = [
    () => Deno.remove(folder, { recursive: true }).catch(() => {}),
  ];
  const close = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  };

  try {
    const auth: string[] = [];
    if (settings.auth === "basic") {
      const htpasswd = join(folder, "htpasswd");
      Deno.copyFileSync(join(ROOT, "tests", "fixtures", "htpasswd"), htpasswd);
      auth.push("auth:", "  htpasswd:", "    realm: sregistry-test", `    path: ${htpasswd}`);
    }
    if (settings.auth === "bearer") {
      const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
        const answer = await tokenAnswer(req, ++tokens);
        tokenRequests.push(answer.request);
        return answer.response;
      });
      servers.push(server);
      cleanups.push(() => server.shutdown());
      auth.push(
        "auth:",
        "  silly:",
        `    realm: http://127.0.0.1:${server.addr.port}/token`,
        `    service: ${TOKEN_SERVICE}`,
      );
    }
    const middleware: string[] = [];
    if (settings.redirectBlobs) {
      const server = Deno.serve(
        { hostname: "127.0.0.1", port: 0, onListen() {} },
        (req) => serveBlob(req, root, blobRequests, () => throttle),
      );
      servers.push(server);
      cleanups.push(() => server.shutdown());
      middleware.push(
        "middleware:",
        "  storage:",
        "    - name: redirect",
        "      options:",
        `        baseurl: http://127.0.0.1:${server.addr.port}/`,
      );
    }
    const pki = settings.tls ? siteCertificates(join(folder, "pki")) : null;
    const tls = pki === null
      ? []
      : ["  tls:", `    certificate: ${pki.cert}`, `    key: ${pki.key}`];
    const config = [
      "version: 0.1",
      "log:",
      "  level: info",
      "  accesslog:",
      "    disabled: true",
      "storage:",
      "  filesystem:",
      `    rootdirectory: ${root}`,
      "  delete:",
      `    enabled: ${settings.deleteEnabled}`,
      "  maintenance:",
      "    uploadpurging:",
      "      enabled: false",
      "http:",
      "  addr: 127.0.0.1:0",
      "  secret: sregistry-test-secret",
      `  relativeurls: ${settings.relativeUrls}`,
      ...tls,
      ...auth,
      ...middleware,
    ].join("\n") + "\n";
    const configPath = join(folder, "config.yml");
    Deno.writeTextFileSync(configPath, config);

    const child = new Deno.Command("docker-registry", {
      args: ["serve", configPath],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
      clearEnv: true,
      env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin" },
    }).spawn();
    const status = child.status;
    cleanups.push(async () => {
      try {
        child.kill("SIGTERM");
      } catch {
        // already gone
      }
      await status;
      await draining;
    });
    let logText = "";
    const { promise: listening, resolve: resolveListening } = Promise.withResolvers<string>();
    const draining = (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of child.stderr) {
        // Only the start matters; the rest is kept short so a long test cannot grow it.
        if (logText.length < 1_000_000) logText += decoder.decode(chunk, { stream: true });
        const found = /msg="listening on 127\.0\.0\.1:(\d+)/.exec(logText);
        if (found) resolveListening(found[1]);
      }
    })();
    const port = await Promise.race([
      listening,
      status.then((exit) => {
        throw new Error(`docker-registry exited (${exit.code}) before listening:\n${logText}`);
      }),
    ]);
    const host = `127.0.0.1:${port}`;
    return {
      host,
      url: `${pki === null ? "http" : "https"}://${host}`,
      ca: pki?.ca ?? null,
      root,
      options: settings,
      tokenRequests,
      blobRequests,
      throttleBlobs: (bytesPerSecond) => throttle = bytesPerSecond,
      log: () => logText,
      authorization: settings.auth === "basic"
        ? `Basic ${btoa(`${REGISTRY_USER}:${REGISTRY_PASSWORD}`)}`
        : settings.auth === "bearer"
        ? "Bearer test-helper"
        : null,
      close,
      [Symbol.asyncDispose]: close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

// The token server: Basic credentials of REGISTRY_USER, a refresh token, or anonymous (refused
// for repositories under `private/`).
async function tokenAnswer(
  req: Request,
  serial: number,
): Promise<{ request: TokenRequest; response: Response }> {
  const url = new URL(req.url);
  let params = url.searchParams;
  let user: string | null = null;
  let valid = true;
  if (req.method === "POST") {
    params = new URLSearchParams(await req.text());
    user = "<refresh>";
    valid = params.get("grant_type") === "refresh_token" &&
      params.get("refresh_token") === REFRESH_TOKEN;
  } else {
    const header = req.headers.get("authorization");
    if (header !== null) {
      const decoded = atob(header.replace(/^Basic\s+/i, ""));
      user = decoded.slice(0, decoded.indexOf(":"));
      valid = decoded === `${REGISTRY_USER}:${REGISTRY_PASSWORD}`;
    }
  }
  const scopes = req.method === "POST"
    ? (params.get("scope") ?? "").split(" ").filter(Boolean)
    : params.getAll("scope");
  const privateAsked = scopes.some((scope) => scope.startsWith("repository:private/"));
  const status = !valid ? 401 : user === null && privateAsked ? 401 : 200;
  const request = { method: req.method, scopes, service: params.get("service"), user, status };
  if (status !== 200) {
    return {
      request,
      response: Response.json({ errors: [{ code: "UNAUTHORIZED", message: "no" }] }, { status }),
    };
  }
  return {
    request,
    response: Response.json({ token: `${TOKEN_PREFIX}${serial}`, expires_in: 300 }),
  };
}

// The redirect target: blob files straight from the registry's storage, Range and HEAD included.
async function serveBlob(
  req: Request,
  root: string,
  requests: BlobRequest[],
  throttle: () => number | null,
): Promise<Response> {
  const url = new URL(req.url);
  const authorized = req.headers.has("authorization");
  requests.push({
    method: req.method,
    path: url.pathname,
    range: req.headers.get("range"),
    authorized,
  });
  if (authorized) return new Response("Authorization sent to another origin", { status: 500 });
  const path = join(root, decodeURIComponent(url.pathname));
  if (!path.startsWith(root + "/") || path.includes("..")) {
    return new Response(null, { status: 404 });
  }
  let size: number;
  try {
    size = (await Deno.stat(path)).size;
  } catch {
    return new Response(null, { status: 404 });
  }
  let start = 0;
  const range = /^bytes=(\d+)-$/.exec(req.headers.get("range") ?? "");
  if (range) start = Math.min(Number(range[1]), size);
  const headers: Record<string, string> = {
    "content-length": String(size - start),
    "etag": `"${size}"`,
    "accept-ranges": "bytes",
  };
  if (range) headers["content-range"] = `bytes ${start}-${size - 1}/${size}`;
  const status = range ? 206 : 200;
  if (req.method === "HEAD") return new Response(null, { status, headers });
  const file = await Deno.open(path, { read: true });
  await file.seek(start, Deno.SeekMode.Start);
  const chunk = 64 * 1024;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const rate = throttle();
      if (rate !== null) await new Promise((resolve) => setTimeout(resolve, chunk / rate * 1000));
      const buffer = new Uint8Array(chunk);
      const read = await file.read(buffer);
      if (read === null) {
        file.close();
        controller.close();
      } else controller.enqueue(buffer.subarray(0, read));
    },
    cancel() {
      file.close();
    },
  });
  return new Response(body, { status, headers });
}

let skipNoted = false;

/** Registers a test that needs docker-registry; without it the test is skipped, said once. */
export function registryTest(name: string, fn: () => Promise<void>): void {
  const available = dockerRegistryInstalled();
  if (!available && !skipNoted) {
    skipNoted = true;
    console.warn(`note: ${SKIP_REASON}`);
  }
  Deno.test({ name, ignore: !available, fn });
}

/** A request that went through a proxy. */
export interface ProxiedRequest {
  /** Method and path with query. */
  method: string;
  path: string;
  /** Request headers, lower-case names. */
  headers: Record<string, string>;
}

/** A proxy on 127.0.0.1 in front of a registry with relative Locations; records every request. */
export interface RegistryProxy extends AsyncDisposable {
  /** `127.0.0.1:<port>`. */
  host: string;
  /** Every request, in order. */
  requests: ProxiedRequest[];
}

/**
 * Starts a proxy to `registry` (which must use relative Locations, so clients stay on the
 * proxy). `intercept` may answer a request itself; returning null passes it on.
 */
export function startProxy(
  registry: DockerRegistry,
  intercept: (req: Request, url: URL) => Response | null | Promise<Response | null> = () => null,
): RegistryProxy {
  const requests: ProxiedRequest[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const url = new URL(req.url);
    requests.push({
      method: req.method,
      path: url.pathname + url.search,
      headers: Object.fromEntries(req.headers),
    });
    const answer = await intercept(req, url);
    if (answer !== null) {
      await req.body?.cancel();
      return answer;
    }
    const upstream = await fetch(`${registry.url}${url.pathname}${url.search}`, {
      method: req.method,
      headers: req.headers,
      body: req.body,
      redirect: "manual",
    });
    return new Response(upstream.body, { status: upstream.status, headers: upstream.headers });
  });
  return {
    host: `127.0.0.1:${server.addr.port}`,
    requests,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}
