/**
 * Several sregistry processes on one database at once, as jobs of one batch script do: every
 * add succeeds, no record is lost, and the schema is created exactly once.
 */
import assert from "node:assert/strict";
import { SCHEMA_VERSION } from "../../src/core/schema.ts";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { sregistry } from "../support/cli.ts";
import { tempHome } from "../support/home.ts";
import { fileTree, md5, records, tempFiles } from "../support/state.ts";

const PROCESSES = 8;

Deno.test("8 processes adding 8 different images to a new database at once all succeed", async () => {
  await using home = await tempHome();
  const files = Array.from(
    { length: PROCESSES },
    (_, i) => home.file(`image-${i}.sif`, `image number ${i}\n`.repeat(1000 + i)),
  );
  const results = await Promise.all(
    files.map((file, i) =>
      sregistry(["add", file, "--name", `batch/image-${i}`], { env: home.env })
    ),
  );
  for (const [i, result] of results.entries()) {
    assert.equal(result.code, 0, `process ${i}: ${result.stderr}`);
    // Each file is text, not an image: added with a warning first.
    assert.match(
      result.stderr,
      new RegExp(
        `^\\[warning\\] .* is not a SIF.*\n\\[container\\]\\[new\\] batch/image-${i}:latest@`,
      ),
    );
  }

  const listed = records(await sregistry(["images", "--json"], { env: home.env }));
  assert.equal(listed.length, PROCESSES);
  assert.deepEqual(
    listed.map((r) => r.name).sort(),
    files.map((_, i) => `image-${i}`).sort(),
  );
  for (const record of listed) {
    const i = Number(record.name.split("-")[1]);
    const content = `image number ${i}\n`.repeat(1000 + i);
    assert.equal(record.md5, md5(content));
    assert.equal(Deno.readTextFileSync(record.image!), content);
  }
  const stored = fileTree(home.storage).filter((entry) => !entry.endsWith("/"));
  assert.equal(stored.length, PROCESSES);
  assert.deepEqual(tempFiles(home.path), []);

  const db = new DatabaseSync(join(home.database, "sregistry.db"), { readOnly: true });
  try {
    const version = db.prepare("PRAGMA user_version").get() as { user_version: number };
    assert.equal(version.user_version, SCHEMA_VERSION);
    const collections = db.prepare("SELECT name FROM collection").all();
    assert.deepEqual(collections.map((row) => row.name), ["batch"], "one collection row");
  } finally {
    db.close();
  }
});

Deno.test("8 processes adding the same image under one name leave one record and one file", async () => {
  await using home = await tempHome();
  const source = home.file("same.sif", "the same image\n".repeat(5000));
  const results = await Promise.all(
    Array.from(
      { length: PROCESSES },
      () => sregistry(["add", "--copy", source, "--name", "batch/same"], { env: home.env }),
    ),
  );
  for (const [i, result] of results.entries()) {
    assert.equal(result.code, 0, `process ${i}: ${result.stderr}`);
  }
  const actions = results.map((result) => /\[container\]\[(new|update)\]/.exec(result.stderr)?.[1]);
  assert.equal(actions.filter((action) => action === "new").length, 1, actions.join(","));
  assert.equal(actions.filter((action) => action === "update").length, PROCESSES - 1);

  const listed = records(await sregistry(["images", "--json"], { env: home.env }));
  assert.equal(listed.length, 1);
  assert.equal(Deno.readTextFileSync(listed[0].image!), Deno.readTextFileSync(source));
  assert.equal(fileTree(home.storage).filter((entry) => !entry.endsWith("/")).length, 1);
  assert.deepEqual(tempFiles(home.path), []);
});
