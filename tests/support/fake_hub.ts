/**
 * A fake Singularity Hub on 127.0.0.1 for tests: manifests, downloads with Range and conditional
 * requests, the paginated collection listing, fault modes, and hostile answers (forged manifest
 * fields, any answer for a route, compressed bombs, endless bodies). Every request is recorded; a
 * route the fake does not know answers 500 and lands in `unexpected`, so a test can assert none
 * happened.
 */
import { createHash } from "node:crypto";

/** A fault the hub injects until another mode is set. */
export type FakeHubMode =
  | "ok"
  | "truncate"
  | "wrong-md5"
  | "no-length"
  | "fail-once"
  | "404"
  | "ignore-range"
  | "stall"
  | "redirect"
  | "429-once"
  /** A resume gets a 206 that claims the file ends within the rest, and ends there cleanly. */
  | "short-206"
  /** Range is honoured whatever If-Range says (so a changed file would be spliced). */
  | "ignore-if-range"
  /** Downloads answer 200 with an HTML page (text/html), as a login or error page. */
  | "html"
  /** Downloads answer 200 with an HTML page labelled application/octet-stream. */
  | "html-octet"
  /** Downloads redirect to file:///etc/passwd. */
  | "redirect-file";

/** A route whose answer a test can forge. */
export type FakeHubRoute = "manifest" | "collections";

/** How the hub starts. */
export interface FakeHubOptions {
  /** Collections per page of /api/collections/ (default 10, as the real hub). */
  pageSize?: number;
  /** Initial fault mode (default "ok"). */
  mode?: FakeHubMode;
  /** Serve image bodies at about this many bytes per second (default: as fast as possible). */
  throttle?: number;
}

/** Image bytes, given whole or generated on the fly from a seed. */
export type ImageContent = Uint8Array | { size: number; seed: number };

/** Optional overrides for one image. */
export interface AddImageOptions {
  /** Version the manifest announces (default: the MD5 of the bytes). */
  version?: string;
  /** Download URL the manifest announces (default: this hub's /download/<id>). */
  imageUrl?: string;
}

/** An image the hub serves. */
export interface FakeImage {
  /** Numeric id used in the download path. */
  id: number;
  /** Collection part of the name. */
  collection: string;
  /** Image part of the name. */
  name: string;
  /** Tag. */
  tag: string;
  /** Length in bytes. */
  size: number;
  /** This hub's download URL for the image. */
  downloadUrl: string;
  /** MD5 hex of the bytes (computed on first use for generated images). */
  md5(): Promise<string>;
}

/** One request the hub received. */
export interface RecordedRequest {
  /** HTTP method. */
  method: string;
  /** Path and query string. */
  path: string;
  /** Request headers, lower-case names. */
  headers: Record<string, string>;
}

/** A running fake hub. */
export interface FakeHub extends AsyncDisposable {
  /** `http://127.0.0.1:<port>`. */
  url: string;
  /** `<url>/api`, the base a hub client talks to. */
  base: string;
  /** Every request, in order. */
  requests: RecordedRequest[];
  /** Requests to routes the hub does not serve (answered with 500). */
  unexpected: RecordedRequest[];
  /** Adds an image and returns its description. */
  addImage(
    collection: string,
    name: string,
    tag: string,
    content: ImageContent,
    options?: AddImageOptions,
  ): FakeImage;
  /** Switches the fault mode; "once" modes start over for every route. */
  setMode(mode: FakeHubMode): void;
  /** Changes the speed of image bodies, also of those being served; null lifts the limit. */
  setThrottle(bytesPerSecond: number | null): void;
  /** Fields every manifest is given instead of its own (a hostile hub); {} restores them. */
  forgeManifest(fields: Record<string, unknown>): void;
  /** Answers every request of a route with `answer()` instead; null restores the route. */
  forgeAnswer(route: FakeHubRoute, answer: (() => Response) | null): void;
  /** Replaces an image's bytes (a file that changed on the server): new ETag, Last-Modified. */
  replaceContent(image: FakeImage, content: ImageContent): void;
  /** Releases stalled bodies and stops the server. */
  close(): Promise<void>;
}

interface StoredImage extends FakeImage {
  content: ImageContent;
  version?: string;
  imageUrl?: string;
  etag: string;
  lastModified: string;
  addedAt: string;
}

