/**
 * Finding images to adopt: SIF and Singularity 2.x files under folders (named after their file
 * and folder), and the entries of Apptainer's and Singularity's caches (`<parent>/cache/<kind>/
 * <key>`). Only finds and names them; each is then added as `add` would (core/add.ts), so a kill
 * at any point is as safe as an add. Nothing here follows a symlinked folder.
 */
import { basename, dirname, join, resolve } from "./paths.ts";
import { type ImageName, parseImageName } from "./names.ts";
import { reason } from "../errors.ts";
import { RESERVED_PREFIX, unusablePath } from "./storage.ts";
import { ImageFile } from "./image_file.ts";
import { NOT_AN_IMAGE, sniffImage } from "./image_format.ts";

/** The cache kinds that hold image files (Apptainer's `FileCacheTypes` that sregistry adopts). */
export const CACHE_KINDS = ["library", "oras", "oci-tmp", "shub", "net"];

/** A file found for import, with the name it gets, or why it is skipped. */
export interface ImportCandidate {
  /** The file. */
  path: string;
  /** The name to record it under; null when skipped. */
  name: ImageName | null;
  /** Why it is skipped; null when it is to be imported. */
  skipped: string | null;
  /** True when it was asked for by name and cannot be read: a failure, not a skip. */
  failed?: boolean;
  /** Where it was found: a folder of images, or a cache of this kind. */
  origin: { cache: string; key: string } | null;
}

/** How to name what is found. */
export interface ImportNaming {
  /** Collection for every image found; else the folder holding each file (or `library`). */
  collection?: string;
}

/**
 * The files under `paths` (files, folders, or Apptainer/Singularity cache folders: a parent such
 * as ~/.apptainer, its `cache`, or one kind's folder), each named or with its skip reason.
 */
export function findImportCandidates(paths: string[], naming: ImportNaming): ImportCandidate[] {
  const found: ImportCandidate[] = [];
  for (const path of paths.map((p) => resolve(p))) {
    const info = lstat(path);
    const unusable = unusablePath(path);
    if (unusable !== null || info === null) {
      // What was asked for and cannot be read is a failure, not a skip.
      found.push({ ...skip(path, unusable ?? "does not exist"), failed: true });
    } else if (info.isSymlink && !isFile(path)) {
      found.push(skip(path, symlinkReason(path)));
    } else if (!info.isDirectory && !info.isSymlink) {
      found.push(info.isFile ? fileCandidate(path, naming) : skip(path, "is not a regular file"));
    } else if (info.isSymlink) {
      found.push(fileCandidate(path, naming));
    } else {
      const cache = cacheFolders(path);
      if (cache.length > 0) { for (const folder of cache) found.push(...cacheCandidates(folder)); }
      else walk(path, (file) => found.push(fileCandidate(file, naming)), found);
    }
  }
  return found;
}

/** The default cache parents: $APPTAINER_CACHEDIR, $SINGULARITY_CACHEDIR, ~/.apptainer, ~/.singularity. */
export function defaultCacheParents(
  env: { APPTAINER_CACHEDIR?: string; SINGULARITY_CACHEDIR?: string; HOME?: string },
): string[] {
  const parents = [env.APPTAINER_CACHEDIR, env.SINGULARITY_CACHEDIR];
  if (env.HOME) parents.push(join(env.HOME, ".apptainer"), join(env.HOME, ".singularity"));
  return [...new Set(parents.filter((p): p is string => !!p))]
    .filter((parent) => lstat(join(parent, "cache"))?.isDirectory === true);
}

/** True when a file is a SIF, Singularity 2.x or squashfs image (core/image_format.ts). */
function isImage(path: string): boolean {
  try {
    using file = ImageFile.open(path);
    return sniffImage(file).format !== "unknown";
  } catch {
    return false;
  }
}

// The kind folders of a cache: `path` is a parent (has cache/<kind>), a `cache` folder (has
// <kind>), or one kind's folder itself.
function cacheFolders(path: string): string[] {
  const kinds = (root: string) =>
    CACHE_KINDS.map((kind) => join(root, kind)).filter((f) => lstat(f)?.isDirectory === true);
  const inParent = kinds(join(path, "cache"));
  if (inParent.length > 0) return inParent;
  if (basename(path) === "cache") return kinds(path);
  if (CACHE_KINDS.includes(basename(path)) && basename(dirname(path)) === "cache") return [path];
  return [];
}

