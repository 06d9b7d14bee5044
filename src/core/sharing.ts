/**
 * A store a group shares: its storage and database folders have the setgid bit, so everything
 * made inside them belongs to the group. Whatever a member's umask, sregistry then makes folders
 * group-writable (and setgid), image files group-readable and the database group-writable;
 * sharing_report.ts says which modes in a store are wrong.
 */
import { dirname } from "./paths.ts";

/** Folders made in a shared store: rwxrwsr-x. */
export const SHARED_FOLDER_MODE = 0o2775;
/** Group and others may read an image; only its folder decides who may remove it. */
const READABLE_FILE_BITS = 0o444;

/** True when `folder` has the setgid bit (the mark of a shared store). */
export function isSharedFolder(folder: string): boolean {
  try {
    return ((Deno.statSync(folder).mode ?? 0) & 0o2000) !== 0;
  } catch {
    return false;
  }
}

/** Gives a folder made in a shared store its mode, whatever the umask. */
export function shareFolder(folder: string): void {
  Deno.chmodSync(folder, SHARED_FOLDER_MODE);
}

/** Makes a folder of a shared store (made meanwhile by another member is fine). */
export function makeSharedFolder(folder: string): void {
  try {
    Deno.mkdirSync(folder);
  } catch (error) {
    if (error instanceof Deno.errors.AlreadyExists) return;
    throw error;
  }
  shareFolder(folder);
}

/** Makes an image file of a shared store readable by the group, whatever the umask. */
export function shareImageFile(file: string): void {
  const info = Deno.lstatSync(file);
  const mode = (info.mode ?? 0) & 0o7777;
  if ((mode & READABLE_FILE_BITS) !== READABLE_FILE_BITS) {
    Deno.chmodSync(file, mode | READABLE_FILE_BITS);
  }
  // A file moved in keeps its owner's group; the store's is its (setgid) folder's.
  const group = statOrNull(dirname(file))?.gid ?? null;
  if (group !== null && info.gid !== group) {
    try {
      Deno.chownSync(file, null, group);
    } catch {
      // not a group this user is in: config reports the file
    }
  }
}

/** Makes a database file of a shared store writable by the group, when this user owns it. */
export function shareDatabaseFile(file: string): void {
  try {
    const mode = (Deno.statSync(file).mode ?? 0) & 0o7777;
    if ((mode & 0o060) !== 0o060) Deno.chmodSync(file, mode | 0o060);
  } catch {
    // another member's file, which only its owner may chmod: `config` reports it
  }
}

/** A path's status (links followed), or null when it cannot be read. */
export function statOrNull(path: string): Deno.FileInfo | null {
  try {
    return Deno.statSync(path);
  } catch {
    return null;
  }
}
