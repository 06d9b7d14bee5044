/**
 * Adding an image file: hash it while copying into a temporary file in its destination folder
 * (or, for a move on the same filesystem, hash it in place), then place the file and write its
 * record in one immediate transaction. Nothing existing is overwritten unless asked.
 */
import {
  ConfigError,
  ConflictError,
  InterruptedError,
  NotFoundError,
  reason,
  SregistryError,
  UsageError,
} from "../errors.ts";
import {
  type Container,
  filesWithContent,
  findByFile,
  findContainers,
  markUsed,
} from "./containers.ts";
import { type ContainerFields, insertContainer, updateContainer } from "./container_writes.ts";
import { type FileStep, holdOwnerLock, journaled, linkStep } from "./journal.ts";
import { type ImageFacts, readImageFacts } from "./image_inspection.ts";
import { copyAndHash, type Digest, hashFile, type ProgressCallback } from "./ingest.ts";
import { formatImageName, type ImageName, withVersion } from "./names.ts";
import { findContainer, type Registry } from "./registry.ts";
import { dirname } from "./paths.ts";
import { exists, realPath } from "./storage.ts";
import {
  moveOrCopy,
  pruneEmptyFolders,
  removeIfPresent,
  removeStaleTemporaryFiles,
} from "./file_placement.ts";

/** Whether a record was created or an existing one updated. */
export type RecordAction = "new" | "update";

/** The outcome of adding or pulling an image. */
export interface PlacedImage {
  /** The record as now stored. */
  container: Container;
  /** Whether the record is new. */
  action: RecordAction;
  /** Absolute path of the image file. */
  path: string;
  /** What reading the image's metadata found wrong (not an image, damaged), for the user. */
  warnings?: string[];
}

/** What to add. */
export interface AddOptions {
  /** The image file to add. */
  file: string;
  /** The name to record it under; its version, when given, wins over the MD5. */
  name: ImageName;
  /** Copy instead of moving the file into storage. */
  copy?: boolean;
  /**
   * Hard-link the file into storage and leave it where it is too (same filesystem; a copy
   * otherwise).
   */
  link?: boolean;
  /** Metadata to keep with the record. */
  metadata?: unknown;
  /** Where the image came from. */
  url?: string | null;
  /** Client name recorded with it. */
  client: string;
  /** Reports bytes hashed or copied. */
  onProgress?: ProgressCallback;
  /** Aborting (Ctrl-C) stops the add; nothing is added and the partial copy is removed. */
  signal?: AbortSignal;
}

/**
 * Adds a local image file to storage and the database. A symlink's target is copied: the link
 * and the file it names stay where they are, with their owner.
 */
export async function addImage(registry: Registry, options: AddOptions): Promise<PlacedImage> {
  if (isSymlink(options.file)) options = { ...options, copy: true };
  const source = checkSourceFile(options.file);
  const folder = registry.storage.imageFolder(options.name);
  const created = firstMissingFolder(folder);
  prepareFolder(registry, folder);
  try {
    return await placeImage(registry, source, folder, options);
  } catch (error) {
    // A refused or failed add leaves storage as it was: no empty folders of its own making.
    if (created !== null) pruneEmptyFolders(folder, dirname(created));
    throw error;
  }
}

async function placeImage(
  registry: Registry,
  source: string,
  folder: string,
  options: AddOptions,
): Promise<PlacedImage> {
  // A move within one filesystem needs no copy: hash in place, then link into storage.
  return await moveOrCopy(
    source,
    folder,
    !options.copy,
    (copy) => placeFrom(registry, source, folder, options, !copy),
  );
}

async function placeFrom(
  registry: Registry,
  source: string,
  folder: string,
  options: AddOptions,
  inPlace: boolean,
): Promise<PlacedImage> {
  const temp = inPlace ? null : temporaryPath(registry, folder);
  let digest: Digest;
  try {
    const pass = { onProgress: options.onProgress, signal: options.signal };
    digest = inPlace ? await hashFile(source, pass) : await copyAndHash(source, temp!, pass)
      .catch((error) => {
        // The folder was emptied and removed by rmi or prune meanwhile: make it again, once.
        if (!(error instanceof Deno.errors.NotFound)) throw error;
        registry.storage.prepareFolder(folder);
        return copyAndHash(source, temp!, pass);
      });
  } catch (error) {
    if (temp) removeIfPresent(temp);
    if (error instanceof InterruptedError) {
      throw new InterruptedError("interrupted; nothing was added", { cause: error });
    }
    throw storageWriteError(registry, error);
  }

  const target = registry.storage.imagePath(
    withVersion(options.name, options.name.version ?? digest.md5),
  );
  const owner = inPlace && source !== target
    ? findByFile(registry.db, registry.storage.toRecord(source))
    : undefined;
  if (owner) {
    throw new ConflictError(`${source} is the image of ${owner.uri}`, {
      hint: "use --copy to add it under another name, or 'sregistry rename'",
    });
  }

  const read = readImageFacts(temp ?? source, options.file);
  const verified = await verifiedCopy(registry, options.name, digest, { signal: options.signal });
  const placed = commitImage(registry, {
    verified,
    file: temp ?? source,
    keepSource: inPlace,
    dropSource: inPlace && !options.copy && !options.link,
    digest,
    name: options.name,
    url: options.url ?? null,
    metadata: options.metadata ?? null,
    client: options.client,
    command: "add",
    facts: read.facts,
  });
  // Copied across filesystems: once the image is recorded, a move removes the original.
  if (!inPlace && !options.copy && !options.link) removeIfPresent(source);
  return { ...placed, warnings: read.warnings };
}

