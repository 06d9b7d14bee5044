/**
 * A store in the states that verify, prune and du look at: leftovers of dead runs planted the
 * way sregistry names them (a temporary copy, a partial download with its sidecar and lock, a
 * tombstone, an owner lock), locks held by this (live) process, and records' use times.
 */
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { hostLabel, LockFile } from "../../src/core/file_lock.ts";
import { PART_PREFIX, TEMP_PREFIX, TOMBSTONE_PREFIX } from "../../src/core/storage.ts";
import type { TempHome } from "./home.ts";

/** The folder of owner locks, beside the database. */
export function ownersFolder(home: TempHome): string {
  return join(home.database, ".sregistry-owners");
}

/**
 * Writes a lock file as a process that has died on this host leaves it: its label, no flock,
 * and an mtime older than any heartbeat (so it is dead even where the host has no name).
 */
export function plantDeadLock(path: string): void {
  Deno.mkdirSync(join(path, ".."), { recursive: true });
  Deno.writeTextFileSync(path, `999999999 ${hostLabel()}\n`);
  const old = new Date(Date.now() - 60 * 60 * 1000);
  Deno.utimeSync(path, old, old);
}

/** The leftovers plantLeftovers made, by kind. */
export interface PlantedLeftovers {
  /** A temporary copy whose owner died. */
  temporary: string;
  /** A partial download, its sidecar and its (abandoned) lock. */
  partial: string[];
  /** A tombstone no journal entry names. */
  tombstone: string;
  /** The owner lock of a dead process. */
  ownerLock: string;
}

/** Plants one leftover of each kind in `folder` (inside storage), as killed runs leave them. */
export function plantLeftovers(home: TempHome, folder: string): PlantedLeftovers {
  Deno.mkdirSync(folder, { recursive: true });
  const owner = crypto.randomUUID();
  const temporary = join(folder, `${TEMP_PREFIX}${owner}-0123abcd`);
  Deno.writeTextFileSync(temporary, "half a copy");
  const ownerLock = join(ownersFolder(home), owner);
  plantDeadLock(ownerLock);
  const part = join(folder, `${PART_PREFIX}latest@0123456789abcdef0123456789abcdef`);
  Deno.writeTextFileSync(part, "half a download");
  Deno.writeTextFileSync(`${part}.json`, '{"etag":"x"}');
  plantDeadLock(`${part}.lock`);
  const tombstone = join(folder, `${TOMBSTONE_PREFIX}4242-abcdef12`);
  Deno.writeTextFileSync(tombstone, "an image being deleted");
  return { temporary, partial: [part, `${part}.json`, `${part}.lock`], tombstone, ownerLock };
}

/**
 * Holds, in this process (which lives on), a temporary file's owner lock and a partial
 * download's lock in `folder`: files no verify may report and no prune may delete.
 */
export function holdLiveFiles(home: TempHome, folder: string): {
  files: string[];
} & Disposable {
  Deno.mkdirSync(folder, { recursive: true });
  const owner = crypto.randomUUID();
  const ownerLock = LockFile.create(join(ownersFolder(home), owner))!;
  const temporary = join(folder, `${TEMP_PREFIX}${owner}-89abcdef`);
  Deno.writeTextFileSync(temporary, "a copy in progress");
  const part = join(folder, `${PART_PREFIX}live@fedcba9876543210fedcba9876543210`);
  const partLock = LockFile.create(`${part}.lock`)!;
  Deno.writeTextFileSync(part, "a download in progress");
  return {
    files: [temporary, part, `${part}.lock`],
    [Symbol.dispose]: () => {
      ownerLock.release();
      partLock.release();
    },
  };
}

/** Sets when the records of `uri` (a LIKE pattern) were last used, and when they were created. */
export function setUseTime(
  home: TempHome,
  uri: string,
  times: { usedAt?: string | null; createdAt?: string },
): void {
  const db = new DatabaseSync(join(home.database, "sregistry.db"));
  try {
    if (times.usedAt !== undefined) {
      db.prepare("UPDATE container SET used_at = ? WHERE uri LIKE ?").run(times.usedAt, uri);
    }
    if (times.createdAt !== undefined) {
      db.prepare("UPDATE container SET created_at = ? WHERE uri LIKE ?").run(times.createdAt, uri);
    }
  } finally {
    db.close();
  }
}

/** A UTC database timestamp `days` days ago. */
export function daysAgo(days: number): string {
  return new Date(Date.now() - days * 24 * 60 * 60 * 1000).toISOString().slice(0, 19)
    .replace("T", " ");
}
