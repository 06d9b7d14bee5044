/**
 * Singularity Registry Server (`registry://`; reference §6.2): pull with a signed retry on 403,
 * push (collection request, then a streamed multipart upload whose MD5 the server must echo),
 * delete, search in every form, label search, and the check of a pulled image against its tag's
 * manifest now. Every signed request uses registry_auth.ts; every answer is checked by answers.ts
 * before it is used.
 */
import { ConfigError, IntegrityError, NotFoundError, RemoteError, UsageError } from "../errors.ts";
import {
  formatImageName,
  type ImageName,
  isHostAndPort,
  isRegistryHost,
  parseImageName,
} from "../core/names.ts";
import { Md5 } from "../core/md5.ts";
import {
  discard,
  hostOf,
  type HttpOptions,
  type JsonAnswer,
  readJson,
  redactUrl,
  request,
} from "../transfer/http.ts";
import { uploadMultipart } from "../transfer/upload.ts";
import type { RegistryAction } from "./registry_auth.ts";
import type {
  CheckPlan,
  ClientEnvironment,
  PushOptions,
  PushResult,
  RemoteClient,
  RemoteImage,
  SearchResults,
} from "./client.ts";
import {
  type Asked,
  containerPath,
  imageUrl,
  manifestName,
  objectAnswer,
  requiredText,
  textField,
  wrongShape,
} from "./answers.ts";
import { searchLabels, searchRegistry } from "./registry_search.ts";
import { byManifestVersion, missingManifest } from "./freshness.ts";
import { registryCredentials, registrySettings } from "./registry_settings.ts";