const GENERATED_BLOCK = 1024 * 1024;
const SERVED_CHUNK = 64 * 1024;
const THROTTLED_CHUNK = 64 * 1024;
const LAST_MODIFIED = "Mon, 01 Jan 2024 00:00:00 GMT";

/** Starts a fake hub on 127.0.0.1 at a free port. */
export function startFakeHub(options: FakeHubOptions = {}): Promise<FakeHub> {
  const pageSize = options.pageSize ?? 10;
  let mode: FakeHubMode = options.mode ?? "ok";
  let throttle: number | null = options.throttle ?? null;
  const images: StoredImage[] = [];
  const requests: RecordedRequest[] = [];
  const unexpected: RecordedRequest[] = [];
  const seen = new Set<string>();
  const stalled = new Set<() => void>();
  let forgedFields: Record<string, unknown> = {};
  const forged = new Map<FakeHubRoute, () => Response>();
  let url = "";

  const handler = async (req: Request): Promise<Response> => {
    const target = new URL(req.url);
    const recorded: RecordedRequest = {
      method: req.method,
      path: target.pathname + target.search,
      headers: Object.fromEntries(req.headers),
    };
    requests.push(recorded);
    const route = routeOf(req.method, target.pathname);
    if (route === null) {
      unexpected.push(recorded);
      return new Response(`fake hub: no route for ${req.method} ${target.pathname}`, {
        status: 500,
      });
    }
    if (mode === "404") return json({ detail: "Not found." }, 404);
    const key = `${req.method} ${target.pathname}`;
    if ((mode === "fail-once" || mode === "429-once") && !seen.has(key)) {
      seen.add(key);
      return mode === "fail-once"
        ? new Response("fake hub: failing once", { status: 500 })
        : new Response("fake hub: slow down", { status: 429, headers: { "retry-after": "0" } });
    }
    if (route.kind !== "download" && forged.has(route.kind)) return forged.get(route.kind)!();
    switch (route.kind) {
      case "manifest":
        return await manifest(route.rest);
      case "collections":
        return collections(target.searchParams);
      case "download": {
        const image = images.find((candidate) => candidate.id === route.id);
        if (image === undefined) return json({ detail: "Not found." }, 404);
        if (mode === "redirect-file") return redirect("file:///etc/passwd");
        if (mode === "redirect" && route.step === "download") {
          return redirect(`/hop/${image.id}`);
        }
        if (mode === "redirect" && route.step === "hop") {
          return redirect(`${url}/files/${image.id}`);
        }
        return serveImage(req, image);
      }
    }
  };

  async function manifest(rest: string): Promise<Response> {
    const slash = rest.lastIndexOf("/");
    if (slash <= 0) return json({ detail: "Not found." }, 404);
    const collection = rest.slice(0, slash);
    let remainder = rest.slice(slash + 1);
    let version: string | null = null;
    const at = remainder.indexOf("@");
    if (at >= 0) {
      version = remainder.slice(at + 1);
      remainder = remainder.slice(0, at);
    }
    const colon = remainder.indexOf(":");
    const name = colon >= 0 ? remainder.slice(0, colon) : remainder;
    const tag = colon >= 0 ? remainder.slice(colon + 1) : "latest";
    const matches = images.filter((image) =>
      image.collection === collection && image.name === name && image.tag === tag
    );
    let found: StoredImage | undefined;
    for (const image of matches.reverse()) {
      if (version === null || await versionOf(image) === version) {
        found = image;
        break;
      }
    }
    if (found === undefined) return json({ detail: "Not found." }, 404);
    let announced = await versionOf(found);
    if (mode === "wrong-md5") announced = md5Hex(new TextEncoder().encode(`wrong ${announced}`));
    return json({
      image: found.imageUrl ?? found.downloadUrl,
      name: `${found.collection}/${found.name}`,
      tag: found.tag,
      version: announced,
      id: found.id,
      branch: "master",
      commit: md5Hex(new TextEncoder().encode(`commit ${found.id}`)) + "00000000",
      size_mb: String(Math.max(1, Math.ceil(found.size / (1024 * 1024)))),
      ...forgedFields,
    });
  }

  function collections(params: URLSearchParams): Response {
    const limit = positiveInt(params.get("limit")) ?? pageSize;
    const offset = positiveInt(params.get("offset")) ?? 0;
    const names = [...new Set(images.map((image) => image.collection))];
    const all = names.map((collection, index) => {
      const members = images.filter((image) => image.collection === collection);
      return {
        id: index + 1,
        name: collection,
        add_date: members[0].addedAt,
        modify_date: members[members.length - 1].addedAt,
        containers: members.map((image) => ({
          name: `${image.collection}/${image.name}`,
          tag: image.tag,
          uri: `${image.collection}/${image.name}:${image.tag}`,
          detail: `${url}/containers/${image.id}`,
        })),
      };
    });
    const page = (at: number) => `${url}/api/collections/?limit=${limit}&offset=${at}`;
    return json({
      count: all.length,
      next: offset + limit < all.length ? page(offset + limit) : null,
      previous: offset > 0 ? page(Math.max(0, offset - limit)) : null,
      results: all.slice(offset, offset + limit),
    });
  }

  function serveImage(req: Request, image: StoredImage): Response {
    if (mode === "html" || mode === "html-octet") {
      const type = mode === "html" ? "text/html; charset=utf-8" : "application/octet-stream";
      return new Response(
        "<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body>Sign in</body></html>\n",
        { headers: { "content-type": type } },
      );
    }
    const size = image.size;
    let start = 0;
    let end = size - 1;
    let partial = false;
    const validators = { "etag": image.etag, "last-modified": image.lastModified };
    const ifNoneMatch = req.headers.get("if-none-match");
    const ifModifiedSince = req.headers.get("if-modified-since");
    if (
      ifNoneMatch !== null ? ifNoneMatch === image.etag : ifModifiedSince === image.lastModified
    ) {
      return new Response(null, { status: 304, headers: validators });
    }
    const range = req.headers.get("range");
    const ifRange = req.headers.get("if-range");
    const rangeApplies = mode !== "ignore-range" && range !== null &&
      (mode === "ignore-if-range" || ifRange === null || ifRange === image.etag ||
        ifRange === image.lastModified);
    if (rangeApplies) {
      const parsed = parseRange(range, size);
      if (parsed === "unsatisfiable") {
        return new Response(null, {
          status: 416,
          headers: { "content-range": `bytes */${size}` },
        });
      }
      if (parsed !== null) {
        [start, end] = parsed;
        partial = true;
      }
    }
    if (partial && mode === "short-206") end = Math.min(end, start + 999);
    const length = Math.max(0, end - start + 1);
    const headers: Record<string, string> = {
      "content-type": "application/octet-stream",
      ...validators,
    };
    if (mode !== "ignore-range") headers["accept-ranges"] = "bytes";
    if (mode !== "no-length") headers["content-length"] = String(length);
    if (partial) {
      // short-206 claims the file ends where this short answer does.
      const total = mode === "short-206" ? end + 1 : size;
      headers["content-range"] = `bytes ${start}-${end}/${total}`;
    }
    const status = partial ? 206 : 200;
    if (req.method === "HEAD") return new Response(null, { status, headers });
    let sendUntil = start + length;
    if (mode === "truncate" || mode === "stall") sendUntil = start + Math.floor(length / 2);
    const source = byteSource(image.content, start, sendUntil);
    const holdOpen = mode === "stall";
    let release: (() => void) | null = null;
    let pending: Uint8Array | null = null;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (pending === null) {
          const next = await source.next();
          if (!next.done) pending = next.value;
        }
        if (pending !== null) {
          let chunk = pending;
          pending = null;
          if (throttle !== null) {
            // Small slices at the set rate, so a throttled transfer advances steadily.
            if (chunk.byteLength > THROTTLED_CHUNK) {
              pending = chunk.subarray(THROTTLED_CHUNK);
              chunk = chunk.subarray(0, THROTTLED_CHUNK);
            }
            await pause(Math.ceil((chunk.byteLength / throttle) * 1000));
          }
          controller.enqueue(chunk);
          return;
        }
        if (holdOpen) {
          await new Promise<void>((resolve) => {
            release = resolve;
            stalled.add(resolve);
          });
        }
        controller.close();
      },
      cancel() {
        pending = null;
        if (release !== null) {
          stalled.delete(release);
          release();
        }
      },
    });
    return new Response(body, { status, headers });
  }

  // A wait that close() cuts short, so no timer outlives the hub.
  function pause(ms: number): Promise<void> {
    if (closed !== null) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        stalled.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      stalled.add(done);
    });
  }

  async function versionOf(image: StoredImage): Promise<string> {
    return image.version ?? await image.md5();
  }

  function addImage(
    collection: string,
    name: string,
    tag: string,
    content: ImageContent,
    addOptions: AddImageOptions = {},
  ): FakeImage {
    const id = images.length + 1;
    const size = content instanceof Uint8Array ? content.byteLength : content.size;
    let digest: Promise<string> | null = content instanceof Uint8Array
      ? Promise.resolve(md5Hex(content))
      : null;
    const image: StoredImage = {
      id,
      collection,
      name,
      tag,
      size,
      downloadUrl: `${url}/download/${id}`,
      md5: () => {
        if (digest === null && !(content instanceof Uint8Array)) {
          digest = generatedMd5(content.size, content.seed);
        }
        return digest!;
      },
      content,
      version: addOptions.version,
      imageUrl: addOptions.imageUrl,
      etag: etagOf(content),
      lastModified: LAST_MODIFIED,
      addedAt: new Date(Date.UTC(2024, 0, 1, 0, id)).toISOString(),
    };
    images.push(image);
    return image;
  }

  function replaceContent(replaced: FakeImage, content: ImageContent): void {
    const image = images.find((candidate) => candidate.id === replaced.id)!;
    image.content = content;
    image.size = content instanceof Uint8Array ? content.byteLength : content.size;
    image.etag = etagOf(content);
    image.lastModified = "Tue, 02 Jan 2024 00:00:00 GMT";
    const digest = content instanceof Uint8Array
      ? Promise.resolve(md5Hex(content))
      : generatedMd5(content.size, content.seed);
    image.md5 = () => digest;
  }

  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
  url = `http://127.0.0.1:${server.addr.port}`;
  let closed: Promise<void> | null = null;
  const close = () => {
    closed ??= (async () => {
      for (const release of stalled) release();
      stalled.clear();
      await server.shutdown();
    })();
    return closed;
  };
  return Promise.resolve({
    url,
    base: `${url}/api`,
    requests,
    unexpected,
    addImage,
    setMode(next: FakeHubMode) {
      mode = next;
      seen.clear();
    },
    setThrottle(bytesPerSecond: number | null) {
      throttle = bytesPerSecond;
    },
    forgeManifest(fields: Record<string, unknown>) {
      forgedFields = fields;
    },
    forgeAnswer(route: FakeHubRoute, answer: (() => Response) | null) {
      if (answer === null) forged.delete(route);
      else forged.set(route, answer);
    },
    replaceContent,
    close,
    [Symbol.asyncDispose]: close,
  });
}

