/**
 * A fake Singularity Registry Server on 127.0.0.1 for tests: manifests, downloads, push (with
 * nginx's refusal of chunked bodies), delete, search and labels, HMAC checked as the real server
 * does. Uploads stream to a temp file while hashed, so multi-GiB pushes never sit in memory. A
 * hostile server is one call away: forged manifest fields, or any answer for any route.
 */
import { Buffer } from "node:buffer";
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { join } from "node:path";

/** A fault or quirk the fake imitates until the mode is changed. */
export type FakeRegistryMode =
  | null
  /** Manifest GETs answer HTTP 200 with body `400`, as the server does for a bad signature. */
  | "quirk-400"
  /** Manifest GETs answer HTTP 200 with body `429`, as the server does when rate limited. */
  | "quirk-429"
  /** `POST /upload` answers 413 without reading the body, as nginx does over its limit. */
  | "413"
  /** `POST /api/upload/chunked_upload` answers 403 `Push is disabled.`. */
  | "push-disabled"
  /** Downloads announce the full Content-Length but send only half the bytes. */
  | "truncate"
  /** Downloads are sent chunked, without Content-Length. */
  | "no-content-length"
  /** Downloads answer HEAD with 405. */
  | "head-405"
  /** Manifests give a version that is not the MD5 of the stored file. */
  | "wrong-md5"
  /** The first push request and the first upload answer 503, as a proxy in front may. */
  | "push-503-once"
  /** `POST /api/upload/chunked_upload` never answers (until the fake closes). */
  | "push-hangs";

/** A route whose answer a test can forge. */
export type FakeRegistryRoute =
  | "manifest"
  | "collections"
  | "collection"
  | "search"
  | "labels"
  | "push"
  | "upload"
  | "delete";

/** Options of `startFakeRegistry`. */
export interface FakeRegistryOptions {
  /** Username -> token of the users whose signatures are accepted; `{ dino: "sekrit" }`. */
  users?: Record<string, string>;
  /** Page size of `GET /api/collections/` (DRF LimitOffset); 10 as on the real server. */
  pageSize?: number;
  /** The server's clock, used for the signature's hour; the real time by default. */
  clock?: () => Date;
}

/** Options of `addImage`. */
export interface AddImageOptions {
  /** Marks the image's collection private (the real server's privacy is per collection). */
  private?: boolean;
  /** A frozen image cannot be deleted or overwritten by a push. */
  frozen?: boolean;
  /** Labels the label-search endpoints report for this image. */
  labels?: Record<string, string>;
}

/** An image the fake serves. */
export interface StoredImage {
  /** Container id, used in the download URL. */
  id: number;
  /** Collection name. */
  collection: string;
  /** Image name. */
  name: string;
  /** Tag. */
  tag: string;
  /** MD5 hex of the file: the server's `version`. */
  md5: string;
  /** File size in bytes. */
  size: number;
  /** Where the bytes are on disk. */
  path: string;
  /** Whether the collection is private. */
  private: boolean;
  /** Whether delete and overwrite are refused. */
  frozen: boolean;
  /** Key/value labels. */
  labels: Record<string, string>;
  /** When it was added, ISO 8601. */
  addDate: string;
}

/** One request the fake received. */
export interface RecordedRequest {
  /** HTTP method. */
  method: string;
  /** Path and query string. */
  path: string;
  /** Request headers with lower-case names. */
  headers: Record<string, string>;
  /** The Authorization header, when sent. */
  authorization?: string;
}

interface CollectionRecord {
  id: number;
  name: string;
  private: boolean;
  addDate: string;
  modifyDate: string;
}

interface ImageRecord extends StoredImage {
  secret: string;
  owned: boolean;
}

type Action = "push" | "upload" | "pull" | "delete" | "build";

const HASH_BLOCK = 1024 * 1024;
const encoder = new TextEncoder();

