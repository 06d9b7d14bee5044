/**
 * The database schema: the original client's `collection` and `container` tables (so an
 * sregistry.db written by the Python client opens in place) plus migrations keyed by
 * PRAGMA user_version. Migrations run inside one immediate transaction, so concurrent first
 * runs apply each exactly once.
 */
import type { DatabaseSync } from "node:sqlite";
import { immediate } from "./database.ts";

const ORIGINAL_TABLES = `
CREATE TABLE IF NOT EXISTS collection (
	id INTEGER NOT NULL, name VARCHAR(150), token VARCHAR(50), created_at DATETIME,
	PRIMARY KEY (id), UNIQUE (name));
CREATE TABLE IF NOT EXISTS container (
	id INTEGER NOT NULL, created_at DATETIME, metrics TEXT NOT NULL,
	name VARCHAR(250) NOT NULL, tag VARCHAR(250) NOT NULL, image VARCHAR(250), url VARCHAR(500),
	uri VARCHAR(500), client VARCHAR(50) NOT NULL, version VARCHAR(250), collection_id INTEGER NOT NULL,
	PRIMARY KEY (id),
	CONSTRAINT _container_uc UNIQUE (collection_id, name, tag, client, version),
	FOREIGN KEY(collection_id) REFERENCES collection (id));
`;

/** A step from one user_version to the next; `storageRoot` lets paths become relative. */
type Migration = (db: DatabaseSync, storageRoot: string) => void;

const MIGRATIONS: Migration[] = [
  // 1: sizes, checksums and kept metadata; lookups by name; storage-relative image paths.
  (db, storageRoot) => {
    db.exec(`
      ALTER TABLE container ADD COLUMN size INTEGER;
      ALTER TABLE container ADD COLUMN md5 VARCHAR(32);
      ALTER TABLE container ADD COLUMN metadata TEXT;
      CREATE INDEX IF NOT EXISTS container_lookup ON container (collection_id, name, tag);
    `);
    const prefix = storageRoot.endsWith("/") ? storageRoot : storageRoot + "/";
    db.prepare(
      "UPDATE container SET image = substr(image, ?) WHERE substr(image, 1, ?) = ?",
    ).run(prefix.length + 1, prefix.length, prefix);
  },
  // 2: the crash journal (core/journal.ts).
  (db) => {
    db.exec(`
      CREATE TABLE IF NOT EXISTS journal (
        id INTEGER PRIMARY KEY, owner TEXT NOT NULL, state TEXT NOT NULL, steps TEXT NOT NULL,
        created_at DATETIME NOT NULL);
    `);
  },
  // 3: when each image was last used (prune --unused), and lookups of stored content by MD5.
  (db) => {
    db.exec(`
      ALTER TABLE container ADD COLUMN used_at DATETIME;
      CREATE INDEX IF NOT EXISTS container_md5 ON container (md5);
    `);
  },
  // 4: the database's identity, which its storage folder carries too (core/store_identity.ts).
  (db) => {
    db.exec(`
      CREATE TABLE IF NOT EXISTS store (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      INSERT OR IGNORE INTO store (key, value) VALUES ('id', lower(hex(randomblob(16))));
    `);
  },
];

/** The user_version a fully migrated database has. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/** Creates the tables if needed and applies pending migrations. */
export function migrate(db: DatabaseSync, storageRoot: string): void {
  if (userVersion(db) === SCHEMA_VERSION) return;
  immediate(db, () => {
    db.exec(ORIGINAL_TABLES);
    // Re-read inside the lock: another process may have migrated meanwhile.
    for (let version = userVersion(db); version < SCHEMA_VERSION; version++) {
      MIGRATIONS[version](db, storageRoot);
      db.exec(`PRAGMA user_version = ${version + 1}`);
    }
  });
}

function userVersion(db: DatabaseSync): number {
  const row = db.prepare("PRAGMA user_version").get() as { user_version: number };
  return row.user_version;
}
