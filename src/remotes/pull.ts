/**
 * Pulling: resolve a name with a client, download through the transfer layer (verified, resumable,
 * one writer per target), then place and record the image in one transaction. Also `record`
 * from a remote: the manifest only, no file.
 */
import { basename, dirname, resolve } from "node:path";
import { ConflictError, reason, UsageError } from "../errors.ts";
import { findContainers } from "../core/containers.ts";
import { commitImage, type PlacedImage, prepareFolder, storageWriteError } from "../core/add.ts";
import { readImageFacts } from "../core/image_inspection.ts";
import { formatImageName, type ImageName } from "../core/names.ts";
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
import { downloadToFile } from "../transfer/download.ts";
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
  const remote = await client.resolve!(uri, { nameHint: options.nameHint });
  const kept = storedImage(registry, remote.name);
  if (kept && !options.force) return { ...kept, downloaded: false, remote };

  const folder = registry.storage.imageFolder(remote.name);
  prepareFolder(registry, folder);
  const part = partPath(folder, await partKey(remote));
  try {
    return await lockedPull(registry, client, remote, part, options);
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
  options: PullOptions,
): Promise<StoredPull> {
  return await withDownloadLock(part, async () => {
    // Another process may have pulled it while this one waited for the lock.
    const done = storedImage(registry, remote.name);
    if (done && !options.force) return { ...done, downloaded: false, remote };
    let digest;
    try {
      digest = await downloadToFile(remote.downloadUrl, part, {
        http: options.http,
        headers: remote.headers,
        expectedMd5: remote.expectedMd5,
        onProgress: options.onProgress,
      });
    } catch (error) {
      throw storageWriteError(registry, error);
    }
    const read = readImageFacts(part, formatImageName(remote.name));
    const placed = commitImage(registry, {
      file: part,
      keepSource: false,
      digest,
      name: remote.name,
      url: remote.downloadUrl,
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
    const digest = await downloadToFile(remote.downloadUrl, part, {
      http: options.http,
      headers: remote.headers,
      expectedMd5: remote.expectedMd5,
      onProgress: options.onProgress,
    });
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
  const remote = await client.resolve!(uri, {});
  const recorded = recordImage(registry, {
    name: remote.name,
    url: remote.downloadUrl,
    metadata: remote.metadata,
    client: client.name,
  });
  return { ...recorded, remote };
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
