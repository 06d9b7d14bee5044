/**
 * Every input is bounded: `--metadata` files, shell lines and query lists are read only when
 * they are regular files (or lines) under a cap, a FIFO or a device is refused without blocking,
 * a full disk under the database gives SQLite's reason, and `--json` never leaves half a
 * document on stdout.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { type CliResult, sregistry } from "../support/cli.ts";
import { tempHome } from "../support/home.ts";
import {
  assertFailure,
  assertUnchanged,
  canMount,
  mountTmpfs,
  records,
  snapshot,
} from "../support/state.ts";

Deno.test("--metadata that is a FIFO, a device or too large is refused without reading it", async (t) => {
  await using home = await tempHome();
  await using elsewhere = await tempHome(); // snapshots of home read every file: not a FIFO
  const image = home.file("a.sif", "hello\n");
  const fifo = join(elsewhere.path, "metadata.fifo");
  assert.ok(new Deno.Command("mkfifo", { args: [fifo] }).outputSync().success, "mkfifo");
  const big = home.file("big.json", `{"x": "${"a".repeat(4 * 1024 * 1024)}"}`);
  await sregistry(["images"], { env: home.env });
  const before = await snapshot(home);
  const cases: [string, RegExp][] = [
    [fifo, /metadata file .*metadata\.fifo is a FIFO, not a regular file/],
    ["/dev/zero", /metadata file \/dev\/zero is a character device, not a regular file/],
    [home.path, /is a folder, not a regular file/],
    [big, /metadata file .*big\.json is larger than 4 MiB, the most sregistry reads/],
  ];
  for (const [metadata, why] of cases) {
    await t.step(metadata, async () => {
      for (
        const args of [
          ["add", image, "--name", "lab/a", "--metadata", metadata],
          ["record", "lab/b", "--url", "https://example.org/b.sif", "--metadata", metadata],
        ]
      ) {
        assertFailure(await sregistry(args, { env: home.env }), 2, why);
      }
      assertUnchanged(before, await snapshot(home));
    });
  }
});

Deno.test("a shell line past the cap (say, /dev/zero on stdin) ends the shell with exit 2", async () => {
  await using home = await tempHome();
  const session = await sregistry(["shell"], {
    env: home.env,
    stdin: "version\n" + "\0".repeat(200_000),
  });
  assert.equal(session.code, 2, session.stderr);
  assert.match(session.stdout, /^\d+\.\d+\.\d+\n$/, "the line before it ran");
  assert.match(session.stderr, /sregistry: a line of input is longer than 64 KiB\n$/);
});

Deno.test("images takes a bounded list of bounded queries", async () => {
  await using home = await tempHome();
  assertFailure(
    await sregistry(["images", ...Array.from({ length: 101 }, (_, i) => `q${i}`)], {
      env: home.env,
    }),
    2,
    /too many queries \(101\); give at most 100/,
  );
  assertFailure(
    await sregistry(["images", "x".repeat(1025)], { env: home.env }),
    2,
    /a query is longer than 1024 characters/,
  );
  assert.equal((await sregistry(["images", "a", "b"], { env: home.env })).code, 0);
});

Deno.test("images --json leaves nothing on stdout when the database fails part-way", async () => {
  await using home = await tempHome();
  assert.equal(
    (await sregistry(["record", "lab/seed", "--url", "https://e.org/s"], {
      env: home.env,
    })).code,
    0,
  );
  const path = join(home.database, "sregistry.db");
  const db = new DatabaseSync(path);
  db.exec("BEGIN");
  const insert = db.prepare(
    "INSERT INTO container (created_at, metrics, name, tag, url, uri, client, collection_id) " +
      "SELECT datetime('now'), '{}', ?, 'latest', 'https://e.org/x', ?, 'hub', collection_id " +
      "FROM container LIMIT 1",
  );
  for (let i = 0; i < 3000; i++) insert.run(`n${i}`, `lab/n${i}:latest`);
  db.exec("COMMIT");
  db.close();
  const bytes = Deno.readFileSync(path);
  bytes.fill(0x41, bytes.length - 4096); // the last rows' page, overwritten
  Deno.writeFileSync(path, bytes);

  const listed = await sregistry(["images", "--json"], { env: home.env });
  assert.equal(listed.code, 1, listed.stderr);
  assert.match(listed.stderr, /malformed/);
  assert.equal(listed.stdout, "", "no half-written JSON");
});

Deno.test({
  name: "a full disk under the database gives SQLite's reason, not a rollback error",
  ignore: !canMount(),
  async fn() {
    await using home = await tempHome();
    const env = { ...home.env, SREGISTRY_STORAGE: join(home.path, "storage") };
    using _tmpfs = mountTmpfs(home.database, "96k");
    let failed: CliResult | null = null;
    for (let i = 0; i < 400 && failed === null; i++) {
      const result = await sregistry(
        ["record", "-q", `lab/n${i}`, "--url", `https://example.org/${"x".repeat(2000)}/${i}`],
        { env },
      );
      if (result.code !== 0) failed = result;
    }
    assert.ok(failed !== null, "the database filled its disk");
    assertFailure(
      failed,
      1,
      /cannot write the database .*sregistry\.db \((database or disk is full|.*no space)/i,
    );
    assert.doesNotMatch(failed.stderr, /rollback|unexpected/);
    assert.ok(records(await sregistry(["images", "--json"], { env })).length > 0);
  },
});