/** Builds the Singularity Registry Server client. */
export function registryClient(environment: ClientEnvironment): RemoteClient {
  const settings = () => registrySettings(environment);
  const http = {
    ...environment.http,
    plainHttpHint: "use an http:// SREGISTRY_REGISTRY_BASE, or for a host in the URI set " +
      "SREGISTRY_REGISTRY_NOHTTPS=true",
  };
  // Signing loads node:crypto, which only signed requests should pay for at start-up.
  const sign = async (action: RegistryAction, name: ImageName) => {
    const { authorizationHeader } = await import("./registry_auth.ts");
    const { username, token } = registryCredentials(environment, action);
    return authorizationHeader({
      action,
      collection: name.collection,
      name: name.name,
      tag: name.tag,
      username,
      token,
    });
  };
  const baseFor = (name: ImageName | null) => apiBase(settings(), name?.registry ?? null);

  const client: RemoteClient = {
    name: "registry",
    capabilities: new Set(["pull", "record", "push", "search", "delete", "labels"]),
    describe: () => settings().base ?? "(no SREGISTRY_REGISTRY_BASE)",

    async resolve(uri): Promise<RemoteImage> {
      const asked = parseImageName(uri);
      const base = baseFor(asked);
      const server = `the registry ${hostOf(base)}`;
      const manifest = await fetchManifest(base, asked, http, () => sign("pull", asked));
      const fields = objectAnswer(manifest);
      const downloadUrl = imageUrl(requiredText(manifest, fields, "image"), server);
      const { name, expectedMd5, notes } = manifestName(server, asked, {
        registry: asked.registry,
        collection: textField(manifest, fields, "collection") ?? asked.collection,
        name: textField(manifest, fields, "name") ?? asked.name,
        tag: textField(manifest, fields, "tag") ?? asked.tag,
        version: textField(manifest, fields, "version"),
      });
      return { name, downloadUrl, expectedMd5, metadata: fields, notes };
    },

    async push(file, name, options: PushOptions): Promise<PushResult> {
      const base = baseFor(name);
      const collectionUrl = `${base}/upload/chunked_upload`;
      const response = await request(collectionUrl, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "application/json",
          authorization: await sign("push", name),
        },
        body: JSON.stringify({ collection: name.collection, name: name.name, tag: name.tag }),
      }, http);
      const answer = await readJson(response, http);
      if (response.status !== 200) {
        throw new RemoteError(
          `the registry refused the collection ${name.collection}: ${detail(answer)}`,
          { status: response.status, hint: hintFor(response.status) },
        );
      }
      const collection = { answer, what: `the push of ${displayName(name)}` };
      const cid = objectAnswer(collection).cid;
      // The id goes into the upload's form: a number, never text that could break the form.
      if (!(Number.isSafeInteger(cid) || (typeof cid === "string" && /^\d{1,15}$/.test(cid)))) {
        throw wrongShape(collection, "a collection id 'cid'", cid);
      }
      let hash = new Md5();
      // The file's size as the upload measured it (it fails if the file changes meanwhile).
      let fileSize = 0;
      const signature = await sign("upload", name);
      const uploadUrl = `${base.replace(/\/api$/, "")}/upload`;
      const upload = await uploadMultipart(uploadUrl, {
        fields: [
          ["SREGISTRY_EVENT", signature],
          ["name", name.name],
          ["collection", String(cid)],
          ["tag", name.tag],
        ],
        file: {
          field: "file1",
          path: file,
          filename: `${name.name}:${name.tag}.sif`,
          contentType: "text/plain",
        },
        headers: { authorization: signature },
        userAgent: http.userAgent,
        signal: http.signal,
        timeoutMs: http.stallTimeoutMs,
        retry: http,
        onAttempt: () => hash = new Md5(),
        onChunk: (chunk) => hash.update(chunk),
        onProgress: (sent, total) => {
          fileSize = total;
          options.onProgress?.(sent, total);
        },
      });
      if (upload.status === 413) {
        throw new RemoteError(
          `the server's upload limit was hit: the image is ${fileSize} bytes (${
            gib(fileSize)
          } GiB)`,
          { status: 413, hint: "ask the registry's admin to raise nginx's client_max_body_size" },
        );
      }
      const uploaded: JsonAnswer = {
        value: parseJson(upload.body),
        status: upload.status,
        url: uploadUrl,
        contentType: upload.headers["content-type"] ?? null,
        empty: upload.body === "",
      };
      if (upload.status < 200 || upload.status >= 300) {
        throw new RemoteError(
          `upload of ${file} failed: HTTP ${upload.status} ${
            detailOf(uploaded.value) ?? upload.statusText
          }`,
          { status: upload.status, hint: hintFor(upload.status) },
        );
      }
      const uploadAnswer = { answer: uploaded, what: `the upload of ${file}` };
      const message = requiredText(uploadAnswer, objectAnswer(uploadAnswer), "message");
      const md5 = hash.digest();
      const stored = await fetchManifest(base, name, http, () => sign("pull", name));
      const remoteMd5 = textField(stored, objectAnswer(stored), "version")?.toLowerCase() ?? null;
      if (remoteMd5 !== null && remoteMd5 !== md5) {
        throw new IntegrityError(
          `the registry stored ${name.collection}/${name.name}:${name.tag} with MD5 ${remoteMd5}, ` +
            `but the file sent has MD5 ${md5}`,
          { hint: "push it again" },
        );
      }
      return {
        name: { ...name, version: remoteMd5 ?? md5 },
        md5,
        size: fileSize,
        remoteMd5,
        message,
      };
    },

    async delete(uri): Promise<string> {
      const name = parseImageName(uri);
      const base = baseFor(name);
      const url = containerUrl(base, name);
      const response = await request(url, {
        method: "DELETE",
        headers: { authorization: await sign("delete", name) },
      }, http);
      const answer = await readJson(response, http);
      if (response.status === 404) {
        throw new NotFoundError(`${displayName(name)} does not exist on ${hostOf(base)}`);
      }
      if (response.status === 403) {
        const why = detail(answer);
        const hint = /frozen/i.test(why)
          ? "a frozen image must be unfrozen on the server first"
          : `${hintFor(403)}; the image may also be frozen`;
        throw new RemoteError(`the registry refused to delete ${displayName(name)}: ${why}`, {
          status: 403,
          hint,
        });
      }
      if (response.status < 200 || response.status >= 300) {
        throw new RemoteError(`DELETE ${redactUrl(url)}: ${detail(answer)}`, {
          status: response.status,
        });
      }
      // 204 No Content, or a JSON object saying what was done; an HTML page is not a deletion.
      if (response.status !== 204 && !answer.empty) {
        objectAnswer({ answer, what: `the deletion of ${displayName(name)}` });
      }
      return displayName(name);
    },

    search(query): Promise<SearchResults> {
      // `registry://host/...` searches that host, as pull, push and delete use it.
      const host = query?.match(/^([^/]+)\/(.*)$/);
      const named = host && isRegistryHost(host[1]) ? host[1] : null;
      if (named !== null && !isHostAndPort(named)) {
        throw new UsageError(
          `invalid search query ${JSON.stringify(query)}: ${
            JSON.stringify(named)
          } is not a host name with an optional :port`,
        );
      }
      return searchRegistry(apiBase(settings(), named), named === null ? query : host![2], http);
    },

    labels(key, value): Promise<SearchResults> {
      return searchLabels(baseFor(null), key, value, http);
    },

    check(record): CheckPlan {
      const missing = missingManifest(record, "Registry Server");
      if (missing !== null) return { endpoint: null, reason: missing };
      const uri = formatImageName(record.name, { withVersion: false });
      return {
        endpoint: hostOf(baseFor(record.name)),
        uri,
        run: () => byManifestVersion(record, () => client.resolve!(uri, {})),
      };
    },
  };
  return client;
}

