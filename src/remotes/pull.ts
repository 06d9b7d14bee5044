/**
 * Pulling: resolve a name with a client, download through the transfer layer (verified, resumable,
 * one writer per target), then place and record the image in one transaction. Also `record`
 * from a remote: the manifest only, no file. An OCI layer is checked for its size, SHA-256 and
 * SIF magic in the same pass, and taken from a local copy with that digest when there is one.
 */
import { basename, dirname, resolve } from "node:path";
import { ConflictError, IntegrityError, InterruptedError, reason, UsageError } from "../errors.ts";
import { findByFile, findByLayerDigest, findContainers } from "../core/containers.ts";
import { copyAndHash } from "../core/ingest.ts";
import { isSifImage } from "../core/image_format.ts";
import { commitImage, type PlacedImage, prepareFolder, storageWriteError } from "../core/add.ts";
import { readImageFacts } from "../core/image_inspection.ts";
import { formatImageName, type ImageName, withVersion } from "../core/names.ts";
import { recordImage } from "../core/record.ts";
import { imageFile, noteUse, type Registry } from "../core/registry.ts";
import {
  exists,
  partPath,
  placeFile,
  pruneEmptyFolders,
  removeIfPresent,
  unusablePath,
} from "../core/storage.ts";
import { type DownloadResult, downloadToFile } from "../transfer/download.ts";
import { withDownloadLock } from "../transfer/lock.ts";
import type { HttpOptions } from "../transfer/http.ts";
import type { ProgressListener } from "../transfer/progress.ts";
import type { RemoteClient, RemoteImage } from "./client.ts";
import { requireCapability } from "./clients.ts";

/** How to pull. */
export interface PullOptions {
  /** Name hint for clients that cannot name the image themselves (plain URLs). */
  nameHint?: string;
  /** Replace an existing image instead of keeping it. */
  force: boolean;
  /** HTTP behaviour, including the interrupt signal. */
  http: HttpOptions;
  /** Download progress. */
  onProgress?: ProgressListener;
  /** Told when another process is already downloading the same image. */
  onWait?: () => void;
}

/** The outcome of a pull into storage. */
export interface StoredPull extends PlacedImage {
  /** False when the image was already in storage and kept as it was. */
  downloaded: boolean;
  /** The resolved remote image. */
  remote: RemoteImage;
}

/** Pulls an image into storage and records it with its manifest and URL. */
export async function pullImage(
  registry: Registry,
  client: RemoteClient,
  uri: string,
  options: PullOptions,
): Promise<StoredPull> {
  requireCapability(client, "pull");
  const resolved = await client.resolve!(uri, { nameHint: options.nameHint });
  const copies = options.force ? [] : storedCopies(registry, resolved);
  const remote = copies.length > 0 && copies[0].version !== null
    ? { ...resolved, name: withVersion(resolved.name, copies[0].version) }
    : resolved;
  const kept = storedImage(registry, remote.name);
  if (kept && !options.force) return { ...kept, downloaded: false, remote };

  const folder = registry.storage.imageFolder(remote.name);
  prepareFolder(registry, folder);
  const part = partPath(folder, await partKey(remote));
  try {
    const sources = [...copies.map((copy) => copy.path), ...(remote.blob?.copies ?? [])];
    return await lockedPull(registry, client, remote, part, { ...options, sources });
  } catch (error) {
    // A failed first pull leaves no empty folders; a kept part file keeps its folder.
    pruneEmptyFolders(folder, registry.storage.root);
    throw error;
  }
}

