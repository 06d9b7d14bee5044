/**
 * The local registry: the database and the storage folder, opened together. Disposable, so a
 * command writes `using registry = ctx.openRegistry()` and the database always closes.
 */
import type { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { ConfigError, NotFoundError, reason } from "../errors.ts";
import { openDatabase } from "./database.ts";
import { migrate } from "./schema.ts";
import { ensureFolder, Storage } from "./storage.ts";
import { type Container, findContainers, findVersion } from "./containers.ts";
import { formatImageName, type ImageName } from "./names.ts";

/** The database file name inside the database folder. */
export const DATABASE_FILE = "sregistry.db";

/** An open database with its storage folder. */
export interface Registry extends Disposable {
  /** The open database. */
  readonly db: DatabaseSync;
  /** The storage folder. */
  readonly storage: Storage;
}

/** Where the database and the images live. */
export interface RegistryLocation {
  /** Folder holding sregistry.db. */
  databaseFolder: string;
  /** Storage root for image files. */
  storageRoot: string;
}

/** Opens the registry, creating missing folders and migrating the schema. */
export function openRegistry(location: RegistryLocation): Registry {
  createFolder(location.databaseFolder, "database folder", "SREGISTRY_DATABASE");
  createFolder(location.storageRoot, "storage folder", "SREGISTRY_STORAGE");
  // One spelling of every storage path: files reached through a symlinked storage folder (common
  // on clusters) must compare equal to the same files reached directly.
  const storage = new Storage(Deno.realPathSync(location.storageRoot));
  const databaseFile = join(location.databaseFolder, DATABASE_FILE);
  const db = openDatabase(databaseFile);
  try {
    migrate(db, storage.root);
  } catch (error) {
    db.close();
    throw new ConfigError(`cannot prepare the database ${databaseFile}: ${reason(error)}`, {
      hint: "check that the folder is writable, or set SREGISTRY_DATABASE",
      cause: error,
    });
  }
  return {
    db,
    storage,
    [Symbol.dispose]: () => db.close(),
  };
}

function createFolder(path: string, what: string, variable: string): void {
  try {
    ensureFolder(path);
  } catch (error) {
    throw new ConfigError(`cannot create the ${what} ${path}: ${reason(error)}`, {
      hint: `set ${variable} to a folder you can write`,
      cause: error,
    });
  }
}

/**
 * The newest record of a name (a given version when the name has one); a version found under
 * no record of the tag is looked for under every tag.
 */
export function findContainer(registry: Registry, image: ImageName): Container {
  const found = findContainers(registry.db, image)[0] ?? findVersion(registry.db, image)[0];
  if (!found) {
    throw new NotFoundError(`no record of ${formatImageName(image)} in the database`, {
      hint: "'sregistry images' lists what is recorded",
    });
  }
  return found;
}

/** The absolute path of a record's image file, or null for a remote-only record. */
export function imageFile(registry: Registry, container: Container): string | null {
  return container.image === null ? null : registry.storage.fromRecord(container.image);
}

/** What `get` prints: the image path, or the URL of a remote-only record. */
export function imageLocation(registry: Registry, container: Container): string {
  return imageFile(registry, container) ?? container.url ?? "";
}
