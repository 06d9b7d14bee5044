/**
 * OCI registries (`oras://`), as Apptainer and SingularityCE use them for SIF images: pull and
 * record (manifest, index by platform, the SIF layer), push (Apptainer's exact artifact), search
 * (tags, or the catalog), delete, and the check of a pulled image (its tag's manifest digest by
 * HEAD). Names are checked by the OCI grammar and by sregistry's name parser before any request;
 * credentials come from oci_credentials.ts.
 */
import { NotFoundError, RemoteError, UnsupportedError, UsageError } from "../errors.ts";
import { isRegistryHost } from "../core/names.ts";
import { isSifImage } from "../core/image_format.ts";
import type {
  CheckPlan,
  ClientEnvironment,
  PushResult,
  RemoteCheck,
  RemoteClient,
  RemoteImage,
  SearchResults,
} from "./client.ts";
import { findCredential } from "./oci_credentials.ts";
import {
  EMPTY_CONFIG,
  EMPTY_CONFIG_DIGEST,
  OCI_MANIFEST,
  platformEntry,
  sifLayer,
  sifManifest,
} from "./oci_manifest.ts";
import {
  formatOciReference,
  type OciReference,
  parseOciReference,
  parseRegistryHost,
  recordedName,
} from "./oci_reference.ts";
import {
  apiPath,
  blobExists,
  deleteManifest,
  getManifest,
  listCatalog,
  type Listing,
  listTags,
  manifestDigest,
  pullScope,
  putManifest,
} from "./oci_registry.ts";
import { OciSession } from "./oci_session.ts";
import { FALLBACK_CHUNK, uploadBytes, uploadFileBlob } from "./oci_upload.ts";
import { cachedLayerPaths, chunkSize, isInsecureHost, isProxied } from "./oras_settings.ts";

