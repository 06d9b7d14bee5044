/**
 * The storage folder of image files: `<root>/[registry/]<collection>/<name>/<tag>@<version>.sif`.
 * Every path handed out is checked to stay inside the root; files arrive under a recognisable
 * temporary name in their destination folder and are renamed into place, never overwritten.
 */
import { dirname, isAbsolute, join, relative, resolve, sep } from "./paths.ts";
import { ConflictError, InvalidNameError, RUNTIME_REFUSES } from "../errors.ts";
import { collectionKey, type ImageName } from "./names.ts";
import { shareFolder } from "./sharing.ts";

/** Prefix of every temporary file sregistry leaves in storage while writing. */
export const TEMP_PREFIX = ".sregistry-tmp-";
/** Prefix of partial downloads that a later pull resumes. */
export const PART_PREFIX = ".sregistry-part-";
/** Prefix of an image file that rmi is deleting: its only copy until the record is gone. */
export const TOMBSTONE_PREFIX = ".sregistry-removed-";
/**
 * A temporary file untouched this long was left by a process that died (killed, out of memory):
 * a live copy writes to it all the time.
 */
export const STALE_AFTER_MS = 60 * 60 * 1000;

/** Every prefix sregistry reserves for its own files in storage; no name part may use one. */
export const RESERVED_PREFIX = ".sregistry-";

/** The tag (bford.info/cachedir) that tells backup tools to skip the storage folder. */
export const CACHEDIR_TAG = "CACHEDIR.TAG";
/** The file in the storage root that names its database (core/store_identity.ts). */
export const STORE_MARKER = ".sregistry-store";
const CACHEDIR_TAG_TEXT = "Signature: 8a477f597d28d172789f06886806bc55\n" +
  "# This file is a cache directory tag created by sregistry: its images can be pulled again.\n" +
  "# For information about cache directory tags, see https://bford.info/cachedir/\n";

/** Writes CACHEDIR.TAG into a storage root that has none; a read-only storage goes without. */
export function tagCacheFolder(root: string): void {
  const path = join(root, CACHEDIR_TAG);
  if (exists(path)) return;
  try {
    Deno.writeTextFileSync(path, CACHEDIR_TAG_TEXT, { createNew: true, mode: 0o644 });
  } catch {
    // written meanwhile by another command, or storage this user cannot write
  }
}

/**
 * What a recorded image path holds: the file the record describes, nothing usable ("missing":
 * no file, a symlink, a folder), a file of another size ("changed"), or a path this user may not
 * reach ("unreadable").
 */
export type FileState = "file" | "missing" | "changed" | "unreadable";

/** The storage root and the rules for paths inside it. */
export class Storage {
  /** Absolute path of the storage root. */
  readonly root: string;
  /** True for a store a group shares (core/sharing.ts): folders and images get group modes. */
  readonly shared: boolean;

  constructor(root: string, options: { shared?: boolean } = {}) {
    this.root = resolve(root);
    this.shared = options.shared ?? false;
  }

  /** The folder that holds every tag and version of an image. */
  imageFolder(image: ImageName): string {
    return this.#inside(join(this.root, collectionKey(image), image.name));
  }

  /** The file of one version of an image. */
  imagePath(image: ImageName): string {
    const file = image.version ? `${image.tag}@${image.version}.sif` : `${image.tag}.sif`;
    return this.#inside(join(this.imageFolder(image), file));
  }

  /**
   * A fresh temporary path in `folder`, recognisable by its prefix and named after the owner
   * token of the process writing it (core/journal.ts), whose lock tells whether it still lives.
   */
  tempPath(folder: string, owner: string): string {
    return join(folder, `${TEMP_PREFIX}${owner}-${crypto.randomUUID().slice(0, 8)}`);
  }

  /** A fresh path in `folder` for an image file on its way to deletion. */
  tombstonePath(folder: string): string {
    return uniquePath(folder, TOMBSTONE_PREFIX);
  }

