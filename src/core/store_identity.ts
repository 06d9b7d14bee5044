/**
 * Which database a storage folder belongs to: the database keeps a random id (table `store`),
 * and the storage folder a `.sregistry-store` file with the same id, written by the first
 * database that opens it. Files in storage that no record names are only ever removed from the
 * database's own storage: a fresh or stray database (a lost one, another SREGISTRY_DATABASE)
 * meeting a full storage must not take it for garbage.
 */
import type { DatabaseSync } from "node:sqlite";
import { join } from "./paths.ts";
import { STORE_MARKER } from "./storage.ts";

/** Whether this database owns its storage folder, and the id the folder names otherwise. */
export interface StoreOwnership {
  /** True when the storage folder names this database (or did not name any and now does). */
  own: boolean;
  /** The database id the storage folder names, when it is another one. */
  otherId: string | null;
}

/** Reads (and for a storage folder that names no database, writes) the storage's marker. */
export function storeOwnership(db: DatabaseSync, storageRoot: string): StoreOwnership {
  const row = db.prepare("SELECT value FROM store WHERE key = 'id'").get() as
    | { value: string }
    | undefined;
  const id = row?.value ?? "";
  const marker = join(storageRoot, STORE_MARKER);
  let named = readMarker(marker);
  if (named === null) {
    try {
      Deno.writeTextFileSync(marker, `${id}\n`, { createNew: true, mode: 0o644 });
      named = id;
    } catch {
      named = readMarker(marker); // written meanwhile by another command, or storage read-only
    }
  }
  if (named === null) return { own: false, otherId: null };
  return named === id ? { own: true, otherId: null } : { own: false, otherId: named };
}

// The id a marker holds: a short line of hex, never followed through a link, never large.
function readMarker(path: string): string | null {
  try {
    const info = Deno.lstatSync(path);
    if (!info.isFile || info.size > 256) return "";
    const text = Deno.readTextFileSync(path).trim();
    return /^[0-9a-f]{32}$/.test(text) ? text : "";
  } catch {
    return null;
  }
}