/** Builds the OCI registry client. */
export function orasClient(environment: ClientEnvironment): RemoteClient {
  const sessions = new Map<string, OciSession>();
  // One session per repository: credentials may be filed per repository.
  const sessionFor = (registry: string, repository: string | null) => {
    const key = `${registry}/${repository ?? ""}`;
    let session = sessions.get(key);
    if (session === undefined) {
      session = new OciSession({
        registry,
        http: environment.http,
        insecure: isInsecureHost(environment, registry),
        insecureHost: (host) => isInsecureHost(environment, host),
        credential: () =>
          findCredential(
            { env: environment.env, secrets: environment.secrets() },
            registry,
            repository,
          ),
      });
      sessions.set(key, session);
    }
    return session;
  };

  const client: RemoteClient = {
    name: "oras",
    capabilities: new Set(["pull", "record", "push", "search", "delete"]),
    describe: () => "OCI registries (oras://host/repository:tag)",

    async resolve(uri): Promise<RemoteImage> {
      const reference = parseOciReference(uri);
      const session = sessionFor(reference.registry, reference.repository);
      const asked = reference.digest ?? reference.tag!;
      const top = await getManifest(session, reference.repository, asked);
      let fetched = top;
      if (top.manifest.kind === "index") {
        const entry = platformEntry(top.manifest, Deno.build.arch);
        fetched = await getManifest(session, reference.repository, entry.digest);
      }
      if (fetched.manifest.kind !== "image") {
        throw new UnsupportedError("the index points at another index, which is not supported");
      }
      const layer = sifLayer(fetched.manifest);
      const blobUrl = await session.url(apiPath(reference.repository, "blobs", layer.digest));
      const pinned: OciReference = { ...reference, digest: top.digest };
      return {
        name: recordedName(reference),
        downloadUrl: blobUrl.href,
        expectedMd5: null,
        authorize: session.authorizer([pullScope(reference.repository)], blobUrl),
        ...(reference.tag === null ? {} : { remoteTag: reference.tag }),
        recordUrl: `oras://${formatOciReference(pinned)}`,
        blob: {
          digest: layer.digest,
          size: layer.size,
          copies: cachedLayerPaths(environment, layer.digest),
        },
        metadata: {
          registry: reference.registry,
          repository: reference.repository,
          tag: reference.tag,
          manifest_digest: fetched.digest,
          manifest_media_type: fetched.manifest.mediaType,
          ...(top === fetched ? {} : { index_digest: top.digest }),
          artifact_type: fetched.manifest.artifactType,
          config_media_type: fetched.manifest.config.mediaType,
          layer_digest: layer.digest,
          layer_media_type: layer.mediaType,
          size: layer.size,
          title: layer.annotations["org.opencontainers.image.title"] ?? null,
        },
      };
    },

    async push(file, name, options): Promise<PushResult> {
      const reference = pushTarget(options.target ?? "", options.tag);
      if (!isSifImage(file)) {
        throw new UsageError(`${file} is not a SIF image (no SIF magic at byte 32)`, {
          hint: "oras:// carries SIF images; build one with apptainer first",
        });
      }
      const session = sessionFor(reference.registry, reference.repository);
      const proxied = isProxied(environment, new URL(await session.origin()));
      const size = chunkSize(environment) ?? (proxied ? FALLBACK_CHUNK : null);
      await uploadBytes(session, reference.repository, EMPTY_CONFIG, EMPTY_CONFIG_DIGEST);
      // A layer sregistry pulled has a known digest: the registry may have it already.
      const known = options.knownLayer ?? null;
      const present = known !== null &&
        await blobExists(session, reference.repository, known.digest);
      const layer = present ? known : await uploadFileBlob(session, reference.repository, file, {
        chunkSize: size,
        onProgress: options.onProgress,
      });
      const last = reference.repository.split("/").pop()!;
      const bytes = sifManifest({ ...layer, title: `${last}_${reference.tag}.sif` });
      const digest = await putManifest(session, reference.repository, reference.tag!, {
        bytes,
        mediaType: OCI_MANIFEST,
      });
      return {
        name,
        md5: null,
        size: layer.size,
        remoteMd5: null,
        message: present ? "Pushed (the registry had the layer already)" : "Pushed",
        digest,
        reference: `oras://${formatOciReference({ ...reference, digest })}`,
      };
    },

    async search(query, options = {}): Promise<SearchResults> {
      if (query === null) {
        throw new UsageError("search needs a registry or a repository", {
          hint: "sregistry search oras://host[:port][/repository]",
        });
      }
      const bare = query.replace(/\/+$/, "");
      if (!bare.includes("/") && isRegistryHost(bare)) {
        return await catalog(sessionFor(parseRegistryHost(bare), null));
      }
      const reference = parseOciReference(bare);
      const session = sessionFor(reference.registry, reference.repository);
      return await tagResults(session, reference, options.detailed === true, query);
    },

    async delete(uri): Promise<string> {
      const reference = parseOciReference(uri);
      const session = sessionFor(reference.registry, reference.repository);
      const digest = reference.digest ??
        await manifestDigest(session, reference.repository, reference.tag!);
      await deleteManifest(session, reference.repository, digest);
      return `oras://${formatOciReference({ ...reference, digest })}`;
    },

    check(record): CheckPlan {
      const reference = recordedReference(record.url);
      if (reference === null) {
        return { endpoint: null, reason: "its URL is not an oras:// reference with a digest" };
      }
      const session = sessionFor(reference.registry, reference.repository);
      const tag = reference.tag;
      const uri = formatOciReference(tag === null ? reference : { ...reference, digest: null });
      const layer = (record.metadata as Record<string, unknown> | null)?.layer_digest;
      const run = async (): Promise<RemoteCheck> => {
        // HEAD first: a registry answers it with the digest and counts no pull (Docker Hub).
        const digest = await manifestDigest(
          session,
          reference.repository,
          tag ?? reference.digest!,
        );
        if (digest === reference.digest) {
          const reason = tag === null
            ? "pinned to a digest that the registry still has"
            : "the tag names the same manifest";
          return { state: "current", remoteVersion: digest, reason };
        }
        // Another manifest may still carry the same SIF layer (new annotations, say).
        const now = await client.resolve!(uri, {});
        return typeof layer === "string" && now.blob?.digest === layer
          ? { state: "current", remoteVersion: digest, reason: "a new manifest of the same image" }
          : { state: "outdated", remoteVersion: digest, reason: `the tag now names ${digest}` };
      };
      return {
        endpoint: reference.registry,
        uri,
        run: () =>
          run().catch((error) => {
            if (!(error instanceof NotFoundError)) throw error;
            return { state: "gone", remoteVersion: null, reason: error.message };
          }),
      };
    },
  };
  return client;
}