/** A running fake Singularity Registry Server; close it (or `await using` it) after the test. */
export class FakeRegistry implements AsyncDisposable {
  /** Origin, `http://127.0.0.1:PORT`. */
  readonly url: string;
  /** API base, `url + "/api"`. */
  readonly base: string;
  /** `127.0.0.1:PORT`. */
  readonly host: string;
  /** Every request received, in order. */
  readonly requests: RecordedRequest[] = [];
  /** Requests no route expected, and handler failures; a test should assert it is empty. */
  readonly unexpected: string[] = [];
  /** Bodies whose Content-Length exceeds this many bytes get 413 on `POST /upload`. */
  uploadLimit?: number;

  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  readonly #dir: string;
  readonly #users: Record<string, string>;
  readonly #pageSize: number;
  readonly #clock: () => Date;
  readonly #collections = new Map<string, CollectionRecord>();
  #images: ImageRecord[] = [];
  #mode: FakeRegistryMode = null;
  #failedOnce = new Set<string>();
  #forgedFields: Record<string, unknown> = {};
  #forged = new Map<FakeRegistryRoute, () => Response>();
  #hanging = new Set<() => void>();
  #nextCollectionId = 1;
  #nextImageId = 1;
  #nextFile = 1;

  constructor(dir: string, options: FakeRegistryOptions) {
    this.#dir = dir;
    this.#users = options.users ?? { dino: "sekrit" };
    this.#pageSize = options.pageSize ?? 10;
    this.#clock = options.clock ?? (() => new Date());
    this.#server = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      onListen() {},
      onError: (error) => {
        this.unexpected.push(`handler failed: ${error instanceof Error ? error.stack : error}`);
        return new Response("internal error", { status: 500 });
      },
    }, (request) => this.#handle(request));
    this.host = `127.0.0.1:${this.#server.addr.port}`;
    this.url = `http://${this.host}`;
    this.base = `${this.url}/api`;
  }

  /** Stores an image from bytes or an existing file (which is hashed, not copied). */
  async addImage(
    collection: string,
    name: string,
    tag: string,
    content: Uint8Array | { path: string },
    options: AddImageOptions = {},
  ): Promise<StoredImage> {
    let path: string;
    let owned: boolean;
    if (content instanceof Uint8Array) {
      path = this.#newFilePath();
      await Deno.writeFile(path, content);
      owned = true;
    } else {
      path = content.path;
      owned = false;
    }
    const { md5, size } = await hashFile(path);
    const record = this.#collection(collection);
    if (options.private !== undefined) record.private = options.private;
    return this.#store({
      collection,
      name,
      tag,
      md5,
      size,
      path,
      owned,
      frozen: options.frozen ?? false,
      labels: options.labels ?? {},
    });
  }

  /** The stored images, oldest first. */
  images(): StoredImage[] {
    return this.#images.map((image) => publicImage(image));
  }

  /** Switches a fault or quirk on; `null` restores normal behaviour. */
  setMode(mode: FakeRegistryMode): void {
    this.#mode = mode;
    this.#failedOnce.clear();
  }

  /** Fields every manifest is given instead of its own (a hostile server); {} restores them. */
  forgeManifest(fields: Record<string, unknown>): void {
    this.#forgedFields = fields;
  }

  /** Answers every request of a route with `answer()` instead; null restores the route. */
  forgeAnswer(route: FakeRegistryRoute, answer: (() => Response) | null): void {
    if (answer === null) this.#forged.delete(route);
    else this.#forged.set(route, answer);
  }

  /** Stops the server and removes the files it stored. */
  async close(): Promise<void> {
    for (const release of this.#hanging) release();
    await this.#server.shutdown();
    await Deno.remove(this.#dir, { recursive: true }).catch(() => {});
  }

  /** Same as close(), for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #newFilePath(): string {
    return join(this.#dir, `image-${this.#nextFile++}.sif`);
  }

  #collection(name: string): CollectionRecord {
    let record = this.#collections.get(name);
    if (record === undefined) {
      const now = this.#clock().toISOString();
      record = {
        id: this.#nextCollectionId++,
        name,
        private: false,
        addDate: now,
        modifyDate: now,
      };
      this.#collections.set(name, record);
    }
    return record;
  }

  async #store(
    image: Omit<ImageRecord, "id" | "secret" | "private" | "addDate">,
  ): Promise<StoredImage> {
    const collection = this.#collection(image.collection);
    // As on the real server, a push replaces the container with the same collection/name:tag.
    const replaced = this.#images.filter((old) =>
      old.collection === image.collection && old.name === image.name && old.tag === image.tag
    );
    await this.#forget(replaced);
    const now = this.#clock().toISOString();
    collection.modifyDate = now;
    const record: ImageRecord = {
      ...image,
      id: this.#nextImageId++,
      secret: crypto.randomUUID(),
      private: collection.private,
      addDate: now,
    };
    this.#images.push(record);
    return publicImage(record);
  }

  async #forget(images: ImageRecord[]): Promise<void> {
    this.#images = this.#images.filter((image) => !images.includes(image));
    for (const image of images) {
      if (image.owned) await Deno.remove(image.path).catch(() => {});
    }
  }

  #isPrivate(image: ImageRecord): boolean {
    return this.#collections.get(image.collection)?.private ?? image.private;
  }

  async #handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const headers = Object.fromEntries(request.headers);
    const authorization = request.headers.get("authorization") ?? undefined;
    this.requests.push({
      method: request.method,
      path: url.pathname + url.search,
      headers,
      ...(authorization === undefined ? {} : { authorization }),
    });
    const response = await this.#route(request, url);
    if (response !== undefined) return response;
    this.unexpected.push(`${request.method} ${url.pathname}${url.search}`);
    await request.body?.cancel().catch(() => {});
    return new Response(`fake registry: no route for ${request.method} ${url.pathname}`, {
      status: 500,
    });
  }

  async #route(request: Request, url: URL): Promise<Response | undefined> {
    const route = routeOf(request.method, url.pathname);
    if (route !== undefined) {
      const forged = this.#forged.get(route);
      if (forged) {
        await request.body?.cancel().catch(() => {});
        return forged();
      }
      if (
        this.#mode === "push-503-once" && (route === "push" || route === "upload") &&
        !this.#failedOnce.has(route)
      ) {
        this.#failedOnce.add(route);
        await request.body?.cancel().catch(() => {});
        return nginxError(503, "Service Temporarily Unavailable");
      }
      if (this.#mode === "push-hangs" && route === "push") {
        await new Promise<void>((resolve) => this.#hanging.add(resolve));
        return Response.json({ detail: "too late" }, { status: 500 });
      }
    }
    return await this.#serve(request, url);
  }

  #serve(request: Request, url: URL): Promise<Response | undefined> | Response | undefined {
    const method = request.method;
    const path = url.pathname;
    let match: RegExpMatchArray | null;

    if (path === "/upload" && method === "POST") return this.#upload(request);
    if ((match = path.match(/^\/containers\/(\d+)\/download\/([^/]+)\/?$/))) {
      if (method === "GET" || method === "HEAD") {
        return this.#download(request, Number(match[1]), decodeURIComponent(match[2]));
      }
      return undefined;
    }
    if (!path.startsWith("/api/")) return undefined;
    const rest = path.slice("/api/".length).replace(/\/$/, "");

    if (rest === "upload/chunked_upload" && method === "POST") return this.#authorizePush(request);
    if (method === "GET") {
      if (rest === "collections") return this.#collectionsPage(url);
      if ((match = rest.match(/^collection\/(.+)$/))) {
        return this.#collectionDetail(decodeURIComponent(match[1]));
      }
      if ((match = rest.match(/^container\/search\/(.+)$/))) return this.#containerSearch(match[1]);
      if ((match = rest.match(/^labels\/search(?:\/(.*))?$/))) return this.#labelSearch(match[1]);
    }
    if ((match = rest.match(/^container\/([^/]+)\/(.+)$/))) {
      const target = parseContainerPath(decodeURIComponent(match[1]), decodeURIComponent(match[2]));
      if (method === "GET") return this.#manifest(request, target);
      if (method === "DELETE") return this.#delete(request, target);
    }
    return undefined;
  }

  // GET /api/container/<c>/<n>:<t>[@<v>]
  #manifest(request: Request, target: ContainerTarget): Response {
    if (this.#mode === "quirk-429") return Response.json(429);
    if (this.#mode === "quirk-400") return Response.json(400);
    const image = this.#find(target);
    if (image === undefined) return Response.json({ detail: "Not found." }, { status: 404 });
    if (this.#isPrivate(image)) {
      const auth = request.headers.get("authorization");
      if (auth === null) {
        return Response.json({ detail: "Authentication Required" }, { status: 403 });
      }
      // The real server answers a bad signature with HTTP 200 and the body `400`.
      if (!this.#verify(auth, "pull", target.collection, target.name, target.tag)) {
        return Response.json(400);
      }
    }
    return Response.json(this.#manifestOf(image));
  }

  #manifestOf(image: ImageRecord): Record<string, unknown> {
    return {
      id: image.id,
      name: image.name,
      image: `${this.url}/containers/${image.id}/download/${image.secret}`,
      tag: image.tag,
      add_date: image.addDate,
      metrics: {},
      version: this.#mode === "wrong-md5" ? "0".repeat(32) : image.md5,
      frozen: image.frozen,
      metadata: { size_mb: Math.round(image.size / (1024 * 1024)) },
      collection: image.collection,
      ...this.#forgedFields,
    };
  }

  #find(target: ContainerTarget): ImageRecord | undefined {
    const matches = this.#images.filter((image) =>
      image.collection === target.collection && image.name === target.name &&
      image.tag === target.tag && (target.version === undefined || image.md5 === target.version)
    );
    return matches.at(-1);
  }

  // HEAD/GET /containers/<id>/download/<secret>
  async #download(request: Request, id: number, secret: string): Promise<Response> {
    const image = this.#images.find((candidate) => candidate.id === id);
    if (image === undefined || image.secret !== secret) {
      return Response.json({ detail: "Not found." }, { status: 404 });
    }
    if (request.method === "HEAD" && this.#mode === "head-405") {
      return new Response(null, { status: 405 });
    }
    const headers: Record<string, string> = {
      "content-type": "application/img",
      "content-disposition":
        `attachment; filename="${image.collection}-${image.name}:${image.tag}.sif"`,
      "accept-ranges": "bytes",
    };
    let start = 0;
    let status = 200;
    const range = request.headers.get("range")?.match(/^bytes=(\d+)-$/);
    if (range) {
      start = Number(range[1]);
      if (start >= image.size) {
        return new Response(null, {
          status: 416,
          headers: { "content-range": `bytes */${image.size}` },
        });
      }
      status = 206;
      headers["content-range"] = `bytes ${start}-${image.size - 1}/${image.size}`;
    }
    const length = image.size - start;
    if (this.#mode !== "no-content-length") headers["content-length"] = String(length);
    if (request.method === "HEAD") {
      // Deno adds `content-length: 0` to a null body; an (unsent) stream body gets none.
      const body = this.#mode === "no-content-length" ? ReadableStream.from<Uint8Array>([]) : null;
      return new Response(body, { status, headers });
    }
    const file = await Deno.open(image.path);
    await file.seek(start, Deno.SeekMode.Start);
    const limit = this.#mode === "truncate" ? Math.floor(length / 2) : length;
    return new Response(limitStream(file, limit), { status, headers });
  }

  // POST /api/upload/chunked_upload
  async #authorizePush(request: Request): Promise<Response> {
    const text = await request.text();
    if (this.#mode === "push-disabled") {
      return Response.json({ detail: "Push is disabled." }, { status: 403 });
    }
    let body: { collection?: unknown; name?: unknown; tag?: unknown };
    try {
      body = JSON.parse(text);
    } catch {
      return Response.json({ detail: "JSON parse error" }, { status: 400 });
    }
    const { collection, name, tag } = body;
    if (typeof collection !== "string" || typeof name !== "string" || typeof tag !== "string") {
      return Response.json({ detail: "collection, name and tag are required" }, { status: 400 });
    }
    const auth = request.headers.get("authorization");
    if (auth === null) return Response.json({ detail: "Authentication Required" }, { status: 403 });
    if (!this.#verify(auth, "push", collection, name, tag)) {
      return Response.json({ detail: "Unauthorized" }, { status: 403 });
    }
    const existing = this.#find({ collection, name, tag });
    if (existing?.frozen) {
      return Response.json(
        { detail: `${collection}/${name}:${tag} is frozen, push not allowed.` },
        {
          status: 403,
        },
      );
    }
    return Response.json({ cid: this.#collection(collection).id });
  }

  // POST /upload: nginx's upload module, then the server's upload_complete view.
  async #upload(request: Request): Promise<Response> {
    const length = request.headers.get("content-length");
    if (/chunked/i.test(request.headers.get("transfer-encoding") ?? "")) {
      await request.body?.cancel().catch(() => {});
      return nginxError(400, "Bad Request");
    }
    if (length === null) return nginxError(411, "Length Required");
    if (
      this.#mode === "413" || (this.uploadLimit !== undefined && Number(length) > this.uploadLimit)
    ) {
      await request.body?.cancel().catch(() => {});
      return nginxError(413, "Request Entity Too Large");
    }
    const boundary = request.headers.get("content-type")?.match(
      /^multipart\/form-data;\s*boundary="?([^";]+)"?/i,
    )?.[1];
    if (boundary === undefined || request.body === null) return nginxError(400, "Bad Request");

    const path = this.#newFilePath();
    let form: ParsedForm;
    try {
      form = await parseMultipart(request.body, boundary, "file1", path);
    } catch (error) {
      await Deno.remove(path).catch(() => {});
      return nginxError(400, `Bad Request: ${error instanceof Error ? error.message : error}`);
    }
    const deny = async (detail: string) => {
      await Deno.remove(path).catch(() => {});
      return Response.json({ detail }, { status: 403 });
    };
    if (form.file === undefined) {
      return nginxError(400, "Bad Request: no file1 part");
    }
    const field = (key: string) => form.fields.find(([name]) => name === key)?.[1];
    const auth = request.headers.get("authorization");
    if (auth === null) return deny("Authentication Required");
    const cid = Number(field("collection"));
    const collection = [...this.#collections.values()].find((record) => record.id === cid);
    if (collection === undefined) return deny("Authentication Required");
    const name = field("name") ?? "";
    const tag = field("tag") ?? "";
    const event = field("SREGISTRY_EVENT") ?? "";
    if (
      !this.#verify(auth, "upload", collection.name, name, tag) ||
      !this.#verify(event, "upload", collection.name, name, tag)
    ) {
      return deny("Unauthorized");
    }
    const existing = this.#find({ collection: collection.name, name, tag });
    if (existing?.frozen) return deny(`${collection.name}/${name}:${tag} is frozen`);
    await this.#store({
      collection: collection.name,
      name,
      tag,
      md5: form.file.md5,
      size: form.file.size,
      path,
      owned: true,
      frozen: false,
      labels: {},
    });
    return Response.json({ message: "Upload Complete" });
  }

  // DELETE /api/container/<c>/<n>:<t>
  async #delete(request: Request, target: ContainerTarget): Promise<Response> {
    const image = this.#find(target);
    if (image === undefined) {
      return Response.json({ detail: "Container Not Found" }, { status: 404 });
    }
    const uri = `${image.collection}/${image.name}:${image.tag}`;
    if (image.frozen) {
      return Response.json({ detail: `${uri} is frozen, delete not allowed.` }, { status: 403 });
    }
    const auth = request.headers.get("authorization") ?? "";
    if (!this.#verify(auth, "delete", target.collection, target.name, target.tag)) {
      return Response.json({ detail: "Unauthorized" }, { status: 403 });
    }
    await this.#forget(
      this.#images.filter((candidate) =>
        candidate.collection === image.collection && candidate.name === image.name &&
        candidate.tag === image.tag
      ),
    );
    return new Response(null, { status: 204 });
  }

  // GET /api/collections/?limit=&offset=
  #collectionsPage(url: URL): Response {
    const visible = [...this.#collections.values()].filter((record) => !record.private);
    const limit = positiveInt(url.searchParams.get("limit")) ?? this.#pageSize;
    const offset = positiveInt(url.searchParams.get("offset")) ?? 0;
    const page = `${this.base}/collections/`;
    const next = offset + limit < visible.length
      ? `${page}?limit=${limit}&offset=${offset + limit}`
      : null;
    let previous: string | null = null;
    if (offset > 0) {
      previous = offset - limit <= 0
        ? `${page}?limit=${limit}`
        : `${page}?limit=${limit}&offset=${offset - limit}`;
    }
    return Response.json({
      count: visible.length,
      next,
      previous,
      results: visible.slice(offset, offset + limit).map((record) => this.#collectionOf(record)),
    });
  }

  // GET /api/collection/<name>
  #collectionDetail(name: string): Response {
    const record = this.#collections.get(name.toLowerCase());
    if (record === undefined || record.private) return Response.json({});
    return Response.json(this.#collectionOf(record));
  }

  #collectionOf(record: CollectionRecord): Record<string, unknown> {
    return {
      id: record.id,
      name: record.name,
      add_date: record.addDate,
      modify_date: record.modifyDate,
      metadata: {},
      containers: this.#images.filter((image) => image.collection === record.name).map((
        image,
      ) => ({
        name: image.name,
        tag: image.tag,
        uri: `${image.collection}/${image.name}:${image.tag}`,
        detail: `${this.url}/containers/${image.id}`,
      })),
    };
  }

  // GET /api/container/search/[collection/<c>/]name/<n>[/tag/<t>]
  #containerSearch(rest: string): Response | undefined {
    const match = rest.match(/^(?:collection\/([^/]+)\/)?name\/([^/]+)(?:\/tag\/([^/]+))?$/);
    if (!match) return undefined;
    const [collection, name, tag] = [match[1], match[2], match[3]].map((part) =>
      part === undefined ? undefined : decodeURIComponent(part).toLowerCase()
    );
    const found = this.#images.filter((image) =>
      image.name === name && (collection === undefined || image.collection === collection) &&
      (tag === undefined || image.tag === tag)
    );
    return Response.json(found.map((image) => {
      const { image: _url, ...rest } = this.#manifestOf(image);
      return rest;
    }));
  }

  // GET /api/labels/search[/<key>/key][/<value>/value]
  #labelSearch(rest: string | undefined): Response | undefined {
    let key: string | undefined;
    let value: string | undefined;
    if (rest !== undefined && rest !== "") {
      const match = rest.match(/^(?:([^/]+)\/key)?\/?(?:([^/]+)\/value)?$/);
      if (!match || (match[1] === undefined && match[2] === undefined)) return undefined;
      key = match[1] === undefined ? undefined : decodeURIComponent(match[1]);
      value = match[2] === undefined ? undefined : decodeURIComponent(match[2]);
    }
    const labels = new Map<string, { key: string; value: string; containers: string[] }>();
    for (const image of this.#images) {
      for (const [k, v] of Object.entries(image.labels)) {
        if ((key !== undefined && k !== key) || (value !== undefined && v !== value)) continue;
        const id = JSON.stringify([k, v]);
        const entry = labels.get(id) ?? { key: k, value: v, containers: [] };
        entry.containers.push(`${image.collection}/${image.name}:${image.tag}`);
        labels.set(id, entry);
      }
    }
    return Response.json([...labels.values()]);
  }

  // Checks an SREGISTRY-HMAC-SHA256 header as shub/apps/api/utils.py validate_request does.
  #verify(auth: string, kind: Action, collection: string, name: string, tag: string): boolean {
    const space = auth.indexOf(" ");
    if (space < 0) return false;
    if (auth.slice(0, space) !== "SREGISTRY-HMAC-SHA256") return false;
    const values = new Map<string, string>();
    for (const entry of auth.slice(space + 1).split(",")) {
      const eq = entry.indexOf("=");
      if (eq >= 0) values.set(entry.slice(0, eq), entry.slice(eq + 1));
    }
    const credential = values.get("Credential");
    const signature = values.get("Signature");
    if (credential === undefined || signature === undefined) return false;
    const parts = credential.split("/");
    if (parts.length !== 3) return false;
    const [credentialKind, encodedUser, timestamp] = parts;
    if (credentialKind !== kind) return false;
    if (timestamp !== hourStamp(this.#clock())) return false;
    const user = Buffer.from(encodedUser, "base64").toString("utf8");
    const token = this.#users[user];
    if (token === undefined) return false;
    const payload = `${kind}|${collection}|${timestamp}|${name}|${tag}|`;
    const expected = Buffer.from(createHmac("sha256", token).update(payload).digest("hex"));
    const given = Buffer.from(signature);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
}

/** Starts a fake Singularity Registry Server on 127.0.0.1 with a free port. */
export async function startFakeRegistry(options: FakeRegistryOptions = {}): Promise<FakeRegistry> {
  const dir = await Deno.makeTempDir({ prefix: "sregistry-fake-registry-" });
  return new FakeRegistry(dir, options);
}

interface ContainerTarget {
  collection: string;
  name: string;
  tag: string;
  version?: string;
}

// Which forgeable route a request is for, if any.
function routeOf(method: string, path: string): FakeRegistryRoute | undefined {
  if (path === "/upload" && method === "POST") return "upload";
  if (!path.startsWith("/api/")) return undefined;
  const rest = path.slice("/api/".length).replace(/\/$/, "");
  if (rest === "upload/chunked_upload" && method === "POST") return "push";
  if (method === "GET" && rest === "collections") return "collections";
  if (method === "GET" && rest.startsWith("collection/")) return "collection";
  if (method === "GET" && rest.startsWith("container/search/")) return "search";
  if (method === "GET" && rest.startsWith("labels/search")) return "labels";
  if (/^container\/[^/]+\/.+$/.test(rest)) {
    if (method === "GET") return "manifest";
    if (method === "DELETE") return "delete";
  }
  return undefined;
}

// `<n>:<t>@<v>`, `<n>:<t>`, `<n>@<v>` or `<n>`, as the server's URL patterns split them.
function parseContainerPath(collection: string, rest: string): ContainerTarget {
  let version: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    version = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  const colon = rest.indexOf(":");
  const name = colon >= 0 ? rest.slice(0, colon) : rest;
  const tag = colon >= 0 ? rest.slice(colon + 1) : "latest";
  return { collection, name, tag, version };
}

function publicImage(image: ImageRecord): StoredImage {
  const { secret: _secret, owned: _owned, ...rest } = image;
  return { ...rest, labels: { ...rest.labels } };
}

function hourStamp(date: Date): string {
  const iso = date.toISOString(); // YYYY-MM-DDTHH:...
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}T${iso.slice(11, 13)}Z`;
}

function positiveInt(value: string | null): number | undefined {
  if (value === null || !/^\d+$/.test(value)) return undefined;
  return Number(value);
}

function nginxError(status: number, reason: string): Response {
  const body = `<html>\r\n<head><title>${status} ${reason}</title></head>\r\n<body>\r\n` +
    `<center><h1>${status} ${reason}</h1></center>\r\n<hr><center>nginx</center>\r\n` +
    `</body>\r\n</html>\r\n`;
  return new Response(body, { status, headers: { "content-type": "text/html" } });
}

async function hashFile(path: string): Promise<{ md5: string; size: number }> {
  const hash = createHash("md5");
  let size = 0;
  using file = await Deno.open(path);
  const block = new Uint8Array(HASH_BLOCK);
  while (true) {
    const read = await file.read(block);
    if (read === null) break;
    hash.update(block.subarray(0, read));
    size += read;
  }
  return { md5: hash.digest("hex"), size };
}

function limitStream(file: Deno.FsFile, limit: number): ReadableStream<Uint8Array> {
  let left = limit;
  return new ReadableStream({
    type: "bytes",
    async pull(controller) {
      if (left <= 0) {
        file.close();
        controller.close();
        return;
      }
      const block = new Uint8Array(Math.min(HASH_BLOCK, left));
      const read = await file.read(block);
      if (read === null) {
        file.close();
        controller.close();
        return;
      }
      left -= read;
      controller.enqueue(block.subarray(0, read));
    },
    cancel() {
      file.close();
    },
  });
}

interface ParsedForm {
  /** Text fields in the order received. */
  fields: [string, string][];
  /** The file part, written to the target path. */
  file?: { filename: string; contentType: string; md5: string; size: number };
}

/**
 * Parses a multipart/form-data stream; the part named `fileField` goes to `path` while hashed,
 * coalesced into 1 MiB blocks, and other parts are collected as text.
 */
async function parseMultipart(
  body: ReadableStream<Uint8Array>,
  boundary: string,
  fileField: string,
  path: string,
): Promise<ParsedForm> {
  const delimiter = encoder.encode(`\r\n--${boundary}`);
  const headerEnd = encoder.encode("\r\n\r\n");
  const form: ParsedForm = { fields: [] };
  type State = "preamble" | "after-boundary" | "headers" | "body" | "done";
  let state = "preamble" as State;
  // The body starts with `--B`, so a leading CRLF lets one delimiter pattern match every part.
  let buffer: Uint8Array = encoder.encode("\r\n");
  let part: { name: string; filename?: string; contentType: string } | undefined;
  let text: Uint8Array[] = [];
  const sink = new FileSink(path);

  const emit = async (bytes: Uint8Array) => {
    if (bytes.length === 0 || part === undefined) return;
    if (part.name === fileField) await sink.write(bytes);
    else text.push(bytes.slice());
  };

  try {
    const reader = body.getReader();
    let ended = false;
    while (state !== "done") {
      let progressed = true;
      while (progressed && state !== "done") {
        progressed = false;
        if (state === "preamble" || state === "body") {
          const index = find(buffer, delimiter);
          if (index < 0) {
            const keep = Math.min(buffer.length, delimiter.length - 1);
            if (state === "body") await emit(buffer.subarray(0, buffer.length - keep));
            buffer = buffer.slice(buffer.length - keep);
            break;
          }
          if (state === "body") {
            await emit(buffer.subarray(0, index));
            if (part?.name === fileField) {
              if (form.file !== undefined) throw new Error(`more than one ${fileField} part`);
              form.file = {
                filename: part.filename ?? "",
                contentType: part.contentType,
                ...await sink.finish(),
              };
            } else if (part !== undefined) {
              form.fields.push([part.name, new TextDecoder().decode(concat(text))]);
            }
            part = undefined;
            text = [];
          }
          buffer = buffer.subarray(index + delimiter.length);
          state = "after-boundary";
          progressed = true;
        } else if (state === "after-boundary") {
          if (buffer.length < 2) break;
          const marker = String.fromCharCode(buffer[0], buffer[1]);
          if (marker === "--") state = "done";
          else if (marker === "\r\n") state = "headers";
          else throw new Error("malformed boundary line");
          buffer = buffer.subarray(2);
          progressed = true;
        } else if (state === "headers") {
          const index = find(buffer, headerEnd);
          if (index < 0) {
            if (buffer.length > 16 * 1024) throw new Error("part headers too long");
            break;
          }
          part = parsePartHeaders(new TextDecoder().decode(buffer.subarray(0, index)));
          buffer = buffer.subarray(index + headerEnd.length);
          state = "body";
          progressed = true;
        }
      }
      if (state === "done") break;
      if (ended) throw new Error("body ended before the closing boundary");
      const { value, done } = await reader.read();
      if (done) ended = true;
      else buffer = buffer.length === 0 ? value : concat([buffer, value]);
    }
    // Drain the epilogue so the connection stays usable.
    while (!(await reader.read()).done) { /* discard */ }
    return form;
  } finally {
    sink.close();
  }
}

// Uint8Array.indexOf finds candidate first bytes natively; node's Buffer.indexOf is slower here.
function find(haystack: Uint8Array, needle: Uint8Array): number {
  const last = haystack.length - needle.length;
  let at = Uint8Array.prototype.indexOf.call(haystack, needle[0]);
  while (at >= 0 && at <= last) {
    let matched = 1;
    while (matched < needle.length && haystack[at + matched] === needle[matched]) matched++;
    if (matched === needle.length) return at;
    at = Uint8Array.prototype.indexOf.call(haystack, needle[0], at + 1);
  }
  return -1;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const joined = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    joined.set(part, offset);
    offset += part.length;
  }
  return joined;
}

