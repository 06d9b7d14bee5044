/**
 * Opening sregistry.db with node:sqlite. Writes run in `BEGIN IMMEDIATE` transactions with a busy
 * timeout, on the default rollback journal (WAL is unsafe on NFS, Lustre and GPFS). A failed
 * write reports SQLite's own reason (a full disk, a damaged file), never the rollback after it.
 */
import { DatabaseSync } from "node:sqlite";
import { ConfigError, reason } from "../errors.ts";

/** How long a write waits for another process's transaction before failing. */
export const BUSY_TIMEOUT_MS = 60_000;

/** Opens (creating if needed) a database file and checks that it is SQLite. */
export function openDatabase(path: string): DatabaseSync {
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(path, { timeout: BUSY_TIMEOUT_MS });
  } catch (error) {
    throw databaseError(path, error);
  }
  try {
    db.exec("PRAGMA foreign_keys = ON");
    db.prepare("SELECT count(*) FROM sqlite_master").get();
  } catch (error) {
    db.close();
    throw databaseError(path, error);
  }
  return db;
}

// Turns a SQLite failure on open into a one-line ConfigError.
function databaseError(path: string, error: unknown): ConfigError {
  const why = reason(error);
  if (/not a database|malformed|file is encrypted/i.test(why)) {
    return new ConfigError(`${path} is not a usable SQLite database (${why})`, {
      hint: "move it aside, or point SREGISTRY_DATABASE at another folder",
      cause: error,
    });
  }
  if (/readonly|read-only|unable to open|permission/i.test(why)) {
    return new ConfigError(`cannot write the database ${path} (${why})`, {
      hint: "check the folder's permissions, or set SREGISTRY_DATABASE",
      cause: error,
    });
  }
  return new ConfigError(`database ${path}: ${why}`, { cause: error });
}

/** Runs `work` in a `BEGIN IMMEDIATE` transaction: committed if it returns, rolled back if it throws. */
export function immediate<T>(db: DatabaseSync, work: () => T): T {
  try {
    db.exec("BEGIN IMMEDIATE");
  } catch (error) {
    throw writeError(db, error);
  }
  let result: T;
  try {
    result = work();
  } catch (error) {
    rollback(db);
    throw writeError(db, error);
  }
  try {
    db.exec("COMMIT");
  } catch (error) {
    rollback(db);
    throw writeError(db, error);
  }
  return result;
}

/**
 * Runs `work` while no write transaction is in flight, so that what it reads is what writers
 * committed, files they linked into place included: under the write lock (BEGIN IMMEDIATE, then
 * rolled back, as nothing is written), or as it is where the lock cannot be taken on a database
 * this user may only read.
 */
export function settled<T>(db: DatabaseSync, work: () => T): T {
  try {
    db.exec("BEGIN IMMEDIATE");
  } catch (error) {
    if (error instanceof Error && /readonly|read-only/i.test(error.message)) return work();
    throw error;
  }
  try {
    return work();
  } finally {
    db.exec("ROLLBACK");
  }
}

// SQLite ends the transaction itself on some failures (a full disk): then there is nothing to
// roll back, and the failure that ended it is the one to report.
function rollback(db: DatabaseSync): void {
  if (!db.isTransaction) return;
  try {
    db.exec("ROLLBACK");
  } catch {
    // The first failure is the one to report; SQLite undoes a dead transaction on its own.
  }
}

// What the user can act on: a database they may read but not write (a shared one, a read-only
// mount), a full disk, a damaged file; each is one clear line, not an unexpected error.
function writeError(db: DatabaseSync, error: unknown): unknown {
  if (!(error instanceof Error)) return error;
  const location = db.location() ?? "";
  if (/readonly database/i.test(error.message)) {
    return new ConfigError(`cannot write the database ${location} (${error.message})`, {
      hint: "check its permissions, or set SREGISTRY_DATABASE to a folder you can write",
      cause: error,
    });
  }
  if (/database or disk is full|no space left/i.test(error.message)) {
    return new ConfigError(`cannot write the database ${location} (${error.message})`, {
      hint: "free space on its filesystem; nothing was changed",
      cause: error,
    });
  }
  if (/malformed|not a database|disk I\/O error/i.test(error.message)) {
    return new ConfigError(`the database ${location} is damaged (${error.message})`, {
      hint: "move it aside and restore a copy, or point SREGISTRY_DATABASE at another folder",
      cause: error,
    });
  }
  return error;
}
