/**
 * Schema and migrations: a new database gets the original tables at the current user_version;
 * a database written by the Python client (tests/fixtures/sregistry.db) keeps every row and is
 * migrated in place once, its image paths under storage becoming relative.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { migrate, SCHEMA_VERSION } from "../../../src/core/schema.ts";
import { openRegistry } from "../../../src/core/registry.ts";
import { findContainers } from "../../../src/core/containers.ts";
import { listContainers } from "../../../src/core/container_listing.ts";
import { parseImageName } from "../../../src/core/names.ts";
import { PYTHON_DDL, PYTHON_ROWS, PYTHON_STORAGE } from "../../../scripts/make_fixtures.ts";
import { tempHome } from "../../support/home.ts";

const FIXTURE = new URL("../../fixtures/sregistry.db", import.meta.url);

function userVersion(db: DatabaseSync): number {
  return (db.prepare("PRAGMA user_version").get() as { user_version: number }).user_version;
}

function columns(db: DatabaseSync, table: string): string[] {
  return db.prepare(`PRAGMA table_info(${table})`).all().map((row) => String(row.name));
}

/** A copy of the Python fixture in `folder`, opened with node:sqlite. */
function pythonDatabase(folder: string): { path: string; db: DatabaseSync } {
  const path = join(folder, "sregistry.db");
  Deno.copyFileSync(FIXTURE, path);
  return { path, db: new DatabaseSync(path) };
}

Deno.test("the Python fixture has the original DDL, its rows and user_version 0", () => {
  const db = new DatabaseSync(FIXTURE.pathname, { readOnly: true });
  try {
    assert.equal(userVersion(db), 0);
    const sql = db.prepare("SELECT sql FROM sqlite_master WHERE type = 'table' ORDER BY name")
      .all().map((row) => String(row.sql).trim());
    const expected = PYTHON_DDL.trim().split(";\n").map((statement) =>
      statement.replace(/;$/, "").trim()
    );
    assert.deepEqual(sql, expected.sort());
    assert.equal(
      (db.prepare("SELECT count(*) AS n FROM container").get() as { n: number }).n,
      PYTHON_ROWS.length,
    );
  } finally {
    db.close();
  }
});

Deno.test("a new database gets the original tables, the new columns and the current version", async () => {
  await using folder = await tempHome();
  using registry = await openRegistry({
    databaseFolder: join(folder.path, "db", "nested"),
    storageRoot: join(folder.path, "storage"),
  });
  assert.equal(userVersion(registry.db), SCHEMA_VERSION);
  assert.equal(SCHEMA_VERSION, 4);
  assert.deepEqual(columns(registry.db, "collection"), ["id", "name", "token", "created_at"]);
  assert.deepEqual(columns(registry.db, "container"), [
    "id",
    "created_at",
    "metrics",
    "name",
    "tag",
    "image",
    "url",
    "uri",
    "client",
    "version",
    "collection_id",
    "size",
    "md5",
    "metadata",
    "used_at",
  ]);
  assert.deepEqual(columns(registry.db, "journal"), [
    "id",
    "owner",
    "state",
    "steps",
    "created_at",
  ]);
  assert.deepEqual(columns(registry.db, "store"), ["key", "value"]);
  assert.ok(Deno.statSync(join(folder.path, "storage")).isDirectory, "storage is created");
  assert.ok(Deno.statSync(join(folder.path, "db", "nested", "sregistry.db")).isFile);
});

Deno.test("migrating a Python database keeps every row and makes storage paths relative", async () => {
  await using folder = await tempHome();
  const { db } = pythonDatabase(folder.path);
  try {
    const before = db.prepare("SELECT * FROM container ORDER BY id").all();
    migrate(db, PYTHON_STORAGE);
    assert.equal(userVersion(db), SCHEMA_VERSION);
    const after = db.prepare("SELECT * FROM container ORDER BY id").all();
    assert.equal(after.length, before.length);
    for (const [index, row] of after.entries()) {
      const old = before[index];
      for (const key of Object.keys(old)) {
        if (key === "image") continue;
        assert.deepEqual(row[key], old[key], `${key} of row ${row.id} is kept`);
      }
      assert.equal(row.size, null);
      assert.equal(row.md5, null);
      assert.equal(row.metadata, null);
    }
    assert.deepEqual(after.map((row) => row.image), [
      PYTHON_ROWS[0].image!.slice(PYTHON_STORAGE.length + 1),
      PYTHON_ROWS[1].image!.slice(PYTHON_STORAGE.length + 1),
      PYTHON_ROWS[2].image, // outside storage: stays absolute
      null, // remote-only
    ]);
    assert.equal(after[0].image, `vsoch/hello-world/latest@${PYTHON_ROWS[0].version}.sif`);
    assert.equal(
      (db.prepare("SELECT count(*) AS n FROM collection").get() as { n: number }).n,
      2,
    );
  } finally {
    db.close();
  }
});

Deno.test("migrating twice changes nothing the second time", async () => {
  await using folder = await tempHome();
  const { db } = pythonDatabase(folder.path);
  try {
    migrate(db, PYTHON_STORAGE);
    const once = db.prepare("SELECT * FROM container ORDER BY id").all();
    // A different storage root on a later run must not re-apply the path migration.
    migrate(db, "/elsewhere");
    assert.deepEqual(db.prepare("SELECT * FROM container ORDER BY id").all(), once);
    assert.equal(userVersion(db), SCHEMA_VERSION);
  } finally {
    db.close();
  }
});

Deno.test("a storage root that only shares a prefix with an image path leaves it absolute", async () => {
  await using folder = await tempHome();
  const { db } = pythonDatabase(folder.path);
  try {
    // `/home/user/.singularity/sh` is a prefix of `/home/user/.singularity/shub/...` as text.
    migrate(db, `${PYTHON_STORAGE.slice(0, -2)}`);
    const images = db.prepare("SELECT image FROM container ORDER BY id").all().map((row) =>
      row.image
    );
    assert.deepEqual(images, PYTHON_ROWS.map((row) => row.image));
  } finally {
    db.close();
  }
});

Deno.test("the migrated records read back with their names, newest first per name", async () => {
  await using folder = await tempHome();
  const { db } = pythonDatabase(folder.path);
  db.close();
  using registry = await openRegistry({
    databaseFolder: folder.path,
    storageRoot: join(folder.path, "shub"),
  });
  const all = listContainers(registry.db, []);
  assert.deepEqual(all.map((c) => c.uri), PYTHON_ROWS.map((row) => row.uri));
  const remote = findContainers(registry.db, parseImageName("vsoch/remote"))[0];
  assert.equal(remote.image, null);
  assert.equal(remote.version, null, "the Python client's empty version reads as none");
  assert.equal((remote.metrics as { type: string }).type, "container", "metrics JSON is parsed");
  const hello = findContainers(registry.db, parseImageName("vsoch/hello-world"))[0];
  assert.equal(hello.image, PYTHON_ROWS[0].image, "outside this storage root: kept absolute");
});
