/**
 * Removing records (`rm`) and records with their files (`rmi`). `rmi` is a journaled change
 * (core/journal.ts): each file is set aside under a tombstone name in the transaction that
 * deletes its record, and deleted after the commit, so a failure or a kill at any point leaves
 * records and files as they were or as they should be once the next command has run.
 */
import { dirname } from "node:path";
import {
  type Container,
  containerExists,
  deleteContainer,
  fileShared,
  listContainers,
} from "./containers.ts";
import { immediate } from "./database.ts";
import { type FileStep, journaled } from "./journal.ts";
import type { ImageName } from "./names.ts";
import { findContainer, imageFile, type Registry } from "./registry.ts";
import { exists, pruneEmptyFolders } from "./storage.ts";
import { storageWriteError } from "./add.ts";

/** One removed record and what became of its file. */
export interface Removal {
  /** The record that was deleted. */
  container: Container;
  /** Absolute path of its image file, or null for a remote-only record. */
  file: string | null;
  /** What happened to the file. */
  fileState: "kept" | "deleted" | "shared" | "missing" | "none";
}

/** Removes the newest record of a name (or the given version); deletes its file with `deleteFile`. */
export function removeContainer(
  registry: Registry,
  image: ImageName,
  options: { deleteFile: boolean },
): Removal {
  return removeContainers(registry, () => [findContainer(registry, image)], {
    ...options,
    command: "rmi",
  })[0];
}

/** Removes every record; deletes their files with `deleteFile`. */
export function removeAll(registry: Registry, options: { deleteFile: boolean }): Removal[] {
  return removeContainers(registry, () => listContainers(registry.db, []), {
    ...options,
    command: "rmi-all",
  });
}

// A record to remove, with the tombstone its file goes to.
interface Doomed {
  container: Container;
  file: string | null;
  tombstone: string | null;
}

function removeContainers(
  registry: Registry,
  select: () => Container[],
  options: { deleteFile: boolean; command: string },
): Removal[] {
  let removals: Removal[];
  try {
    removals = options.deleteFile
      ? journaled(registry, options.command, {
        plan: () => {
          const doomed = select().map((container): Doomed => {
            const file = imageFile(registry, container);
            const tombstone = file !== null && exists(file)
              ? registry.storage.tombstonePath(dirname(file))
              : null;
            return { container, file, tombstone };
          });
          const steps = doomed.filter((d) => d.tombstone !== null)
            .map((d): FileStep => ({ op: "set-aside", file: d.file!, tombstone: d.tombstone! }));
          return { steps, about: doomed };
        },
        apply: (doomed, files) =>
          doomed.flatMap(({ container, file, tombstone }) => {
            // Removed by another command since the plan: nothing left to do for it.
            if (!containerExists(registry.db, container.id)) return [];
            deleteContainer(registry.db, container);
            if (file === null) return [{ container, file, fileState: "none" } as Removal];
            if (tombstone === null || !exists(file)) {
              return [{ container, file, fileState: "missing" } as Removal];
            }
            // Another record's image file too: its bytes stay.
            if (fileShared(registry.db, container.image!, container.id)) {
              return [{ container, file, fileState: "shared" } as Removal];
            }
            files.setAside(file, tombstone);
            return [{ container, file, fileState: "deleted" } as Removal];
          }),
      })
      : immediate(registry.db, () =>
        select().map((container) => {
          const file = imageFile(registry, container);
          deleteContainer(registry.db, container);
          const fileState = file === null ? "none" : exists(file) ? "kept" : "missing";
          return { container, file, fileState };
        }));
  } catch (error) {
    throw storageWriteError(registry, error);
  }
  for (const removal of removals) {
    if (removal.fileState === "deleted" && registry.storage.contains(removal.file!)) {
      pruneEmptyFolders(dirname(removal.file!), registry.storage.root);
    }
  }
  return removals;
}
