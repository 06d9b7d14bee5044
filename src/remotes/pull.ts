/**
 * Pulling: resolve a name with a client, download through the transfer layer (verified, resumable,
 * one writer per target), then place and record the image in one transaction. Also `record`
 * from a remote: the manifest only, no file. What a remote claims never names a file before the
 * download is checked: partial downloads are named by a hash. A stored image is kept unless
 * `force`: one of the version asked for, or a plain URL's the server says has not changed.
 * URLs are recorded without their credentials. An OCI layer, pulled into storage or into a file
 * alike, is checked for its size, SHA-256 and SIF magic in the same pass, and taken from a local
 * copy with that digest when there is one. Only an image with an sregistry name is recorded.
 */
import { basename, dirname, resolve } from "../core/paths.ts";
import {
  ConflictError,
  IntegrityError,
  InterruptedError,
  InvalidNameError,
  printable,
  reason,
  UsageError,
} from "../errors.ts";
import { findByFile, findByLayerDigest, findContainers } from "../core/containers.ts";
import { copyAndHash } from "../core/ingest.ts";
import { isSifImage } from "../core/image_format.ts";
import {
  commitImage,
  type PlacedImage,
  prepareFolder,
  storageWriteError,
  verifiedCopy,
} from "../core/add.ts";
import { readImageFacts } from "../core/image_inspection.ts";
import { formatImageName, type ImageName, withVersion } from "../core/names.ts";
import { recordImage } from "../core/record.ts";
import { imageFile, noteUse, type Registry } from "../core/registry.ts";
import { exists, isFolder, partPath, unusablePath } from "../core/storage.ts";
import { placeFile, pruneEmptyFolders, removeIfPresent } from "../core/file_placement.ts";
import {
  downloadIfChanged,
  type DownloadResult,
  downloadToFile,
  type Validator,
} from "../transfer/download.ts";
import { withDownloadLock } from "../transfer/lock.ts";
import { hostOf, type HttpOptions, redactUrl } from "../transfer/http.ts";
import type { ProgressListener } from "../transfer/progress.ts";
import type { BlobCheck, RemoteClient, RemoteImage } from "./client.ts";
import { requireCapability } from "./clients.ts";
import { withoutCredentials } from "./answers.ts";
import { savedValidator } from "./freshness.ts";

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

/** A remote image with the sregistry name it is recorded under. */
type NamedImage = RemoteImage & { name: ImageName };

// The remote image, when it has an sregistry name; one without cannot be recorded.
function named(client: RemoteClient, uri: string, remote: RemoteImage): NamedImage {
  const name = remote.name;
  if (name !== null) return { ...remote, name };
  throw new InvalidNameError(
    `${client.name}://${printable(uri)} cannot be kept under an sregistry name (a name drops ` +
      "a tag's .sif, .simg or .img ending)",
    { hint: "pull it with --name <file> to save it without a record" },
  );
}

// OCI tags are case-sensitive and names are not: a record of the same name made from another
// spelling of the tag holds another image, and is not replaced or confused with this one.
function refuseOtherSpelling(registry: Registry, client: RemoteClient, remote: NamedImage): void {
  const tag = remote.remoteTag;
  if (tag === undefined) return;
  const name = withVersion(remote.name, null);
  for (const container of findContainers(registry.db, name)) {
    const metadata = container.metadata as Record<string, unknown> | null;
    const recorded = metadata?.tag;
    if (container.client !== client.name || typeof recorded !== "string" || recorded === tag) {
      continue;
    }
    throw new ConflictError(
      `${formatImageName(name)} holds the image of tag '${printable(recorded)}'; names ignore ` +
        `case, so tag '${tag}' cannot be recorded beside it`,
      {
        hint: "pull it with --name <file>, or remove the other record first with " +
          `'sregistry rmi ${container.uri}'`,
      },
    );
  }
}

/** The outcome of a pull into storage. */
export interface StoredPull extends PlacedImage {
  /** False when the image was already in storage and kept as it was. */
  downloaded: boolean;
  /** The resolved remote image. */
  remote: RemoteImage;
  /** What the user should know: the remote's notes, and whether the download was unverified. */
  notes: string[];
}

/** Pulls an image into storage and records it with its manifest and URL. */
export async function pullImage(
  registry: Registry,
  client: RemoteClient,
  uri: string,
  options: PullOptions,
): Promise<StoredPull> {
  requireCapability(client, "pull");
  const resolved = named(client, uri, await client.resolve!(uri, { nameHint: options.nameHint }));
  refuseOtherSpelling(registry, client, resolved);
  // An OCI layer already in storage names the version (its MD5) before anything is fetched.
  const copies = options.force ? [] : storedCopies(registry, resolved);
  const remote = copies.length > 0 && copies[0].version !== null
    ? { ...resolved, name: withVersion(resolved.name, copies[0].version) }
    : resolved;
  const before = storedPull(registry, remote);
  if (before?.current && !options.force) return kept(before.placed, remote);

  const folder = registry.storage.imageFolder(remote.name);
  prepareFolder(registry, folder);
  const part = partPath(folder, await partKey(client, remote));
  try {
    const sources = [...copies.map((copy) => copy.path), ...(remote.blob?.copies ?? [])];
    return await lockedPull(registry, client, remote, part, { ...options, before, sources });
  } catch (error) {
    // A failed first pull leaves no empty folders; a kept part file keeps its folder.
    pruneEmptyFolders(folder, registry.storage.root);
    throw error;
  }
}