/**
 * Deterministic pseudo-random bytes from `seed`, streamed in 1 MiB blocks and never held whole,
 * starting at byte `start`.
 */
export function generatedBytes(
  size: number,
  seed: number,
  start = 0,
): ReadableStream<Uint8Array> {
  const source = generatedBlocks(size, seed, start, size);
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      const next = source.next();
      if (next.done) controller.close();
      else controller.enqueue(next.value);
    },
  });
}

/** MD5 hex of `generatedBytes(size, seed)`, computed the same way the hub serves it. */
export function generatedMd5(size: number, seed: number): Promise<string> {
  const hash = createHash("md5");
  for (const block of generatedBlocks(size, seed, 0, size)) hash.update(block);
  return Promise.resolve(hash.digest("hex"));
}

function* generatedBlocks(
  size: number,
  seed: number,
  start: number,
  end: number,
): Generator<Uint8Array> {
  const base = seedBlock(seed);
  let position = start;
  while (position < end) {
    const index = Math.floor(position / GENERATED_BLOCK);
    const block = base.slice();
    // Every block differs from the others through its index (and from other seeds' blocks).
    const view = new DataView(block.buffer);
    view.setUint32(0, index);
    view.setUint32(4, seed >>> 0);
    view.setUint32(GENERATED_BLOCK - 4, index ^ 0x5bd1e995);
    const blockStart = index * GENERATED_BLOCK;
    const from = position - blockStart;
    const to = Math.min(GENERATED_BLOCK, end - blockStart, size - blockStart);
    yield from === 0 && to === GENERATED_BLOCK ? block : block.slice(from, to);
    position = blockStart + to;
  }
}