async function lockedPull(
  registry: Registry,
  client: RemoteClient,
  remote: RemoteImage,
  part: string,
  options: PullOptions & { sources: string[] },
): Promise<StoredPull> {
  return await withDownloadLock(part, async () => {
    // Another process may have pulled it while this one waited for the lock.
    const done = storedImage(registry, remote.name);
    if (done && !options.force) return { ...done, downloaded: false, remote };
    let digest;
    try {
      digest = await fetchImage(remote, part, options);
    } catch (error) {
      throw storageWriteError(registry, error);
    }
    const read = readImageFacts(part, formatImageName(remote.name));
    const placed = commitImage(registry, {
      file: part,
      keepSource: false,
      digest,
      name: remote.name,
      url: remote.recordUrl ?? remote.downloadUrl,
      metadata: remote.metadata,
      client: client.name,
      replace: options.force,
      command: "pull",
      facts: read.facts,
    });
    return { ...placed, downloaded: true, remote, warnings: read.warnings };
  }, { onWait: options.onWait, signal: options.http.signal });
}

/** The outcome of a pull into a chosen file. */
export interface FilePull {
  /** Absolute path written. */
  path: string;
  /** The resolved remote image. */
  remote: RemoteImage;
  /** Size and MD5 of the file. */
  size: number;
  /** MD5 of the file. */
  md5: string;
}

/** Pulls an image into `file` (no record): `pull --name <file>`, or with the database disabled. */
export async function pullToFile(
  client: RemoteClient,
  uri: string,
  file: string,
  options: PullOptions,
): Promise<FilePull> {
  requireCapability(client, "pull");
  const path = resolve(file);
  const unusable = unusablePath(path);
  if (unusable !== null) throw new UsageError(unusable, { hint: "save it somewhere else" });
  const remote = await client.resolve!(uri, {});
  if (exists(path) && !options.force) {
    throw new ConflictError(`${path} already exists`, { hint: "use --force to replace it" });
  }
  const part = partPath(dirname(path), basename(path));
  return await withDownloadLock(part, async () => {
    const sources = options.force ? [] : remote.blob?.copies ?? [];
    const digest = await fetchImage(remote, part, { ...options, sources });
    try {
      placeFile(part, path, { replace: options.force });
    } catch (error) {
      removeIfPresent(part);
      throw error instanceof ConflictError
        ? error
        : new ConflictError(`cannot write ${path}: ${reason(error)}`);
    }
    return { path, remote, size: digest.size, md5: digest.md5 };
  }, { onWait: options.onWait, signal: options.http.signal });
}

/** Records a remote image from its manifest, without downloading it. */
export async function recordRemote(
  registry: Registry,
  client: RemoteClient,
  uri: string,
): Promise<ReturnType<typeof recordImage> & { remote: RemoteImage }> {
  requireCapability(client, "record");
  const resolved = await client.resolve!(uri, {});
  // An OCI layer already in storage under this name keeps its version (the MD5 of the file).
  const copy = storedCopies(registry, resolved).find((found) =>
    found.version !== null &&
    findContainers(registry.db, withVersion(resolved.name, found.version)).length > 0
  );
  const remote = copy ? { ...resolved, name: withVersion(resolved.name, copy.version) } : resolved;
  const recorded = recordImage(registry, {
    name: remote.name,
    url: remote.recordUrl ?? remote.downloadUrl,
    metadata: remote.metadata,
    client: client.name,
  });
  return { ...recorded, remote };
}

// The image file: a local copy of an OCI layer when one matches, else a download; an OCI layer
// is checked (size, SHA-256, SIF magic) before it is handed on, and deleted when it fails.
async function fetchImage(
  remote: RemoteImage,
  part: string,
  options: PullOptions & { sources: string[] },
): Promise<DownloadResult> {
  const blob = remote.blob;
  if (blob === undefined) {
    return await downloadToFile(remote.downloadUrl, part, {
      http: options.http,
      headers: remote.headers,
      expectedMd5: remote.expectedMd5,
      onProgress: options.onProgress,
    });
  }
  for (const source of options.sources) {
    const copied = await copyIfMatching(source, part, blob, options);
    if (copied !== null) return copied;
  }
  const digest = await downloadToFile(remote.downloadUrl, part, {
    http: options.http,
    headers: remote.headers,
    onProgress: options.onProgress,
    sha256: true,
  });
  const problem = digest.size !== blob.size
    ? `it has ${digest.size} bytes, the manifest says ${blob.size}`
    : `sha256:${digest.sha256}` !== blob.digest
    ? `its digest is sha256:${digest.sha256}, the manifest says ${blob.digest}`
    : !isSifImage(part)
    ? "it is not a SIF file (no SIF magic at byte 32)"
    : null;
  if (problem !== null) {
    removeIfPresent(part);
    removeIfPresent(`${part}.json`);
    throw new IntegrityError(`the layer downloaded from ${remote.name.registry}: ${problem}`, {
      hint: "the download was deleted and nothing was recorded",
    });
  }
  return digest;
}

