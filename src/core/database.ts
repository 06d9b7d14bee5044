/**
 * Opening sregistry.db with node:sqlite. Writes run in `BEGIN IMMEDIATE` transactions with a busy
 * timeout, on the default rollback journal (WAL is unsafe on NFS, Lustre and GPFS).
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
  db.exec("BEGIN IMMEDIATE");
  let result: T;
  try {
    result = work();
  } catch (error) {
    db.exec("ROLLBACK");
    throw writeError(db, error);
  }
  try {
    db.exec("COMMIT");
  } catch (error) {
    if (db.isTransaction) db.exec("ROLLBACK");
    throw writeError(db, error);
  }
  return result;
}

// A database the user may read but not write (a shared one, a read-only mount) is a
// configuration problem with one clear line, not an unexpected error.
function writeError(db: DatabaseSync, error: unknown): unknown {
  if (!(error instanceof Error) || !/readonly database/i.test(error.message)) return error;
  return new ConfigError(`cannot write the database ${db.location() ?? ""} (${error.message})`, {
    hint: "check its permissions, or set SREGISTRY_DATABASE to a folder you can write",
    cause: error,
  });
}