  /**
   * Creates the folders from the root down to `folder` (inside storage) and checks that none of
   * them is a symlink or a file: other people and programs write in storage, and a planted link
   * would send files elsewhere.
   */
  prepareFolder(folder: string): void {
    const rel = relative(this.root, this.#inside(folder));
    let current = this.root;
    for (const part of rel.split(sep)) {
      current = join(current, part);
      let info: Deno.FileInfo;
      try {
        info = Deno.lstatSync(current);
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
        try {
          Deno.mkdirSync(current);
          if (this.shared) shareFolder(current);
          continue;
        } catch (mkdirError) {
          // Made meanwhile by another command: look at it again.
          if (!(mkdirError instanceof Deno.errors.AlreadyExists)) throw mkdirError;
          info = Deno.lstatSync(current);
        }
      }
      if (info.isSymlink) {
        throw new ConflictError(
          `${current} in storage is a symlink; sregistry never writes through one`,
          {
            hint: "remove the link (storage is sregistry's own folder)",
          },
        );
      }
      if (!info.isDirectory) {
        throw new ConflictError(`${current} in storage is a file where a folder should be`, {
          hint: "move it out of storage",
        });
      }
    }
  }

  /**
   * What is at a recorded image path: "file" when it is a regular file reached through no
   * symlink inside storage (of `size` bytes, when given), "changed" when its size differs,
   * "missing" otherwise. A file outside storage is the user's to link as they like. `quick`
   * leaves out the folders between the root and the file, for listings of many records.
   */
  fileState(
    path: string,
    size: number | null,
    options: { quick?: boolean } = {},
  ): FileState {
    let info: Deno.FileInfo;
    try {
      if (this.contains(path)) {
        if (!options.quick && this.#linkedFolder(dirname(path))) return "missing";
        info = Deno.lstatSync(path);
      } else {
        info = Deno.statSync(path);
      }
    } catch (error) {
      // Behind a folder this user may not enter: there, perhaps, but not for this user.
      return error instanceof Deno.errors.PermissionDenied ? "unreadable" : "missing";
    }
    if (!info.isFile) return "missing";
    return size !== null && info.size !== size ? "changed" : "file";
  }

  /**
   * fileState for listings of many records: quick, and a folder found missing is looked at once,
   * not once per record in it (a failed lstat costs four times a good one).
   */
  listingStates(): (path: string, size: number | null) => FileState {
    const folders = new Map<string, boolean>([[this.root, true]]);
    const present = (folder: string): boolean => {
      let known = folders.get(folder);
      if (known === undefined) {
        const parent = dirname(folder);
        known = parent !== folder && (parent === this.root || !this.contains(parent) ||
          present(parent)) &&
          isFolder(folder);
        folders.set(folder, known);
      }
      return known;
    };
    return (path, size) =>
      this.contains(path) && !present(dirname(path))
        ? "missing"
        : this.fileState(path, size, { quick: true });
  }

  /** True when every folder between the root and `path` (inside storage) is a real folder. */
  reachedDirectly(path: string): boolean {
    return !this.#linkedFolder(dirname(path));
  }

  /** True when `path` is inside the storage root. */
  contains(path: string): boolean {
    // The root is absolute and normalised, and so is what resolve() gives: a prefix test is
    // what relative() would say, at a fraction of its cost in a listing of many records.
    const absolute = resolve(path);
    return absolute !== this.root &&
      absolute.startsWith(this.root === "/" ? "/" : `${this.root}/`);
  }

  /** How a path is recorded: relative to the root when inside it, else absolute. */
  toRecord(path: string): string {
    const absolute = resolve(path);
    return this.contains(absolute) ? relative(this.root, absolute) : absolute;
  }

  /** The absolute path of a recorded image path. */
  fromRecord(recorded: string): string {
    return isAbsolute(recorded) ? recorded : join(this.root, recorded);
  }

  // True when a folder between the root and `folder` is a symlink (or not a folder at all).
  #linkedFolder(folder: string): boolean {
    let current = folder;
    while (current !== this.root && this.contains(current)) {
      try {
        if (!Deno.lstatSync(current).isDirectory) return true;
      } catch {
        return true;
      }
      current = dirname(current);
    }
    return false;
  }

  #inside(path: string): string {
    if (!this.contains(path)) {
      throw new InvalidNameError(`the name would place a file outside storage: ${path}`);
    }
    return path;
  }
}

/**
 * The owner token a temporary file's name carries (see Storage.tempPath), or null for a name
 * without one (written by an older version, which named it after its process id).
 */
export function temporaryFileOwner(name: string): string | null {
  const match = new RegExp(`^${TEMP_PREFIX}(${OWNER_TOKEN})-[0-9a-f]{8}$`).exec(name);
  return match === null ? null : match[1];
}

/** The form of an owner token: a random UUID. */
export const OWNER_TOKEN = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";

/** The path kept for a partial download of `key` in `folder`, stable across runs. */
export function partPath(folder: string, key: string): string {
  return join(folder, `${PART_PREFIX}${key}`);
}

// A name no other run uses: the process id and a random part.
function uniquePath(folder: string, prefix: string): string {
  return join(folder, `${prefix}${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`);
}

/** Creates a folder and its parents. */
export function ensureFolder(path: string): void {
  Deno.mkdirSync(path, { recursive: true });
}

// Deno grants these only to programs with unrestricted permissions, which sregistry never takes.
const RUNTIME_REFUSED = ["/dev", "/proc", "/sys"];

/**
 * Why sregistry cannot use `path` (or null when it can): a path under /dev (/dev/shm, the RAM
 * scratch of compute nodes), /proc or /sys, however it is reached, is refused by the runtime.
 */
export function unusablePath(path: string): string | null {
  const why = (real: string) =>
    `cannot use ${path}${real === path ? "" : ` (${real})`}: ${RUNTIME_REFUSES}`;
  for (let current = resolve(path);; current = dirname(current)) {
    try {
      const real = Deno.realPathSync(current);
      const refused = RUNTIME_REFUSED.some((root) => real === root || real.startsWith(root + "/"));
      return refused ? why(real) : null;
    } catch (error) {
      if (error instanceof Deno.errors.NotCapable) return why(current);
      if (dirname(current) === current) return null;
    }
  }
}

/** The path with symlinks resolved, or as given when it does not exist (yet). */
export function realPath(path: string): string {
  try {
    return Deno.realPathSync(path);
  } catch {
    return path;
  }
}

/** True when a path exists (file, folder or link). */
export function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** True when `path` is a folder (or a symlink to one). */
export function isFolder(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}