/** A finished image file to place into storage and record. */
export interface CommitOptions {
  /** The file to place: a temporary file in the destination folder, or the user's file. */
  file: string;
  /** False when `file` is a temporary file that must go away whatever happens. */
  keepSource: boolean;
  /** Delete the user's `file` once it is recorded (a move). */
  dropSource?: boolean;
  /** Its size and MD5. */
  digest: Digest;
  /** The name; a missing version becomes the MD5. */
  name: ImageName;
  /** Source URL. */
  url: string | null;
  /** Metadata to keep. */
  metadata: unknown;
  /** Client name. */
  client: string;
  /** Replace an existing different file of the same version (pull --force). */
  replace?: boolean;
  /** A stored file verifiedCopy found to hold this content: kept, or shared by a hard link. */
  verified?: string | null;
  /** The command, naming the journal's failpoints (`add`, `pull`). */
  command: string;
  /** What was read from the file (readImageFacts), kept in the record's metrics. */
  facts?: ImageFacts;
}

/**
 * Places a finished file and writes its record as one journaled change (core/journal.ts): a
 * kill at any point leaves both or neither once the next command has run. A temporary file
 * never survives a finished commit.
 */
export function commitImage(registry: Registry, options: CommitOptions): PlacedImage {
  const name = withVersion(options.name, options.name.version ?? options.digest.md5);
  const path = registry.storage.imagePath(name);
  const inPlace = realPath(options.file) === path;
  const isTemp = !options.keepSource;
  // A stored file whose bytes were checked to be this content (verifiedCopy), while it still
  // has the size it had then.
  const trusted = () => {
    const verified = options.verified ?? null;
    return verified !== null && registry.storage.fileState(verified, options.digest.size) === "file"
      ? verified
      : null;
  };
  // What to do with the file: decided when the intent is planned (so a refusal writes
  // nothing), and again when it is applied, in case another command changed the name since.
  const placement = (existing: Container | undefined): "link" | "replace" | "keep" => {
    if (inPlace) return "keep";
    if (!exists(path)) return "link";
    if (registry.storage.fileState(path, null) === "missing") {
      throw new ConflictError(`${path} in storage is not a regular file; nothing was written`, {
        hint: "remove it (a planted symlink, say), then try again",
      });
    }
    const owner = findByFile(registry.db, registry.storage.toRecord(path));
    if (owner && owner.id !== existing?.id) {
      // Another record's image sits at this name's path (moved there): never take it.
      throw new ConflictError(`${path} is the image of ${owner.uri}; nothing was written`, {
        hint: `'sregistry rename ${owner.uri} <name>' moves it to its own name`,
      });
    }
    if (options.replace) return "replace";
    if (!sameContent(existing, name, options.digest)) {
      throw new ConflictError(
        `${formatImageName(name)} already holds a different file (${path})`,
        { hint: "choose another version, or remove the old one with 'sregistry rmi'" },
      );
    }
    // The stored file is kept only when its bytes were checked; one that changed (damaged,
    // truncated) is replaced by this verified file.
    return trusted() === path ? "keep" : "replace";
  };
  try {
    return journaled(registry, options.command, {
      plan: () => {
        placement(findContainers(registry.db, name)[0]);
        if (inPlace) return { steps: [], about: "" };
        const tombstone = registry.storage.tombstonePath(dirname(path));
        const steps: FileStep[] = exists(path) ? [{ op: "set-aside", file: path, tombstone }] : [];
        // The new file, or a stored file of the same content, which it then shares.
        steps.push(linkStep(options.file, path));
        const shared = trusted();
        if (shared !== null && shared !== path) steps.push(linkStep(shared, path));
        return { steps, about: tombstone };
      },
      apply: (tombstone, files) => {
        const existing = findContainers(registry.db, name)[0];
        const how = placement(existing);
        if (how === "replace") files.setAside(path, tombstone);
        if (how !== "keep") {
          const shared = trusted();
          if (shared === null || shared === path || !files.share(shared, path)) {
            files.link(options.file, path);
          }
        }
        if (!inPlace && (isTemp || options.dropSource)) files.drop(options.file);
        const fields: ContainerFields = {
          image: name,
          uri: formatImageName(name),
          file: registry.storage.toRecord(path),
          url: options.url ?? existing?.url ?? null,
          client: options.client,
          metadata: options.metadata ?? existing?.metadata ?? null,
          size: options.digest.size,
          md5: options.digest.md5,
          metrics: options.facts && { ...options.facts },
        };
        const id = existing?.id ?? insertContainer(registry.db, fields);
        if (existing) updateContainer(registry.db, id, fields);
        markUsed(registry.db, id);
        return {
          container: findContainer(registry, name),
          action: existing ? "update" : "new",
          path,
        } satisfies PlacedImage;
      },
    });
  } catch (error) {
    throw storageWriteError(registry, error);
  } finally {
    if (isTemp) removeIfPresent(options.file);
  }
}

