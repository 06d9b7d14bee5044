/**
 * `tag`: a second name for an image, taking no extra space. The new record's file is a hard link
 * of the old one's in storage, so either name can be removed without taking bytes the other
 * uses; record and link commit together as a journaled change (core/journal.ts).
 */
import { dirname } from "./paths.ts";
import { ConflictError, UnsupportedError } from "../errors.ts";
import { type ContainerFields, fieldsOf, findContainers, insertContainer } from "./containers.ts";
import { immediate } from "./database.ts";
import { journaled, linkStep } from "./journal.ts";
import { formatImageName, type ImageName, withVersion } from "./names.ts";
import { findContainer, type Registry, storedImageFile } from "./registry.ts";
import { firstMissingFolder, type PlacedImage, prepareFolder } from "./add.ts";
import { pruneEmptyFolders } from "./storage.ts";

/** Records `image` under `newName` too (its version kept unless the new name gives one). */
export function tagImage(registry: Registry, image: ImageName, newName: ImageName): PlacedImage {
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
  const from = storedImageFile(registry, source);
  const to = registry.storage.imagePath(tagged);
  const created = firstMissingFolder(dirname(to));
  try {
    prepareFolder(registry, dirname(to));
    return linkTag(registry, { from, to, fields, refuseTaken });
  } catch (error) {
    // A refused tag leaves no empty folders of its own making.
    if (created !== null) pruneEmptyFolders(dirname(to), dirname(created));
    throw error;
  }
}

function linkTag(
  registry: Registry,
  tag: {
    from: string;
    to: string;
    fields: ContainerFields;
    refuseTaken: () => void;
  },
): PlacedImage {
  const { from, to, fields, refuseTaken } = tag;
  return journaled(registry, "tag", {
    plan: () => {
      refuseTaken();
      return { steps: [linkStep(from, to)], about: null };
    },
    apply: (_, files) => {
      refuseTaken();
      if (!files.share(from, to)) {
        throw new UnsupportedError(`cannot hard-link ${from} to ${to} in storage`, {
          hint: "storage's filesystem refuses hard links here; 'sregistry add --copy' makes a copy",
        });
      }
      insertContainer(registry.db, { ...fields, file: registry.storage.toRecord(to) });
      return {
        container: findContainer(registry, fields.image),
        action: "new",
        path: to,
      } satisfies PlacedImage;
    },
  });
}
