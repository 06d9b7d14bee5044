/**
 * The local registry: the database and the storage folder, opened together, and finding the
 * records users name (versions by a prefix; the nearest names when none matches). Disposable, so
 * a command writes `using registry = await ctx.openRegistry()` and the database always closes.
 */
import type { DatabaseSync } from "node:sqlite";
import { join } from "./paths.ts";
import { ConfigError, NotFoundError, reason, UsageError } from "../errors.ts";
import { BUSY_TIMEOUT_MS, openDatabase } from "./database.ts";
import { migrate } from "./schema.ts";
import {
  ensureFolder,
  exists,
  isFolder,
  Storage,
  STORE_MARKER,
  tagCacheFolder,
  unusablePath,
} from "./storage.ts";
import { isSharedFolder, shareDatabaseFile } from "./sharing.ts";
import type { JournalHost } from "./journal.ts";
import {
  type Container,
  findContainers,
  findVersion,
  findVersionPrefix,
  markUsed,
  recordedNames,
  useIsStale,
} from "./containers.ts";
import { editDistance } from "./edit_distance.ts";
import { collectionKey, formatImageName, type ImageName } from "./names.ts";

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
export async function openRegistry(location: RegistryLocation): Promise<Registry> {
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
  let owner: string | undefined;
  const registry: Registry = {
    db,
    storage,
    databaseFolder: location.databaseFolder,
    ownersFolder: join(location.databaseFolder, OWNERS_FOLDER),
    sharedDatabase,
    failpoint: location.failpoint ?? (() => {}),
    // Made when a change first needs it: only writers journal anything.
    get owner() {
      owner ??= crypto.randomUUID();
      return owner;
    },
    ownerLock: null,
    [Symbol.dispose]: () => {
      db.close();
      registry.ownerLock?.release();
    },
  };
  try {
    // A storage folder that names no database becomes this one's now; which database one that
    // does names is read when a command asks (prune), so `get` never spends time on it. The code
    // loads only for a folder without its marker, by a specifier built at run time (see below).
    if (!exists(join(storage.root, STORE_MARKER))) {
      const identity: typeof import("./store_identity.ts") = await import(
        new URL("./store_identity.ts", import.meta.url).href
      );
      identity.storeOwnership(db, storage.root);
    }
    // The journal's code loads only when a change is pending: nearly every open finds none, and
    // start-up is what a script calling `get` in a loop pays. Its specifier is built at run time,
    // or Deno would read its modules at every start-up (scripts/compile.ts includes them).
    if (db.prepare("SELECT 1 FROM journal LIMIT 1").get() !== undefined) {
      const journal: typeof import("./journal.ts") = await import(
        new URL("./journal.ts", import.meta.url).href
      );
      journal.recoverJournal(registry);
    }
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
  if (isFolder(path)) return;
  try {
    ensureFolder(path);
  } catch (error) {
    throw new ConfigError(`cannot create the ${what} ${path}: ${reason(error)}`, {
      hint: `set ${variable} to a folder you can write`,
      cause: error,
    });
  }
}

/** The record a name means (as lookupContainers), or a NotFoundError naming the nearest ones. */
export function findContainer(registry: Registry, image: ImageName): Container {
  return lookupContainers(registry.db, [image])[0];
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
  if (state === "unreadable") {
    throw new ConfigError(`cannot reach the image file of ${container.uri}: ${file}`, {
      hint: "a folder on its way is closed to you; ask its owner, or check the store's modes " +
        "('sregistry config')",
    });
  }
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

/** The fewest hex characters of a version that find it as a prefix. */
const MIN_VERSION_PREFIX = 8;
// Suggestions in a hint, and candidates listed for an ambiguous prefix.
const MAX_SUGGESTIONS = 3;
const MAX_CANDIDATES = 10;

/**
 * The record each name means, in their order: the newest record of it (of its version, when it
 * has one); else its version under any tag; else, for a version of MIN_VERSION_PREFIX or more
 * hex characters, the one version that starts with it (the record of the name's tag first, else
 * the newest). All are found, or one NotFoundError names every name without a record and, as
 * its hint, the nearest recorded names; an ambiguous prefix is a UsageError naming candidates.
 */
export function lookupContainers(db: DatabaseSync, images: ImageName[]): Container[] {
  const found: Container[] = [];
  const missing = new Map<string, ImageName>();
  for (const image of images) {
    const container = findContainers(db, image)[0] ?? findVersion(db, image)[0] ??
      findByPrefix(db, image);
    if (container === undefined) missing.set(formatImageName(image), image);
    else found.push(container);
  }
  if (missing.size > 0) {
    const hints = [...missing].flatMap(([name, image]) => {
      const nearest = nearestNames(db, image);
      if (nearest.length === 0) return [];
      return [`${missing.size > 1 ? `for ${name}, ` : ""}did you mean ${orList(nearest)}?`];
    });
    throw new NotFoundError(`no record of ${[...missing.keys()].join(", ")} in the database`, {
      hint: hints.length > 0 ? hints.join("; ") : "'sregistry images' lists what is recorded",
    });
  }
  return found;
}

// A version prefix: the records whose version starts with it, if they are of one version.
function findByPrefix(db: DatabaseSync, image: ImageName): Container | undefined {
  const prefix = image.version;
  if (prefix === null || !new RegExp(`^[0-9a-f]{${MIN_VERSION_PREFIX},}$`).test(prefix)) {
    return undefined;
  }
  const candidates = findVersionPrefix(db, image, prefix);
  const versions = new Set(candidates.map((container) => container.version));
  const tagged = candidates.filter((container) => container.tag === image.tag);
  if (new Set(tagged.map((container) => container.version)).size === 1) return tagged[0];
  if (versions.size <= 1) return candidates[0];
  const uris = [...new Set(candidates.map((container) => container.uri))];
  const shown = uris.slice(0, MAX_CANDIDATES).join(", ") +
    (uris.length > MAX_CANDIDATES ? ` and ${uris.length - MAX_CANDIDATES} more` : "");
  throw new UsageError(
    `the version prefix ${prefix} of ${formatImageName(image, { withVersion: false })} is ` +
      `ambiguous: ${shown}`,
    { hint: "give more characters of the version" },
  );
}

/**
 * The recorded names nearest to a name without a record, nearest first: the same name under
 * other tags (the newest versions of the name and tag, when it has a version), the same name in
 * another collection, and names a few edits away.
 */
function nearestNames(db: DatabaseSync, image: ImageName): string[] {
  if (image.version !== null) {
    const versions = findContainers(db, { ...image, version: null });
    if (versions.length > 0) return versions.slice(0, MAX_SUGGESTIONS).map((found) => found.uri);
  }
  const wanted = { path: `${collectionKey(image)}/${image.name}`, tag: image.tag };
  const limit = Math.max(1, Math.min(3, Math.floor(wanted.path.length / 5)));
  const scored: { name: string; score: number }[] = [];
  for (const recorded of recordedNames(db)) {
    const path = `${recorded.collection}/${recorded.name}`;
    // Another tag costs half an edit of the name: a user rarely mistypes a name they got right.
    const tagCost = recorded.tag === wanted.tag ? 0 : 0.5;
    // The same image name in another collection ("hello-world" for vsoch/hello-world).
    const sameName = recorded.name === image.name ? 1 + tagCost : Infinity;
    const score = Math.min(sameName, editDistance(wanted.path, path, limit) + tagCost);
    if (score <= limit) scored.push({ name: `${path}:${recorded.tag}`, score });
  }
  return scored.sort((a, b) => a.score - b.score || a.name.localeCompare(b.name))
    .slice(0, MAX_SUGGESTIONS).map((entry) => entry.name);
}

function orList(names: string[]): string {
  return names.length === 1 ? names[0] : `${names.slice(0, -1).join(", ")} or ${names.at(-1)}`;
}