async function lockedPull(
  registry: Registry,
  client: RemoteClient,
  remote: NamedImage,
  part: string,
  options: PullOptions & { before: StoredCopy | null; sources: string[] },
): Promise<StoredPull> {
  return await withDownloadLock(part, async () => {
    // Another process may have pulled it while this one waited for the lock: use its result.
    const now = storedPull(registry, remote);
    if (now && !options.force && (now.current || changed(options.before, now))) {
      return kept(now.placed, remote);
    }
    let digest: DownloadResult | null;
    try {
      const validator = now?.validator && !options.force ? now.validator : null;
      digest = await fetchImage(remote, part, { ...options, validator });
    } catch (error) {
      throw storageWriteError(registry, error);
    }
    if (digest === null) return kept(now!.placed, remote); // the server: not modified
    const read = readImageFacts(part, formatImageName(remote.name));
    const verified = await verifiedCopy(registry, remote.name, digest, {
      signal: options.http.signal,
    });
    const placed = commitImage(registry, {
      verified,
      file: part,
      keepSource: false,
      digest,
      name: remote.name,
      url: remote.recordUrl ?? redactUrl(remote.downloadUrl),
      metadata: recordedMetadata(remote, digest),
      client: client.name,
      replace: options.force,
      command: "pull",
      facts: read.facts,
    });
    return {
      ...placed,
      downloaded: true,
      remote,
      notes: pullNotes(remote, digest),
      warnings: read.warnings,
    };
  }, { onWait: options.onWait, signal: options.http.signal });
}

/** The outcome of a pull into a chosen file. */
export interface FilePull {
  /** Absolute path written. */
  path: string;
  /** The resolved remote image. */
  remote: RemoteImage;
  /** Where it came from, without credentials. */
  url: string;
  /** The remote's manifest, without credentials. */
  metadata: unknown;
  /** Size and MD5 of the file. */
  size: number;
  /** MD5 of the file. */
  md5: string;
  /** What the user should know: the remote's notes, and whether the download was unverified. */
  notes: string[];
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
  // Checked before anything is asked or downloaded.
  const unusable = unusablePath(path);
  if (unusable !== null) throw new UsageError(unusable, { hint: "save it somewhere else" });
  if (isFolder(path)) {
    throw new UsageError(`${path} is a folder`, {
      hint: "give --name the path of the file to write, e.g. " +
        `${path.replace(/\/+$/, "")}/image.sif`,
    });
  }
  if (exists(path) && !options.force) {
    throw new ConflictError(`${path} already exists`, { hint: "use --force to replace it" });
  }
  const remote = await client.resolve!(uri, {});
  const part = partPath(dirname(path), basename(path));
  return await withDownloadLock(part, async () => {
    // Checked as a pull into storage checks it: an OCI layer by its size, digest and SIF magic.
    const digest = remote.blob === undefined
      ? await downloadToFile(remote.downloadUrl, part, {
        http: options.http,
        headers: remote.headers,
        authorize: remote.authorize,
        expectedMd5: remote.expectedMd5,
        onProgress: options.onProgress,
      })
      : await fetchLayer(remote, remote.blob, part, { ...options, sources: remote.blob.copies });
    try {
      placeFile(part, path, { replace: options.force });
    } catch (error) {
      removeIfPresent(part);
      throw error instanceof ConflictError
        ? error
        : new ConflictError(`cannot write ${path}: ${reason(error)}`);
    }
    return {
      path,
      remote,
      url: redactUrl(remote.downloadUrl),
      metadata: recordedMetadata(remote, digest),
      size: digest.size,
      md5: digest.md5,
      notes: pullNotes(remote, digest),
    };
  }, { onWait: options.onWait, signal: options.http.signal });
}

/** Records a remote image from its manifest, without downloading it. */
export async function recordRemote(
  registry: Registry,
  client: RemoteClient,
  uri: string,
): Promise<ReturnType<typeof recordImage> & { remote: RemoteImage }> {
  requireCapability(client, "record");
  const remote = named(client, uri, await client.resolve!(uri, {}));
  refuseOtherSpelling(registry, client, remote);
  const recorded = recordImage(registry, {
    name: remote.name,
    url: remote.recordUrl ?? redactUrl(remote.downloadUrl),
    metadata: withoutCredentials(remote.metadata),
    client: client.name,
  });
  return { ...recorded, remote };
}

