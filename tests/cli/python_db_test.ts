/**
 * A database written by the Python client (tests/fixtures/sregistry.db, made by
 * scripts/make_fixtures.ts with the DDL of reference §3.1) opens in place: every row is kept,
 * it is migrated once (to the current user_version), absolute image paths under storage become relative, and
 * `get` prints the right absolute path, even after the storage folder moves.
 */
import assert from "node:assert/strict";
import { SCHEMA_VERSION } from "../../src/core/schema.ts";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { sregistry } from "../support/cli.ts";
import { type TempHome, tempHome } from "../support/home.ts";
import { assertFailure, lines, records } from "../support/state.ts";
import { PYTHON_HOME, PYTHON_ROWS } from "../../scripts/make_fixtures.ts";

const FIXTURE = new URL("../fixtures/sregistry.db", import.meta.url);

/**
 * Installs the Python database as this home's, as if the Python client had run with HOME set
 * to it: its /home/user paths are rewritten to the temporary home, and the image files exist.
 */
function installPythonDatabase(home: TempHome, options: { relocate: boolean }): string {
  Deno.mkdirSync(home.database, { recursive: true });
  const path = join(home.database, "sregistry.db");
  Deno.copyFileSync(FIXTURE, path);
  if (!options.relocate) return path;
  const db = new DatabaseSync(path);
  try {
    db.prepare("UPDATE container SET image = ? || substr(image, ?) WHERE image LIKE ?").run(
      home.path,
      PYTHON_HOME.length + 1,
      `${PYTHON_HOME}/%`,
    );
  } finally {
    db.close();
  }
  for (const row of PYTHON_ROWS) {
    if (row.image) home.file(row.image.slice(PYTHON_HOME.length + 1), `image of ${row.uri}\n`);
  }
  return path;
}

function table(path: string, sql: string): Record<string, unknown>[] {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    return db.prepare(sql).all().map((row) => ({ ...row }));
  } finally {
    db.close();
  }
}

Deno.test("a Python client's database keeps every row and is migrated in place", async () => {
  await using home = await tempHome();
  const path = installPythonDatabase(home, { relocate: true });
  const before = table(path, "SELECT * FROM container ORDER BY id");

  const listed = records(await sregistry(["images", "--json"], { env: home.env }));
  assert.deepEqual(listed.map((r) => r.uri), PYTHON_ROWS.map((row) => row.uri));
  assert.deepEqual(listed.map((r) => r.client), ["hub", "registry", "hub", "registry"]);
  assert.deepEqual(listed.map((r) => r.created_at), PYTHON_ROWS.map((row) => row.createdAt));
  assert.deepEqual(listed.map((r) => r.image), [
    join(home.storage, "vsoch", "hello-world", `latest@${PYTHON_ROWS[0].version}.sif`),
    join(home.storage, "vsoch", "tacos", `latest@${PYTHON_ROWS[1].version}.sif`),
    join(home.path, "images", "ubuntu-18.04.sif"),
    null,
  ]);
  assert.equal((listed[0].metrics as { type: string }).type, "container");

  assert.deepEqual(table(path, "PRAGMA user_version"), [{ user_version: SCHEMA_VERSION }]);
  const after = table(path, "SELECT * FROM container ORDER BY id");
  assert.equal(after.length, before.length, "every row is kept");
  assert.deepEqual(after.map((row) => row.image), [
    `vsoch/hello-world/latest@${PYTHON_ROWS[0].version}.sif`,
    `vsoch/tacos/latest@${PYTHON_ROWS[1].version}.sif`,
    join(home.path, "images", "ubuntu-18.04.sif"),
    null,
  ]);
  for (const [i, row] of after.entries()) {
    for (const column of ["id", "created_at", "metrics", "name", "tag", "url", "uri", "client"]) {
      assert.deepEqual(row[column], before[i][column], `${column} of row ${row.id}`);
    }
  }
  assert.equal(table(path, "SELECT * FROM collection").length, 2);
});