/** The API base for a name: its registry host when it has one, else the configured base. */
function apiBase(settings: { base: string | null; noHttps: boolean }, host: string | null): string {
  if (host !== null) return `${settings.noHttps ? "http" : "https"}://${host}/api`;
  if (settings.base === null) {
    throw new ConfigError("no Singularity Registry Server is configured", {
      hint: "set SREGISTRY_REGISTRY_BASE, or run 'sregistry backend add registry base <url>'",
    });
  }
  return settings.base;
}

// GET the manifest; a 403 is retried once with a pull signature (private images).
async function fetchManifest(
  base: string,
  name: ImageName,
  http: HttpOptions,
  signPull: () => Promise<string>,
): Promise<Asked> {
  const url = containerUrl(base, name);
  let response = await request(url, { headers: { accept: "application/json" } }, http);
  if (response.status === 403) {
    await discard(response);
    response = await request(url, {
      headers: { accept: "application/json", authorization: await signPull() },
    }, http);
  }
  const answer = await readJson(response, http);
  const shown = displayName(name);
  if (response.status === 404) {
    throw new NotFoundError(`${shown} was not found on ${hostOf(base)}`);
  }
  if (response.status === 401 || response.status === 403) {
    throw new RemoteError(`not allowed to pull ${shown} (HTTP ${response.status})`, {
      status: response.status,
      hint: "check SREGISTRY_REGISTRY_USERNAME and SREGISTRY_REGISTRY_TOKEN",
    });
  }
  if (response.status !== 200) {
    throw new RemoteError(`GET ${redactUrl(url)}: ${detail(answer)}`, {
      status: response.status,
    });
  }
  // The server's quirk: errors sent as HTTP 200 with a bare status number as the body.
  if (answer.value === 400) {
    throw new RemoteError(`the registry rejected the request for ${shown} (400)`, {
      hint: "is it a private image? check SREGISTRY_REGISTRY_USERNAME and SREGISTRY_REGISTRY_TOKEN",
    });
  }
  if (answer.value === 429) {
    throw new RemoteError(`the registry is rate limiting requests for ${shown} (429)`, {
      hint: "wait a while and try again",
    });
  }
  return { answer, what: `the manifest of ${shown}` };
}

// The API address of one image: `<base>/container/<collection>/<name>:<tag>[@<version>]`.
function containerUrl(base: string, name: ImageName): string {
  return `${base}/container/${containerPath(name)}`;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function detailOf(body: unknown): string | null {
  if (typeof body !== "object" || body === null) return null;
  const record = body as Record<string, unknown>;
  const value = record.detail ?? record.message ?? record.error;
  // A server's words go into a one-line message: a sentence, not a page.
  return typeof value === "string" ? value.slice(0, 200) : null;
}

function detail(answer: JsonAnswer): string {
  return detailOf(answer.value) ?? `HTTP ${answer.status}`;
}

function hintFor(status: number): string | undefined {
  if (status === 401 || status === 403) {
    return "check SREGISTRY_REGISTRY_USERNAME and SREGISTRY_REGISTRY_TOKEN (the server's token page)";
  }
  return undefined;
}

function displayName(name: ImageName): string {
  return formatImageName(name);
}

function gib(bytes: number): string {
  return (bytes / 1024 ** 3).toFixed(2);
}
