/**
 * Opening sregistry.db: a file that is not SQLite is refused with one clear ConfigError and left
 * byte for byte as it was; immediate transactions commit on return and roll back on throw.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { immediate, openDatabase } from "../../../src/core/database.ts";
import { openRegistry } from "../../../src/core/registry.ts";
import { ConfigError } from "../../../src/errors.ts";
import { tempHome } from "../../support/home.ts";

const CORRUPT = new URL("../../fixtures/corrupt.db", import.meta.url);

Deno.test("a file of random bytes is refused as not a SQLite database and left unchanged", async () => {
  await using folder = await tempHome();
  const path = join(folder.path, "sregistry.db");
  Deno.copyFileSync(CORRUPT, path);
  const before = Deno.readFileSync(path);
  assert.throws(() => openDatabase(path), (error: unknown) => {
    assert.ok(error instanceof ConfigError);
    assert.equal(error.exitCode, 1);
    assert.match(error.message, /is not a usable SQLite database/);
    assert.ok(error.message.includes(path));
    assert.match(error.hint ?? "", /SREGISTRY_DATABASE/);
    assert.doesNotMatch(error.message, /\n/);
    return true;
  });
  assert.deepEqual(Deno.readFileSync(path), before);
  assert.deepEqual([...Deno.readDirSync(folder.path)].map((e) => e.name), ["sregistry.db"]);
});

Deno.test("openRegistry on a corrupt database throws the same error and creates nothing", async () => {
  await using folder = await tempHome();
  const path = join(folder.path, "sregistry.db");
  Deno.copyFileSync(CORRUPT, path);
  const storage = join(folder.path, "shub");
  Deno.mkdirSync(storage);
  await assert.rejects(
    () => openRegistry({ databaseFolder: folder.path, storageRoot: storage }),
    { name: "ConfigError", message: /not a usable SQLite database/ },
  );
  assert.deepEqual(Deno.readFileSync(path), Deno.readFileSync(CORRUPT));
});

Deno.test("an empty file opens as an empty database", async () => {
  await using folder = await tempHome();
  const path = join(folder.path, "sregistry.db");
  Deno.writeFileSync(path, new Uint8Array());
  const db = openDatabase(path);
  try {
    assert.deepEqual(db.prepare("SELECT name FROM sqlite_master").all(), []);
  } finally {
    db.close();
  }
});

Deno.test("immediate commits what the work did when it returns", async () => {
  await using folder = await tempHome();
  const db = openDatabase(join(folder.path, "t.db"));
  try {
    db.exec("CREATE TABLE t (x INTEGER)");
    const result = immediate(db, () => {
      db.exec("INSERT INTO t VALUES (1)");
      return "done";
    });
    assert.equal(result, "done");
    assert.deepEqual(db.prepare("SELECT x FROM t").all().map((row) => row.x), [1]);
    assert.equal(db.isTransaction, false);
  } finally {
    db.close();
  }
});

Deno.test("immediate rolls back and rethrows when the work throws", async () => {
  await using folder = await tempHome();
  const db = openDatabase(join(folder.path, "t.db"));
  try {
    db.exec("CREATE TABLE t (x INTEGER)");
    const failure = new Error("boom");
    assert.throws(
      () =>
        immediate(db, () => {
          db.exec("INSERT INTO t VALUES (1)");
          throw failure;
        }),
      (error) => error === failure,
    );
    assert.deepEqual(db.prepare("SELECT x FROM t").all(), []);
    assert.equal(db.isTransaction, false);
  } finally {
    db.close();
  }
});

Deno.test("the database keeps the rollback journal, not WAL (safe on NFS)", async () => {
  await using folder = await tempHome();
  using registry = await openRegistry({
    databaseFolder: folder.path,
    storageRoot: join(folder.path, "shub"),
  });
  const mode = registry.db.prepare("PRAGMA journal_mode").get() as { journal_mode: string };
  assert.equal(mode.journal_mode, "delete");
});

Deno.test("a full database gives SQLite's reason, not the rollback that cannot follow it", async () => {
  await using folder = await tempHome();
  const db = openDatabase(join(folder.path, "sregistry.db"));
  try {
    db.exec("CREATE TABLE t (x BLOB)");
    // The file may not grow: SQLite fails the write and ends the transaction itself.
    db.exec("PRAGMA max_page_count = 3");
    assert.throws(
      () => immediate(db, () => db.prepare("INSERT INTO t VALUES (?)").run(new Uint8Array(1e5))),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError, String(error));
        assert.match(error.message, /^cannot write the database .*\(database or disk is full\)$/);
        assert.doesNotMatch(error.message, /rollback/);
        return true;
      },
    );
    assert.equal(db.isTransaction, false);
    assert.equal(immediate(db, () => 7), 7, "the next transaction works");
  } finally {
    db.close();
  }
});

Deno.test("a write to a damaged database says it is damaged, with SQLite's reason", async () => {
  await using folder = await tempHome();
  const path = join(folder.path, "sregistry.db");
  const setup = openDatabase(path);
  setup.exec("CREATE TABLE a (x TEXT); CREATE TABLE t (x TEXT)");
  for (let i = 0; i < 200; i++) {
    setup.prepare("INSERT INTO t VALUES (?)").run(`row ${i}`.repeat(40));
  }
  setup.close();
  const bytes = Deno.readFileSync(path);
  bytes.fill(0x41, bytes.length - 4096); // the last page of the table, overwritten
  Deno.writeFileSync(path, bytes);
  const db = openDatabase(path);
  try {
    assert.throws(
      () => immediate(db, () => db.prepare("INSERT INTO t VALUES (?)").run("new")),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError, String(error));
        assert.match(error.message, /is damaged \(database disk image is malformed\)$/);
        assert.match(error.hint ?? "", /move it aside/);
        return true;
      },
    );
    assert.equal(db.isTransaction, false, "rolled back");
  } finally {
    db.close();
  }
});
