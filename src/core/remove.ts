/**
 * Removing records (`rm`) and records with their files (`rmi`). `rmi` is a journaled change
 * (core/journal.ts): each file is set aside under a tombstone name in the transaction that
 * deletes its record, and deleted after the commit, so a failure or a kill at any point leaves
 * records and files as they were or as they should be once the next command has run.
 */
import { dirname } from "./paths.ts";
import { ConflictError } from "../errors.ts";
import { type Container, containerExists, fileShared, findContainerById } from "./containers.ts";
import { listContainers } from "./container_listing.ts";
import { deleteContainer } from "./container_writes.ts";
import { immediate } from "./database.ts";
import { type FileStep, journaled } from "./journal.ts";
import type { ImageName } from "./names.ts";
import { imageFile, lookupContainers, type Registry } from "./registry.ts";
import { exists } from "./storage.ts";
import { pruneEmptyFolders } from "./file_placement.ts";
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

/**
 * Removes the record each name means (lookupContainers; two names of one record remove it once),
 * deleting their files with `deleteFile`, as one change: when a name has no record, nothing is
 * removed.
 */
export function removeNamed(
  registry: Registry,
  images: ImageName[],
  options: { deleteFile: boolean },
): Removal[] {
  const select = () => {
    const containers = new Map<number, Container>();
    for (const found of lookupContainers(registry.db, images)) containers.set(found.id, found);
    return [...containers.values()];
  };
  return removeContainers(registry, select, {
    ...options,
    command: "rmi",
  });
}

/** Removes every record; deletes their files with `deleteFile`. */
export function removeAll(registry: Registry, options: { deleteFile: boolean }): Removal[] {
  return removeContainers(registry, () => listContainers(registry.db, []), {
    ...options,
    command: "rmi-all",
  });
}

/**
 * Removes the records of `ids`, deleting their files, as one journaled change named `command`:
 * each only while the test that `recheck` makes (afresh in each of the change's transactions)
 * still chooses it, so a record another command changed meanwhile stays. What `prune` removes.
 */
export function removeChosen(
  registry: Registry,
  ids: number[],
  options: { command: string; recheck: () => (container: Container) => boolean },
): Removal[] {
  const select = () => {
    const chosen = options.recheck();
    return ids.flatMap((id) => {
      const container = findContainerById(registry.db, id);
      return container !== undefined && chosen(container) ? [container] : [];
    });
  };
  return removeContainers(registry, select, { ...options, deleteFile: true });
}

// Something is at `file`, reached through no symlinked folder in storage: a folder planted as a
// link leads elsewhere, and what is there is not storage's to delete.
function present(registry: Registry, file: string): boolean {
  return exists(file) &&
    (!registry.storage.contains(file) || registry.storage.reachedDirectly(file));
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
  options: {
    deleteFile: boolean;
    command: string;
    recheck?: () => (container: Container) => boolean;
  },
): Removal[] {
  let removals: Removal[];
  try {
    removals = options.deleteFile
      ? journaled(registry, options.command, {
        plan: () => {
          const doomed = select().map((container): Doomed => {
            const file = imageFile(registry, container);
            const tombstone = file !== null && present(registry, file)
              ? registry.storage.tombstonePath(dirname(file))
              : null;
            return { container, file, tombstone };
          });
          const steps = doomed.filter((d) => d.tombstone !== null)
            .map((d): FileStep => ({ op: "set-aside", file: d.file!, tombstone: d.tombstone! }));
          return { steps, about: doomed };
        },
        apply: (doomed, files) => {
          const chosen = options.recheck?.() ?? (() => true);
          return doomed.flatMap(({ container, file, tombstone }) => {
            // Removed (or changed) by another command since the plan: nothing to do for it.
            if (!containerExists(registry.db, container.id) || !chosen(container)) return [];
            // Moved (mv, rename) since the plan: its file is not the one planned for deletion.
            if (findContainerById(registry.db, container.id)?.image !== container.image) {
              throw new ConflictError(`${container.uri} was moved meanwhile; nothing was removed`, {
                hint: "run the command again",
              });
            }
            deleteContainer(registry.db, container);
            if (file === null) return [{ container, file, fileState: "none" } as Removal];
            if (tombstone === null || !present(registry, file)) {
              return [{ container, file, fileState: "missing" } as Removal];
            }
            // Another record's image file too: its bytes stay.
            if (fileShared(registry.db, container.image!, container.id)) {
              return [{ container, file, fileState: "shared" } as Removal];
            }
            files.setAside(file, tombstone);
            return [{ container, file, fileState: "deleted" } as Removal];
          });
        },
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