function seedBlock(seed: number): Uint8Array {
  const words = new Uint32Array(GENERATED_BLOCK / 4);
  let x = (seed ^ 0x9e3779b9) >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    words[i] = x;
  }
  return new Uint8Array(words.buffer);
}

async function* byteSource(
  content: ImageContent,
  start: number,
  end: number,
): AsyncGenerator<Uint8Array> {
  if (content instanceof Uint8Array) {
    for (let at = start; at < end; at += SERVED_CHUNK) {
      yield content.slice(at, Math.min(end, at + SERVED_CHUNK));
    }
    return;
  }
  yield* generatedBlocks(content.size, content.seed, start, end);
}

type Route =
  | { kind: "manifest"; rest: string }
  | { kind: "collections" }
  | { kind: "download"; id: number; step: "download" | "hop" | "files" };

function routeOf(method: string, pathname: string): Route | null {
  const read = method === "GET" || method === "HEAD";
  if (!read) return null;
  if (pathname.startsWith("/api/container/") && method === "GET") {
    let rest: string;
    try {
      rest = decodeURIComponent(pathname.slice("/api/container/".length));
    } catch {
      return null;
    }
    return { kind: "manifest", rest };
  }
  if ((pathname === "/api/collections/" || pathname === "/api/collections") && method === "GET") {
    return { kind: "collections" };
  }
  const match = pathname.match(/^\/(download|hop|files)\/(\d+)$/);
  if (match) {
    return {
      kind: "download",
      id: Number(match[2]),
      step: match[1] as "download" | "hop" | "files",
    };
  }
  return null;
}