// The reference a record was pulled by (`oras://host/repository[:tag]@sha256:...`), or null.
function recordedReference(url: string): OciReference | null {
  if (!/^oras:\/\//i.test(url)) return null;
  try {
    const reference = parseOciReference(url.slice("oras://".length));
    return reference.digest === null ? null : reference;
  } catch {
    return null;
  }
}

function pushTarget(target: string, tag: string | undefined): OciReference {
  const reference = parseOciReference(target);
  if (reference.digest !== null) {
    throw new UsageError("push names a tag, not a digest", {
      hint: "drop the @sha256:... part; the digest is printed after the push",
    });
  }
  if (tag === undefined) return reference;
  return parseOciReference(`${reference.registry}/${reference.repository}:${tag}`);
}

async function catalog(session: OciSession): Promise<SearchResults> {
  let repositories: Listing;
  try {
    repositories = await listCatalog(session);
  } catch (error) {
    const refused = error instanceof NotFoundError ||
      (error instanceof RemoteError && [401, 403, 405].includes(error.status ?? 0));
    if (!refused) throw error;
    throw new UnsupportedError(`${session.registry} does not list its repositories`, {
      hint:
        `search one repository instead: sregistry search oras://${session.registry}/<repository>`,
      cause: error,
    });
  }
  const records = repositories.names.map((repository) => ({
    uri: `oras://${session.registry}/${repository}`,
    registry: session.registry,
    repository,
  }));
  return {
    title: `Repositories on ${session.registry}`,
    columns: ["URI"],
    rows: records.map((record) => [record.uri]),
    records,
    warnings: repositories.skipped,
  };
}

async function tagResults(
  session: OciSession,
  reference: OciReference,
  detailed: boolean,
  query: string,
): Promise<SearchResults> {
  // A tag in the query filters the tags; the default `latest` does not.
  const filter = query.slice(query.lastIndexOf("/") + 1).includes(":") ? reference.tag : null;
  const listed = await listTags(session, reference.repository);
  const tags = listed.names.filter((tag) => filter === null || tag.includes(filter));
  const base = `${reference.registry}/${reference.repository}`;
  const records: Record<string, unknown>[] = [];
  const warnings = [...listed.skipped];
  for (const tag of tags) {
    const record: Record<string, unknown> = {
      uri: `oras://${base}:${tag}`,
      registry: reference.registry,
      repository: reference.repository,
      tag,
    };
    if (detailed) {
      try {
        Object.assign(record, await tagDetails(session, reference.repository, tag));
      } catch (error) {
        // A tag deleted since the listing, or not an image: that tag only.
        if (!(error instanceof NotFoundError || error instanceof UnsupportedError)) throw error;
        warnings.push(`${base}:${tag} is listed, but ${error.message}; skipped`);
        continue;
      }
    }
    records.push(record);
  }
  return {
    warnings,
    title: `Tags of ${base}`,
    columns: detailed ? ["URI", "DIGEST", "SIZE"] : ["URI"],
    rows: records.map((record) =>
      detailed ? [String(record.uri), String(record.digest), String(record.size ?? "")] : [
        String(record.uri),
      ]
    ),
    records,
  };
}

// The manifest digest of a tag and the size of its SIF layer (null when it is no SIF artifact).
async function tagDetails(
  session: OciSession,
  repository: string,
  tag: string,
): Promise<{ digest: string; size: number | null; media_type: string }> {
  const fetched = await getManifest(session, repository, tag);
  let size: number | null = null;
  if (fetched.manifest.kind === "image") {
    try {
      size = sifLayer(fetched.manifest).size;
    } catch {
      size = null;
    }
  }
  return { digest: fetched.digest, size, media_type: fetched.manifest.mediaType };
}
