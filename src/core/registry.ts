/**
 * The local registry: the database and the storage folder, opened together. Disposable, so a
 * command writes `using registry = ctx.openRegistry()` and the database always closes.
 */
import type { DatabaseSync } from "node:sqlite";
import { join } from "./paths.ts";
import { ConfigError, NotFoundError, reason } from "../errors.ts";
import { BUSY_TIMEOUT_MS, openDatabase } from "./database.ts";
import { migrate } from "./schema.ts";
import { ensureFolder, Storage, tagCacheFolder, unusablePath } from "./storage.ts";
import { isSharedFolder, makeSharedFolder, shareDatabaseFile } from "./sharing.ts";
import { createOwnerLock, type JournalHost, recoverJournal } from "./journal.ts";
import type { LockFile } from "./file_lock.ts";
import { type Container, markUsed, useIsStale } from "./containers.ts";
import { lookupContainer } from "./lookup.ts";
import type { ImageName } from "./names.ts";

/** The database file name inside the database folder. */
export const DATABASE_FILE = "sregistry.db";
/** The folder of owner locks beside the database: one per process with journaled changes. */
const OWNERS_FOLDER = ".sregistry-owners";

/** An open database with its storage folder. */
export interface Registry extends Disposable, JournalHost {
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
  /** Called at each named step of a journaled change; tests stop the process there. */
  failpoint?: (step: string) => void;
}

/**
 * Opens the registry, creating missing folders, migrating the schema, and repairing what a
 * process that died in the middle of a change left (core/journal.ts).
 */
export function openRegistry(location: RegistryLocation): Registry {
  createFolder(location.databaseFolder, "database folder", "SREGISTRY_DATABASE");
  createFolder(location.storageRoot, "storage folder", "SREGISTRY_STORAGE");
  // One spelling of every storage path: files reached through a symlinked storage folder (common
  // on clusters) must compare equal to the same files reached directly.
  const storage = new Storage(Deno.realPathSync(location.storageRoot), {
    shared: isSharedFolder(location.storageRoot),
  });
  const sharedDatabase = isSharedFolder(location.databaseFolder);
  tagCacheFolder(storage.root);
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
  // SQLite makes the file on its first write, with the umask's mode.
  if (sharedDatabase) shareDatabaseFile(databaseFile);
  // What listings show as an image's location: SQLite asks this for every local record.
  const listing = storage.listingStates();
  db.function("image_state", (image, size) => {
    const state = listing(
      storage.fromRecord(String(image)),
      typeof size === "number" ? size : null,
    );
    return state === "file" ? "local" : state;
  });
  let ownerLock: LockFile | null = null;
  const registry: Registry = {
    db,
    storage,
    ownersFolder: join(location.databaseFolder, OWNERS_FOLDER),
    failpoint: location.failpoint ?? (() => {}),
    owner: crypto.randomUUID(),
    holdOwnerLock() {
      try {
        if (ownerLock === null && sharedDatabase) makeSharedFolder(registry.ownersFolder);
        ownerLock ??= createOwnerLock(registry.ownersFolder, registry.owner);
      } catch (error) {
        throw new ConfigError(`cannot write the database folder ${location.databaseFolder}`, {
          hint: `${reason(error)}; check its permissions, or set SREGISTRY_DATABASE`,
          cause: error,
        });
      }
    },
    [Symbol.dispose]: () => {
      db.close();
      ownerLock?.release();
    },
  };
  try {
    recoverJournal(registry);
  } catch (error) {
    registry[Symbol.dispose]();
    throw error;
  }
  return registry;
}

function createFolder(path: string, what: string, variable: string): void {
  const unusable = unusablePath(path);
  if (unusable !== null) {
    throw new ConfigError(`${unusable}, so not as the ${what}`, {
      hint: `set ${variable} to a folder elsewhere (node-local scratch, $TMPDIR)`,
    });
  }
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
 * no record of the tag is looked for under every tag, and a version prefix as lookup.ts says.
 */
export function findContainer(registry: Registry, image: ImageName): Container {
  return lookupContainer(registry.db, image);
}

/** The absolute path of a record's image file, or null for a remote-only record. */
export function imageFile(registry: Registry, container: Container): string | null {
  return container.image === null ? null : registry.storage.fromRecord(container.image);
}

/**
 * Records that an image was used, for `prune --unused`, without slowing `get` down: at most once
 * an hour per image, and never waiting for the database (a busy or read-only one skips it).
 */
export function noteUse(registry: Registry, container: Container): void {
  if (!useIsStale(container)) return;
  try {
    registry.db.exec("PRAGMA busy_timeout = 0");
    markUsed(registry.db, container.id);
  } catch {
    // another writer holds the database, or this user may not write it: next time
  } finally {
    registry.db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
  }
}

/** What `get` prints: the image path, or the URL of a remote-only record. */
export function imageLocation(registry: Registry, container: Container): string {
  return container.image === null ? container.url ?? "" : storedImageFile(registry, container);
}

/**
 * The path of a local record's image file, when it holds the file the record describes: a
 * regular file, reached through no symlink in storage, of the recorded size. Else a
 * NotFoundError saying what to run.
 */
export function storedImageFile(registry: Registry, container: Container): string {
  const file = registry.storage.fromRecord(container.image ?? "");
  const state = registry.storage.fileState(file, container.size);
  if (state === "file") return file;
  throw new NotFoundError(
    state === "missing"
      ? `the image file of ${container.uri} is missing: ${file}`
      : `the image file of ${container.uri} changed: ${file} is not ${container.size} bytes`,
    {
      hint: `'sregistry rm ${container.uri}' drops the record; pull or add the image again` +
        " to restore it",
    },
  );
}