function parseRange(value: string, size: number): [number, number] | "unsatisfiable" | null {
  const match = value.match(/^bytes=(\d*)-(\d*)$/);
  if (!match || (match[1] === "" && match[2] === "")) return null;
  if (match[1] === "") {
    const suffix = Number(match[2]);
    if (suffix === 0) return "unsatisfiable";
    return [Math.max(0, size - suffix), size - 1];
  }
  const start = Number(match[1]);
  const end = match[2] === "" ? size - 1 : Math.min(Number(match[2]), size - 1);
  if (start >= size || end < start) return "unsatisfiable";
  return [start, end];
}

/**
 * Answers of `mib` MiB of zeros gzip-compressed to about a thousandth of that, labelled JSON: a
 * decompression bomb. Compressed block by block, never held whole.
 */
export async function gzipBomb(mib: number): Promise<() => Response> {
  const zeros = new Uint8Array(1024 * 1024);
  const source = new ReadableStream<BufferSource>({
    start(controller) {
      for (let i = 0; i < mib; i++) controller.enqueue(zeros);
      controller.close();
    },
  });
  const compressed = new Uint8Array(
    await new Response(source.pipeThrough(new CompressionStream("gzip"))).arrayBuffer(),
  );
  return () =>
    new Response(compressed, {
      headers: { "content-type": "application/json", "content-encoding": "gzip" },
    });
}

/** A JSON-looking answer that never ends (`[0,0,0,...`), until the client stops reading. */
export function endlessAnswer(): Response {
  const chunk = new TextEncoder().encode("0,".repeat(32 * 1024));
  let first = true;
  return new Response(
    new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.enqueue(first ? new TextEncoder().encode("[") : chunk);
        first = false;
      },
    }),
    { headers: { "content-type": "application/json" } },
  );
}

function etagOf(content: ImageContent): string {
  return content instanceof Uint8Array
    ? `"${md5Hex(content)}"`
    : `"gen-${content.seed}-${content.size}"`;
}

function redirect(location: string): Response {
  return new Response(null, { status: 302, headers: { location } });
}

function json(value: unknown, status = 200): Response {
  return new Response(JSON.stringify(value), {
    status,
    headers: { "content-type": "application/json" },
  });
}

function md5Hex(bytes: Uint8Array): string {
  return createHash("md5").update(bytes).digest("hex");
}

function positiveInt(value: string | null): number | null {
  if (value === null || !/^\d+$/.test(value)) return null;
  return Number(value);
}