// Copies a local file that should hold the layer; null (and no file left) when it does not.
async function copyIfMatching(
  source: string,
  part: string,
  blob: NonNullable<RemoteImage["blob"]>,
  options: PullOptions,
): Promise<DownloadResult | null> {
  let size: number;
  try {
    const info = Deno.statSync(source);
    if (!info.isFile || info.size !== blob.size) return null;
    size = info.size;
  } catch {
    return null; // no such copy: only a missed shortcut
  }
  const startedAt = performance.now();
  try {
    const digest = await copyAndHash(source, part, {
      sha256: true,
      signal: options.http.signal,
      onProgress: (done) => options.onProgress?.({ done, total: size, startedAt, resumedFrom: 0 }),
    });
    if (`sha256:${digest.sha256}` === blob.digest && isSifImage(part)) {
      removeIfPresent(`${part}.json`);
      return digest;
    }
  } catch (error) {
    removeIfPresent(part);
    if (error instanceof InterruptedError) throw error;
    return null; // an unreadable copy is only a missed shortcut
  }
  removeIfPresent(part);
  return null;
}

// Local images that hold the layer `remote` names, with their versions (MD5s).
function storedCopies(
  registry: Registry,
  remote: RemoteImage,
): { path: string; version: string | null }[] {
  if (remote.blob === undefined) return [];
  const copies: { path: string; version: string | null }[] = [];
  for (const container of findByLayerDigest(registry.db, remote.blob.digest)) {
    const file = imageFile(registry, container);
    if (file !== null && exists(file)) copies.push({ path: file, version: container.md5 });
  }
  return copies;
}

/**
 * The OCI layer digest recorded for an image file in storage (an oras pull), when the file still
 * has the recorded size; null otherwise. Files in storage are written once and never changed.
 */
export function recordedLayer(
  registry: Registry,
  file: string,
): { digest: string; size: number } | null {
  if (!registry.storage.contains(file)) return null;
  const container = findByFile(registry.db, registry.storage.toRecord(file));
  const metadata = container?.metadata as Record<string, unknown> | null | undefined;
  const digest = metadata?.layer_digest;
  if (typeof digest !== "string" || !/^sha256:[0-9a-f]{64}$/.test(digest)) return null;
  const size = Deno.statSync(file).size;
  return metadata?.size === size && container?.size === size ? { digest, size } : null;
}

// A local image of this exact version whose file is present.
function storedImage(registry: Registry, name: ImageName): PlacedImage | null {
  if (!name.version) return null;
  const container = findContainers(registry.db, name)[0];
  const file = container && imageFile(registry, container);
  if (!container || !file || registry.storage.fileState(file, container.size) !== "file") {
    return null;
  }
  noteUse(registry, container); // kept, not fetched again: still a use
  return { container, action: "update", path: file };
}

// Stable across runs, so an interrupted download is found and resumed.
async function partKey(remote: RemoteImage): Promise<string> {
  if (remote.name.version) return `${remote.name.tag}@${remote.name.version}`;
  const digest = await crypto.subtle.digest("SHA-1", new TextEncoder().encode(remote.downloadUrl));
  return Array.from(new Uint8Array(digest).slice(0, 8), (b) => b.toString(16).padStart(2, "0"))
    .join("");
}
