/**
 * `tag`: a second name for an image, taking no extra space. The new record's file is a hard link
 * of the old one's in storage, so either name can be removed without taking bytes the other
 * uses; record and link commit together as a journaled change (core/journal.ts). Where the
 * system refuses the link (a file another member of a shared store owns, under Linux's
 * protected_hardlinks), the image is copied instead, and the result says so.
 */
import { dirname } from "./paths.ts";
import { ConflictError, IntegrityError } from "../errors.ts";
import { findContainers } from "./containers.ts";
import { type ContainerFields, fieldsOf, insertContainer } from "./container_writes.ts";
import { immediate } from "./database.ts";
import { copyAndHash } from "./ingest.ts";
import { journaled, journaledWithStaging, linkStep } from "./journal.ts";
import { formatImageName, type ImageName, withVersion } from "./names.ts";
import { findContainer, type Registry, storedImageFile } from "./registry.ts";
import { firstMissingFolder, type PlacedImage, prepareFolder, temporaryPath } from "./add.ts";
import { exists } from "./storage.ts";
import { pruneEmptyFolders, removeIfPresent } from "./file_placement.ts";

/** Records `image` under `newName` too (its version kept unless the new name gives one). */
export async function tagImage(
  registry: Registry,
  image: ImageName,
  newName: ImageName,
  options: { signal?: AbortSignal } = {},
): Promise<PlacedImage> {
  const source = findContainer(registry, image);
  const tagged = withVersion(newName, newName.version ?? source.version);
  const refuseTaken = () => {
    if (findContainers(registry.db, tagged).length > 0) {
      throw new ConflictError(`a record of ${formatImageName(tagged)} already exists`, {
        hint: "remove it first, or choose another name",
      });
    }
  };
  refuseTaken();
  const fields = { ...fieldsOf(source, tagged), uri: formatImageName(tagged) };
  if (source.image === null) {
    // A remote-only record: a second record of the same URL.
    return immediate(registry.db, () => {
      refuseTaken();
      insertContainer(registry.db, fields);
      return { container: findContainer(registry, tagged), action: "new", path: "" };
    });
  }
  const tag = {
    from: storedImageFile(registry, source),
    to: registry.storage.imagePath(tagged),
    md5: source.md5,
    fields,
    refuseTaken,
  };
  const created = firstMissingFolder(dirname(tag.to));
  try {
    prepareFolder(registry, dirname(tag.to));
    try {
      return linkTag(registry, tag);
    } catch (error) {
      if (!(error instanceof LinkRefused)) throw error;
      const copied = await copyTag(registry, tag, options);
      return {
        ...copied,
        warnings: [
          `storage refused a hard link of ${tag.from} (${error.message}), so the image was ` +
          "copied and takes space of its own",
        ],
      };
    }
  } catch (error) {
    // A refused tag leaves no empty folders of its own making.
    if (created !== null) pruneEmptyFolders(dirname(tag.to), dirname(created));
    throw error;
  }
}

interface Tag {
  from: string;
  to: string;
  md5: string | null;
  fields: ContainerFields;
  refuseTaken: () => void;
}

// The system would not make the hard link; the change was rolled back and a copy can do.
class LinkRefused extends Error {}

function linkTag(registry: Registry, tag: Tag): PlacedImage {
  return journaled(registry, "tag", {
    plan: () => {
      tag.refuseTaken();
      return { steps: [linkStep(tag.from, tag.to)], about: null };
    },
    apply: (_, files) => {
      tag.refuseTaken();
      if (!files.share(tag.from, tag.to)) {
        if (!exists(tag.from)) {
          throw new ConflictError(`${tag.from} was removed meanwhile; nothing was tagged`);
        }
        throw new LinkRefused("not permitted");
      }
      return recordTag(registry, tag);
    },
  });
}

// The copy goes next to the new name's path under a name the journal holds, then is linked.
async function copyTag(
  registry: Registry,
  tag: Tag,
  options: { signal?: AbortSignal },
): Promise<PlacedImage> {
  const staged = temporaryPath(registry, dirname(tag.to));
  try {
    return await journaledWithStaging(registry, "tag", {
      plan: () => {
        tag.refuseTaken();
        return { steps: [linkStep(staged, tag.to)], about: null };
      },
      apply: (_, files) => {
        tag.refuseTaken();
        files.link(staged, tag.to);
        files.drop(staged);
        return recordTag(registry, tag);
      },
    }, async () => {
      const { md5 } = await copyAndHash(tag.from, staged, { signal: options.signal });
      if (tag.md5 !== null && md5 !== tag.md5) {
        throw new IntegrityError(`${tag.from} no longer holds the image it was stored with`, {
          hint: "'sregistry verify' says more; nothing was tagged",
        });
      }
    });
  } finally {
    removeIfPresent(staged);
  }
}

function recordTag(registry: Registry, tag: Tag): PlacedImage {
  insertContainer(registry.db, { ...tag.fields, file: registry.storage.toRecord(tag.to) });
  return { container: findContainer(registry, tag.fields.image), action: "new", path: tag.to };
}
