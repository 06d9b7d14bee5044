/**
 * Removing records (`rm`) and records with their files (`rmi`). A file to delete is first renamed
 * to a temporary name inside the transaction, so a failure leaves record and file as they were;
 * it is unlinked only after the commit.
 */
import { dirname } from "node:path";
import { type Container, deleteContainer, listContainers } from "./containers.ts";
import { immediate } from "./database.ts";
import type { ImageName } from "./names.ts";
import { findContainer, imageFile, type Registry } from "./registry.ts";
import { exists, pruneEmptyFolders, removeIfPresent } from "./storage.ts";
import { storageWriteError } from "./add.ts";

/** One removed record and what became of its file. */
export interface Removal {
  /** The record that was deleted. */
  container: Container;
  /** Absolute path of its image file, or null for a remote-only record. */
  file: string | null;
  /** What happened to the file. */
  fileState: "kept" | "deleted" | "missing" | "none";
}

/** Removes the newest record of a name (or the given version); deletes its file with `deleteFile`. */
export function removeContainer(
  registry: Registry,
  image: ImageName,
  options: { deleteFile: boolean },
): Removal {
  return removeContainers(registry, [findContainer(registry, image)], options)[0];
}

/** Removes every record; deletes their files with `deleteFile`. */
export function removeAll(registry: Registry, options: { deleteFile: boolean }): Removal[] {
  return removeContainers(registry, listContainers(registry.db, []), options);
}

function removeContainers(
  registry: Registry,
  containers: Container[],
  options: { deleteFile: boolean },
): Removal[] {
  const doomed: { file: string; tombstone: string }[] = [];
  let removals: Removal[];
  try {
    removals = immediate(registry.db, () =>
      containers.map((container) => {
        const file = imageFile(registry, container);
        deleteContainer(registry.db, container);
        if (file === null) return { container, file, fileState: "none" };
        if (!exists(file)) return { container, file, fileState: "missing" };
        if (!options.deleteFile) return { container, file, fileState: "kept" };
        const tombstone = registry.storage.tombstonePath(dirname(file));
        Deno.renameSync(file, tombstone);
        doomed.push({ file, tombstone });
        return { container, file, fileState: "deleted" };
      }));
  } catch (error) {
    // Rolled back: put back any file already renamed away.
    for (const { file, tombstone } of doomed) Deno.renameSync(tombstone, file);
    throw storageWriteError(registry, error);
  }
  for (const { tombstone } of doomed) removeIfPresent(tombstone);
  for (const removal of removals) {
    if (removal.fileState === "deleted" && registry.storage.contains(removal.file!)) {
      pruneEmptyFolders(dirname(removal.file!), registry.storage.root);
    }
  }
  return removals;
}
