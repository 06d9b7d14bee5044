/**
 * `mv` (move an image file anywhere, storage or not, and update its record) and `rename`
 * (re-file a record and its image under a new name in storage). Neither overwrites an existing
 * record or file; the file move and the record update commit together.
 */
import { basename, dirname, join, resolve } from "./paths.ts";
import {
  ConflictError,
  IntegrityError,
  InterruptedError,
  NotFoundError,
  UsageError,
} from "../errors.ts";
import { type Container, containerExists, fileShared, findContainers } from "./containers.ts";
import { fieldsOf, pruneCollection, updateContainer } from "./container_writes.ts";
import { immediate } from "./database.ts";
import { formatImageName, type ImageName, isRegistryHost, withVersion } from "./names.ts";
import { findContainer, imageFile, type Registry, storedImageFile } from "./registry.ts";
import { type FileSteps, journaled, journaledWithStaging, linkStep } from "./journal.ts";
import { exists, isFolder, realPath, unusablePath } from "./storage.ts";
import { moveOrCopy, pruneEmptyFolders, removeIfPresent } from "./file_placement.ts";
import { copyAndHash } from "./ingest.ts";
import { firstMissingFolder, storageWriteError, temporaryPath } from "./add.ts";

/** Where an image file went. */
export interface Move {
  /** The updated record. */
  container: Container;
  /** Previous absolute path. */
  from: string;
  /** New absolute path. */
  to: string;
}

/** How a move that copies across filesystems is stopped. */
export interface MoveOptions {
  /** Aborting (Ctrl-C) stops the copy; the image stays where it was, the copy is removed. */
  signal?: AbortSignal;
}

/** Moves a record's image file to `target` (a file path, or an existing folder to move into). */
export async function moveImage(
  registry: Registry,
  image: ImageName,
  target: string,
  options: MoveOptions = {},
): Promise<Move> {
  const container = findContainer(registry, image);
  const from = localFile(registry, container);
  if (target.trim() === "") throw new UsageError("mv needs a path to move the image to");
  let to = resolve(target);
  const unusable = unusablePath(to);
  if (unusable !== null) throw new UsageError(unusable, { hint: "move it somewhere else" });
  if (isFolder(to)) to = join(to, basename(from));
  else if (target.endsWith("/")) {
    throw new NotFoundError(`folder ${to} does not exist`, { hint: "create it first" });
  }
  const name = nameOf(container);
  // Inside storage an image lives at its name's path, which the name alone decides.
  if (registry.storage.contains(to) && to !== registry.storage.imagePath(name)) {
    throw new UsageError(`${to} is inside storage, where each image has its name's path`, {
      hint: "'sregistry rename' files an image under another name",
    });
  }
  if (realPath(to) === from) throw new UsageError(`${from} is already where the image is`);
  // Folders inside storage are sregistry's to make (emptied ones are pruned); elsewhere, the user's.
  if (!isFolder(dirname(to)) && !registry.storage.contains(to)) {
    throw new NotFoundError(`folder ${dirname(to)} does not exist`, {
      hint: "create it first",
    });
  }
  if (exists(to)) throw new ConflictError(`${to} already exists; nothing was overwritten`);
  await relocate(
    registry,
    container,
    { from, to, command: "mv" },
    () => fieldsOf(container, name),
    options,
  );
  return {
    container: findContainers(registry.db, name).find((c) => c.id === container.id)!,
    from,
    to,
  };
}

/** Re-files a record and its image under a new name; the version is kept unless given. */
export async function renameContainer(
  registry: Registry,
  image: ImageName,
  newName: ImageName,
  options: MoveOptions = {},
): Promise<Move | { container: Container; from: null; to: null }> {
  const container = findContainer(registry, image);
  const renamed = withVersion(newName, newName.version ?? container.version);
  if (findContainers(registry.db, renamed).length > 0) {
    throw new ConflictError(`a record of ${formatImageName(renamed)} already exists`, {
      hint: "remove it first, or choose another name",
    });
  }
  const fields = () => ({
    ...fieldsOf(container, renamed),
    uri: formatImageName(renamed),
  });
  const from = imageFile(registry, container);
  if (from === null) {
    // A remote-only record has no file to move: only the record changes.
    immediate(registry.db, () => {
      updateContainer(registry.db, container.id, fields());
      pruneCollection(registry.db, container.collectionId);
    });
    return { container: findContainer(registry, renamed), from: null, to: null };
  }
  localFile(registry, container);
  const to = registry.storage.imagePath(renamed);
  if (exists(to)) throw new ConflictError(`${to} already exists; nothing was overwritten`);
  await relocate(registry, container, { from, to, command: "rename" }, fields, options);
  return { container: findContainer(registry, renamed), from, to };
}