function parsePartHeaders(text: string): { name: string; filename?: string; contentType: string } {
  let name: string | undefined;
  let filename: string | undefined;
  let contentType = "text/plain";
  for (const line of text.split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon < 0) continue;
    const key = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (key === "content-disposition") {
      name = value.match(/(?:^|;)\s*name="([^"]*)"/)?.[1];
      filename = value.match(/;\s*filename="([^"]*)"/)?.[1];
    } else if (key === "content-type") {
      contentType = value;
    }
  }
  if (name === undefined) throw new Error("part without a name");
  return { name, filename, contentType };
}

// Writes a file part to disk in 1 MiB blocks, hashing each block once.
class FileSink {
  readonly #path: string;
  #file: Deno.FsFile | undefined;
  #hash = createHash("md5");
  #block = new Uint8Array(HASH_BLOCK);
  #filled = 0;
  #size = 0;

  constructor(path: string) {
    this.#path = path;
  }

  async write(bytes: Uint8Array): Promise<void> {
    this.#file ??= await Deno.open(this.#path, { write: true, create: true, truncate: true });
    let offset = 0;
    while (offset < bytes.length) {
      const take = Math.min(bytes.length - offset, this.#block.length - this.#filled);
      this.#block.set(bytes.subarray(offset, offset + take), this.#filled);
      this.#filled += take;
      offset += take;
      if (this.#filled === this.#block.length) await this.#flush();
    }
  }

  async finish(): Promise<{ md5: string; size: number }> {
    this.#file ??= await Deno.open(this.#path, { write: true, create: true, truncate: true });
    await this.#flush();
    return { md5: this.#hash.digest("hex"), size: this.#size };
  }

  close(): void {
    this.#file?.close();
    this.#file = undefined;
  }

  async #flush(): Promise<void> {
    if (this.#filled === 0 || this.#file === undefined) return;
    const block = this.#block.subarray(0, this.#filled);
    this.#hash.update(block);
    let written = 0;
    while (written < block.length) written += await this.#file.write(block.subarray(written));
    this.#size += block.length;
    this.#filled = 0;
  }
}