// The image file: a plain download, checked against the MD5 the remote names (a plain image
// with the server's validators of the stored copy is fetched only if it changed; null: it did
// not), or an OCI layer (fetchLayer).
async function fetchImage(
  remote: RemoteImage,
  part: string,
  options: PullOptions & { sources: string[]; validator: Validator | null },
): Promise<DownloadResult | null> {
  if (remote.blob !== undefined) return await fetchLayer(remote, remote.blob, part, options);
  const download = {
    http: options.http,
    headers: remote.headers,
    authorize: remote.authorize,
    expectedMd5: remote.expectedMd5,
    onProgress: options.onProgress,
  };
  return options.validator
    ? await downloadIfChanged(remote.downloadUrl, part, options.validator, download)
    : await downloadToFile(remote.downloadUrl, part, download);
}

// An OCI layer, into storage or a file alike: a local copy when one matches, else a download
// that stops at the manifest's size; checked (size, SHA-256, SIF magic) before it is handed
// on, and deleted when it fails.
async function fetchLayer(
  remote: RemoteImage,
  blob: BlobCheck,
  part: string,
  options: PullOptions & { sources: string[] },
): Promise<DownloadResult> {
  for (const source of options.sources) {
    const copied = await copyIfMatching(source, part, blob, options);
    if (copied !== null) return copied;
  }
  const digest = await downloadToFile(remote.downloadUrl, part, {
    http: options.http,
    headers: remote.headers,
    authorize: remote.authorize,
    onProgress: options.onProgress,
    sha256: true,
    limit: blob.size,
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
    throw new IntegrityError(
      `the layer downloaded from ${hostOf(remote.downloadUrl)}: ${problem}`,
      {
        hint: "the download was deleted and nothing was kept",
      },
    );
  }
  return { ...digest, checked: "sha256" };
}

// Copies a local file that should hold the layer; null (and no file left) when it does not.
async function copyIfMatching(
  source: string,
  part: string,
  blob: BlobCheck,
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
      const validator = { etag: null, lastModified: null };
      return { ...digest, checked: "sha256", validator, contentType: null };
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
  remote: NamedImage,
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

/** A stored image a pull may keep. */
interface StoredCopy {
  /** The record and its file. */
  placed: PlacedImage;
  /** True when it is the very version asked for: nothing to ask the server. */
  current: boolean;
  /** The server's validators of the stored copy, to ask whether the file changed. */
  validator: Validator | null;
}

// The stored image a pull would replace: the version the remote names, or for a plain URL the
// newest image recorded from that URL under that name. Only one whose file is present.
function storedPull(registry: Registry, remote: NamedImage): StoredCopy | null {
  const url = redactUrl(remote.downloadUrl);
  const container = remote.name.version
    ? findContainers(registry.db, remote.name)[0]
    : remote.expectedMd5 === null
    ? findContainers(registry.db, remote.name).find((found) => found.url === url)
    : undefined;
  const file = container && imageFile(registry, container);
  if (!container || !file || registry.storage.fileState(file, container.size) !== "file") {
    return null;
  }
  noteUse(registry, container); // kept, not fetched again: still a use
  return {
    placed: { container, action: "update", path: file },
    current: remote.name.version !== null,
    validator: remote.name.version ? null : savedValidator(container.metadata),
  };
}

// Another pull stored a new copy since `before` was looked at.
function changed(before: StoredCopy | null, now: StoredCopy): boolean {
  return before === null || before.placed.container.id !== now.placed.container.id ||
    before.placed.container.md5 !== now.placed.container.md5;
}

function kept(placed: PlacedImage, remote: RemoteImage): StoredPull {
  return { ...placed, downloaded: false, remote, notes: remote.notes ?? [] };
}

// The manifest, without credentials. A download the remote named no MD5 for also keeps what it
// was checked against and the server's validators, under `sregistry` (read by savedValidator).
function recordedMetadata(remote: RemoteImage, digest: DownloadResult): unknown {
  const metadata = withoutCredentials(remote.metadata);
  if (digest.checked === "md5" || digest.checked === "sha256") return metadata;
  const download = {
    verified: false,
    checked: digest.checked,
    etag: digest.validator.etag,
    last_modified: digest.validator.lastModified,
    content_type: digest.contentType,
  };
  return typeof metadata === "object" && metadata !== null && !Array.isArray(metadata)
    ? { ...metadata, sregistry: download }
    : { sregistry: download };
}

function pullNotes(remote: RemoteImage, digest: DownloadResult): string[] {
  const notes = [...remote.notes ?? []];
  if (digest.checked === "length" || digest.checked === "nothing") {
    const what = digest.checked === "length"
      ? "only its length was checked"
      : "not even its length was announced";
    notes.push(
      `${hostOf(remote.downloadUrl)} named no checksum, so the image is unverified (${what}); ` +
        `its MD5 ${digest.md5} was computed here`,
    );
  }
  return notes;
}

// Stable across runs, so an interrupted download is found and resumed; a hash, so nothing a
// remote answered is ever part of a path.
async function partKey(client: RemoteClient, remote: NamedImage): Promise<string> {
  const identity = remote.name.version
    ? `${client.name}\n${formatImageName(remote.name)}`
    : `${client.name}\n${remote.downloadUrl}`;
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(identity));
  return Array.from(new Uint8Array(digest).slice(0, 16), (b) => b.toString(16).padStart(2, "0"))
    .join("");
}