function cacheCandidates(folder: string): ImportCandidate[] {
  const kind = basename(folder);
  const tool = basename(dirname(dirname(folder))).replace(/^\./, "") || "cache";
  const candidates: ImportCandidate[] = [];
  for (const entry of entries(folder)) {
    let path = join(folder, entry.name);
    if (entry.name.startsWith("tmp_")) {
      candidates.push(skip(path, "an unfinished download of the cache"));
      continue;
    }
    if (entry.isDirectory) {
      // Older versions kept one folder per key, holding the image.
      const inside = entries(path).filter((e) => e.isFile);
      if (inside.length !== 1) {
        candidates.push(skip(path, "a cache folder without exactly one image file"));
        continue;
      }
      path = join(path, inside[0].name);
    } else if (!entry.isFile) {
      candidates.push(skip(path, "is not a regular file"));
      continue;
    }
    const key = entry.name.replace(/^sha256[.:]/, "");
    const name = imageName(`${cleanSegment(tool)}-cache/${kind}-${cleanSegment(key).slice(0, 16)}`);
    candidates.push(described(path, name, { cache: kind, key: entry.name }));
  }
  return candidates;
}

function fileCandidate(path: string, naming: ImportNaming): ImportCandidate {
  const { name, tag } = nameAndTag(basename(path));
  const folder = cleanSegment(basename(dirname(path)));
  const collection = naming.collection ?? (folder === "" ? "library" : folder);
  return described(path, imageName(`${collection}/${name}:${tag}`), null);
}

// A file named the way `apptainer pull` names them (`lolcow_latest.sif`, `tool_1.2.sif`) keeps
// the part after the last `_` as its tag; any other name is its own name, tag `latest`.
function nameAndTag(file: string): { name: string; tag: string } {
  const stem = file.replace(/\.(sif|simg|img|sqsh|squashfs)$/i, "");
  const split = /^(.+)_(latest|v?\d[\w.-]*)$/i.exec(stem);
  return split
    ? { name: cleanSegment(split[1]), tag: split[2].toLowerCase() }
    : { name: cleanSegment(stem), tag: "latest" };
}

function described(
  path: string,
  name: ImageName | string,
  origin: ImportCandidate["origin"],
): ImportCandidate {
  if (typeof name === "string") return { path, name: null, skipped: name, origin };
  if (!isImage(path)) return { path, name: null, skipped: NOT_AN_IMAGE, origin };
  return { path, name, skipped: null, origin };
}

function imageName(text: string): ImageName | string {
  try {
    return parseImageName(text);
  } catch (error) {
    return `no usable name (${reason(error)})`;
  }
}

// Lower case, and what a name segment may hold; dots would make a first segment look like a host.
function cleanSegment(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9_-]+/g, "-").replace(/^[-_]+|[-_]+$/g, "");
}

function walk(folder: string, onFile: (path: string) => void, found: ImportCandidate[]): void {
  for (const entry of entries(folder)) {
    const path = join(folder, entry.name);
    if (entry.name.startsWith(RESERVED_PREFIX)) {
      found.push(skip(path, "a file sregistry writes while it works"));
    } else if (entry.name.startsWith(".")) {
      found.push(skip(path, "hidden (a name starting with '.')"));
    } else if (entry.isDirectory) walk(path, onFile, found);
    else if (entry.isFile) onFile(path);
    else if (entry.isSymlink && isFile(path)) onFile(path);
    else if (entry.isSymlink) found.push(skip(path, symlinkReason(path)));
    else found.push(skip(path, "is not a regular file"));
  }
}

function symlinkReason(path: string): string {
  try {
    return Deno.statSync(path).isDirectory
      ? "is a symlink to a folder (not followed)"
      : "is a symlink to something that is not a regular file";
  } catch {
    return "is a symlink to nothing";
  }
}

function entries(folder: string): Deno.DirEntry[] {
  try {
    return [...Deno.readDirSync(folder)].sort((a, b) => a.name.localeCompare(b.name));
  } catch {
    return [];
  }
}

function skip(path: string, why: string): ImportCandidate {
  return { path, name: null, skipped: why, origin: null };
}

function lstat(path: string): Deno.FileInfo | null {
  try {
    return Deno.lstatSync(path);
  } catch {
    return null;
  }
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}