Deno.test("get, images and inspect work on a migrated Python database, also after storage moves", async () => {
  await using home = await tempHome();
  installPythonDatabase(home, { relocate: true });
  const env = home.env;
  const hello = join(home.storage, "vsoch", "hello-world", `latest@${PYTHON_ROWS[0].version}.sif`);

  assert.equal((await sregistry(["get", "vsoch/hello-world"], { env })).stdout, `${hello}\n`);
  assert.equal(
    (await sregistry(["get", "library/ubuntu:18.04"], { env })).stdout,
    `${join(home.path, "images", "ubuntu-18.04.sif")}\n`,
  );
  assert.equal(
    (await sregistry(["get", "vsoch/remote"], { env })).stdout,
    "https://example.org/remote.sif\n",
  );
  // The table shows local time: UTC here, so that the day is the one recorded.
  const table = await sregistry(["images"], { env: { ...env, TZ: "UTC" } });
  assert.match(
    lines(table.stdout)[4],
    /^4 {2}November 21, 2026 11:08 \tremote {4}\t {8}- {3}\[registry\]\tvsoch\/remote:latest$/,
  );
  const inspected = JSON.parse((await sregistry(["inspect", "vsoch/tacos"], { env })).stdout);
  assert.equal(inspected.url, PYTHON_ROWS[1].url);
  assert.equal(inspected.version, PYTHON_ROWS[1].version);

  // The images were recorded relative to storage, so moving the folder keeps them working.
  const moved = join(home.path, "scratch");
  Deno.renameSync(home.storage, moved);
  const got = await sregistry(["get", "vsoch/hello-world"], {
    env: { ...env, SREGISTRY_STORAGE: moved },
  });
  assert.equal(got.stdout, `${hello.replace(home.storage, moved)}\n`);
  assert.equal(Deno.readTextFileSync(got.stdout.trim()), `image of ${PYTHON_ROWS[0].uri}\n`);
});

Deno.test("new images can be added to a migrated Python database and old ones removed", async () => {
  await using home = await tempHome();
  installPythonDatabase(home, { relocate: true });
  const env = home.env;
  const added = await sregistry(
    ["add", home.file("new.sif", "a newer hello\n"), "--name", "vsoch/hello-world"],
    { env },
  );
  assert.equal(added.code, 0, added.stderr);
  assert.match(
    added.stderr,
    /^\[warning\] .* is not a SIF.*\n\[container\]\[new\] vsoch\/hello-world:latest@[0-9a-f]{32}\n$/,
    "a text file is added with a warning",
  );
  const newest = (await sregistry(["get", "vsoch/hello-world"], { env })).stdout.trim();
  assert.equal(Deno.readTextFileSync(newest), "a newer hello\n", "the newest version wins");

  const removed = await sregistry(["rmi", "-q", `vsoch/tacos@${PYTHON_ROWS[1].version}`], { env });
  assert.equal(removed.code, 0, removed.stderr);
  assertFailure(await sregistry(["get", "vsoch/tacos"], { env }), 1, /no record of vsoch\/tacos/);
  assert.equal(records(await sregistry(["images", "--json"], { env })).length, 4);
});

Deno.test("the fixture as committed (paths under /home/user) opens and keeps its paths", async () => {
  await using home = await tempHome();
  const path = installPythonDatabase(home, { relocate: false });
  const listed = records(await sregistry(["images", "--json"], { env: home.env }));
  assert.deepEqual(listed.map((r) => r.image), PYTHON_ROWS.map((row) => row.image));
  assert.deepEqual(table(path, "PRAGMA user_version"), [{ user_version: SCHEMA_VERSION }]);
  // Opening again does not migrate again.
  const again = records(await sregistry(["images", "--json"], { env: home.env }));
  assert.deepEqual(again, listed);
});