/**
 * A stored file that holds this content, checked byte for byte (its MD5 computed again, since a
 * record's MD5 is only what the file held when it was stored): the image's own path when it is
 * there, else a file of another name that a new image can share as a hard link. Null when none.
 */
export async function verifiedCopy(
  registry: Registry,
  name: ImageName,
  content: Digest,
  options: { signal?: AbortSignal } = {},
): Promise<string | null> {
  const path = registry.storage.imagePath(withVersion(name, name.version ?? content.md5));
  const recorded = filesWithContent(registry.db, content, registry.storage.toRecord(path))
    .map((file) => registry.storage.fromRecord(file))
    .filter((file) => registry.storage.contains(file)); // outside storage: the user's to change
  for (const candidate of [path, ...recorded]) {
    if (registry.storage.fileState(candidate, content.size) !== "file") continue;
    try {
      if ((await hashFile(candidate, { signal: options.signal })).md5 === content.md5) {
        return candidate;
      }
    } catch (error) {
      if (error instanceof InterruptedError) throw error;
      // unreadable: not a copy to trust
    }
  }
  return null;
}

// Two files of one name hold the same content when the name's version is the MD5 itself, or
// when the record says the stored file has this MD5.
function sameContent(existing: Container | undefined, name: ImageName, digest: Digest): boolean {
  return name.version === digest.md5 || existing?.md5 === digest.md5;
}

function isSymlink(path: string): boolean {
  try {
    return Deno.lstatSync(path).isSymlink;
  } catch {
    return false; // checkSourceFile says why
  }
}

/** Checks that `file` is a readable regular file and returns its absolute path. */
export function checkSourceFile(file: string): string {
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(file);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new NotFoundError(`${file} does not exist`);
    }
    throw new ConfigError(`cannot read ${file}: ${reason(error)}`);
  }
  if (info.isDirectory) throw new UsageError(`${file} is a folder, not an image file`);
  if (!info.isFile) throw new UsageError(`${file} is not a regular file`);
  try {
    Deno.openSync(file, { read: true }).close();
  } catch (error) {
    throw new ConfigError(`cannot read ${file}: ${reason(error)}`);
  }
  return realPath(file);
}

/**
 * A fresh temporary path in `folder` named after this process's owner lock, which it holds from
 * now on: `prune` and `verify` tell a live writer's file from one a killed run left.
 */
export function temporaryPath(registry: Registry, folder: string): string {
  holdOwnerLock(registry);
  return registry.storage.tempPath(folder, registry.owner);
}

/** Creates an image folder (failures become one clear error) and sweeps leftovers of dead runs. */
export function prepareFolder(registry: Registry, folder: string): void {
  try {
    registry.storage.prepareFolder(folder);
  } catch (error) {
    throw storageWriteError(registry, error);
  }
  removeStaleTemporaryFiles(folder);
}

/** A failure writing into storage (read-only, full, no permission) as a one-line error. */
export function storageWriteError(registry: Registry, error: unknown): unknown {
  if (!(error instanceof Error) || error instanceof SregistryError) return error;
  if (/no space left/i.test(error.message)) {
    return new ConfigError(`storage ${registry.storage.root} is full: no space left on device`, {
      hint: "free space or set SREGISTRY_STORAGE to a larger filesystem; nothing was added",
      cause: error,
    });
  }
  if (error instanceof Deno.errors.PermissionDenied || /read-only|denied/i.test(error.message)) {
    return new ConfigError(`cannot write to storage ${registry.storage.root}: ${reason(error)}`, {
      hint: "check its permissions, or set SREGISTRY_STORAGE to a folder you can write",
      cause: error,
    });
  }
  return error;
}

/** The outermost folder of `folder`'s path that does not exist yet, or null when it exists. */
export function firstMissingFolder(folder: string): string | null {
  let missing: string | null = null;
  for (let current = folder; !exists(current); current = dirname(current)) {
    missing = current;
    if (dirname(current) === current) break;
  }
  return missing;
}