// Moves the file and updates the record as one journaled change. Across filesystems the file is
// first copied next to its destination, so the database lock is held only for links.
async function relocate(
  registry: Registry,
  container: Container,
  move: { from: string; to: string; command: string },
  fields: () => ReturnType<typeof fieldsOf>,
  options: MoveOptions,
): Promise<void> {
  const { from, to } = move;
  const created = firstMissingFolder(dirname(to));
  try {
    // Folders inside storage are made, and checked for planted links, in one place.
    if (registry.storage.contains(to)) registry.storage.prepareFolder(dirname(to));
    // A file other names share (tag) is copied out of storage, never handed over as a link:
    // the user may then change it in place without changing theirs.
    const linked = !registry.storage.contains(to) && (Deno.statSync(from).nlink ?? 1) > 1;
    await moveOrCopy(
      from,
      dirname(to),
      !linked,
      (copy) => relocateFile(registry, container, { ...move, copy }, fields, options),
    );
  } catch (error) {
    // Nothing moved: no empty folders of this command's making are left behind either.
    if (created !== null) pruneEmptyFolders(dirname(to), dirname(created));
    throw storageWriteError(registry, error);
  }
  if (registry.storage.contains(from)) pruneEmptyFolders(dirname(from), registry.storage.root);
}

async function relocateFile(
  registry: Registry,
  container: Container,
  move: { from: string; to: string; copy: boolean; command: string },
  fields: () => ReturnType<typeof fieldsOf>,
  options: MoveOptions,
): Promise<void> {
  const { from, to } = move;
  // Across filesystems the file is first copied next to its destination, under a temporary
  // name the journal knows before the copy starts: a kill during the copy leaves nothing.
  const staged = move.copy ? temporaryPath(registry, dirname(to)) : from;
  const change = {
    plan: () => ({ steps: [linkStep(staged, to)], about: null }),
    apply: (_: null, files: FileSteps) => {
      if (!containerExists(registry.db, container.id)) {
        throw new ConflictError(`${container.uri} was removed meanwhile; nothing was moved`);
      }
      updateContainer(registry.db, container.id, {
        ...fields(),
        file: registry.storage.toRecord(to),
      });
      pruneCollection(registry.db, container.collectionId);
      files.link(staged, to);
      if (staged !== from) files.drop(staged);
      files.drop(from);
    },
  };
  try {
    if (staged === from) journaled(registry, move.command, change);
    else await journaledWithStaging(registry, move.command, change, () => copyStaged());
  } finally {
    if (staged !== from) removeIfPresent(staged);
  }

  async function copyStaged(): Promise<void> {
    try {
      // The copy is hashed anyway: it must be the file the record describes.
      const { md5 } = await copyAndHash(from, staged, { signal: options.signal });
      if (container.md5 !== null && md5 !== container.md5) {
        throw new IntegrityError(
          `${from} has MD5 ${md5}, but ${container.uri} was stored with ${container.md5}; ` +
            "nothing was moved",
          { hint: "the stored file changed; add it again to record what it holds now" },
        );
      }
    } catch (error) {
      if (error instanceof InterruptedError) {
        throw new InterruptedError("interrupted; the image was not moved", { cause: error });
      }
      throw error;
    }
  }
}

function localFile(registry: Registry, container: Container): string {
  if (container.image === null) {
    throw new UsageError(`${container.uri} is a remote-only record with no image file`, {
      hint: "pull it first",
    });
  }
  const file = storedImageFile(registry, container);
  // Moving a file that another record names would leave that record without it.
  if (fileShared(registry.db, container.image, container.id)) {
    throw new ConflictError(`${file} is also the image of another record; nothing was moved`, {
      hint: `'sregistry tag ${container.uri} <new name>' gives it a second name instead`,
    });
  }
  return file;
}

/** The ImageName of a stored record. */
function nameOf(container: Container): ImageName {
  const segments = container.collection.split("/");
  const hasRegistry = segments.length > 1 && isRegistryHost(segments[0]);
  return {
    registry: hasRegistry ? segments[0] : null,
    collection: hasRegistry ? segments.slice(1).join("/") : container.collection,
    name: container.name,
    tag: container.tag,
    version: container.version,
  };
}
