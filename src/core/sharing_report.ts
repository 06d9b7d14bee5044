/** What `config` says of a store a group shares (core/sharing.ts): its group and wrong modes. */
import { join } from "./paths.ts";
import { isSharedFolder, statOrNull } from "./sharing.ts";

/** A group's name from /etc/group, or its number when it has none there. */
export function groupName(gid: number): string {
  try {
    for (const line of Deno.readTextFileSync("/etc/group").split("\n")) {
      const [name, , id] = line.split(":");
      if (id === String(gid) && name) return name;
    }
  } catch {
    // no /etc/group (or NSS groups only): the number says it
  }
  return String(gid);
}

/** How a store is shared, and what in it would stop another member. */
export interface StoreSharing {
  /** True when the storage or database folder has the setgid bit. */
  shared: boolean;
  /** The group id of the storage folder. */
  gid: number | null;
  /** One line per mode that is wrong for a shared store. */
  problems: string[];
}

/** Checks the modes of a store's folders, database file and top-level collection folders. */
export function inspectSharing(databaseFolder: string, storageRoot: string): StoreSharing {
  const shared = isSharedFolder(storageRoot) || isSharedFolder(databaseFolder);
  const gid = statOrNull(storageRoot)?.gid ?? null;
  if (!shared) return { shared, gid, problems: [] };
  const problems: string[] = [];
  const folders = [databaseFolder, storageRoot, join(databaseFolder, ".sregistry-owners")];
  const files: string[] = [];
  collect(storageRoot, folders, files);
  for (const folder of folders) {
    const info = statOrNull(folder);
    if (info === null) continue;
    const mode = (info.mode ?? 0) & 0o7777;
    if ((mode & 0o2070) !== 0o2070) {
      problems.push(`${folder} is ${octal(mode)}; a shared folder needs 2775 (chmod 2775)`);
    }
    if (gid !== null && info.gid !== gid) {
      problems.push(`${folder} belongs to group ${info.gid}, not the store's ${gid} (chgrp)`);
    }
  }
  for (const file of files) {
    const info = statOrNull(file);
    if (info === null) continue;
    const mode = (info.mode ?? 0) & 0o7777;
    if ((mode & 0o040) === 0) {
      problems.push(`${file} is ${octal(mode)}; the group cannot read it (chmod g+r)`);
    }
    if (gid !== null && info.gid !== gid) {
      problems.push(`${file} belongs to group ${info.gid}, not the store's ${gid} (chgrp)`);
    }
  }
  const database = statOrNull(join(databaseFolder, "sregistry.db"));
  if (database !== null && ((database.mode ?? 0) & 0o060) !== 0o060) {
    problems.push(
      `${join(databaseFolder, "sregistry.db")} is ${octal((database.mode ?? 0) & 0o7777)}; ` +
        "the group must write it (chmod g+rw)",
    );
  }
  return { shared, gid, problems };
}

// The folders and image files of storage, breadth first, up to a bound that keeps `config`
// quick on a large store (verify reads every file a member cannot).
const MAX_LOOKED_AT = 5000;

function collect(root: string, folders: string[], files: string[]): void {
  const queue = [root];
  while (queue.length > 0 && folders.length + files.length < MAX_LOOKED_AT) {
    const folder = queue.shift()!;
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(folder)];
    } catch {
      continue; // a folder this member cannot read is reported by its mode
    }
    for (const entry of entries) {
      const path = join(folder, entry.name);
      if (entry.isDirectory) {
        folders.push(path);
        queue.push(path);
      } else if (entry.isFile && entry.name.endsWith(".sif")) files.push(path);
    }
  }
}

function octal(mode: number): string {
  return mode.toString(8).padStart(4, "0");
}
