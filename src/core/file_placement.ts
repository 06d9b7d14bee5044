/**
 * Placing, moving and removing files in storage: links that never replace a file, moves that
 * copy only across filesystems, and the sweeping of what dead processes and removals leave.
 * Only the commands that change storage load it.
 */
import { dirname, join, resolve, sep } from "./paths.ts";
import { ConflictError } from "../errors.ts";
import { ensureFolder, exists, STALE_AFTER_MS, TEMP_PREFIX } from "./storage.ts";

/**
 * Removes the temporary files in `folder` that were left by a process that died, untouched for
 * STALE_AFTER_MS. Partial downloads (a later pull resumes them) and tombstones (rmi's only copy
 * of an image whose record may have survived) are kept.
 */
export function removeStaleTemporaryFiles(folder: string): void {
  const now = Date.now();
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(folder)];
  } catch {
    return; // nothing to sweep
  }
  for (const entry of entries) {
    if (!entry.isFile || !entry.name.startsWith(TEMP_PREFIX)) continue;
    const path = join(folder, entry.name);
    try {
      const modified = Deno.statSync(path).mtime?.getTime();
      if (modified !== undefined && now - modified > STALE_AFTER_MS) Deno.removeSync(path);
    } catch {
      // gone already, or not ours to remove: the command goes on
    }
  }
}

/**
 * Makes `to` name the file `from` names, never replacing an existing `to`: a hard link fails
 * atomically when the target exists, and never follows a symlink. Where links are unsupported
 * it renames instead (then `from` is gone).
 */
export function linkFile(from: string, to: string): void {
  try {
    Deno.linkSync(from, to);
  } catch (error) {
    if (error instanceof Deno.errors.AlreadyExists || exists(to)) {
      throw new ConflictError(`${to} already exists; nothing was overwritten`);
    }
    if (error instanceof Deno.errors.NotFound) throw error;
    Deno.renameSync(from, to);
  }
}

/**
 * Moves `from` to `to` without ever replacing an existing `to` (unless `replace`): a hard link
 * fails atomically when the target exists. Falls back to rename where links are unsupported.
 */
export function placeFile(from: string, to: string, options: { replace?: boolean } = {}): void {
  ensureFolder(dirname(to));
  if (options.replace) {
    Deno.renameSync(from, to);
    return;
  }
  linkFile(from, to);
  removeIfPresent(from); // gone already where the link was a rename
}

/**
 * Runs `work` without a copy (`copy` false) when `move` is wanted and `file` and `folder` share a
 * filesystem, so a link or rename will do; with a copy otherwise, and again with one when the
 * rename fails with EXDEV: one filesystem seen through two mounts (a bind mount) has one
 * st_dev, yet links and renames between them fail.
 */
export async function moveOrCopy<T>(
  file: string,
  folder: string,
  move: boolean,
  work: (copy: boolean) => Promise<T>,
): Promise<T> {
  const rename = move && sameFilesystem(file, folder);
  try {
    return await work(!rename);
  } catch (error) {
    if (!rename || !isCrossDevice(error)) throw error;
    return await work(true);
  }
}

function sameFilesystem(file: string, folder: string): boolean {
  try {
    return Deno.statSync(file).dev === Deno.statSync(folder).dev;
  } catch {
    return false;
  }
}

// True for EXDEV: a link or rename between two mounts, even of one filesystem.
function isCrossDevice(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === "EXDEV" ||
    (error instanceof Error && /cross-device/i.test(error.message));
}

/** Removes a file if it is there; missing files are fine. */
export function removeIfPresent(path: string): void {
  try {
    Deno.removeSync(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

/** Removes empty folders from `folder` up to (not including) `stop`. */
export function pruneEmptyFolders(folder: string, stop: string): void {
  let current = resolve(folder);
  const root = resolve(stop);
  while (current.startsWith(root + sep) && current !== root) {
    try {
      Deno.removeSync(current);
    } catch {
      return;
    }
    current = dirname(current);
  }
}
