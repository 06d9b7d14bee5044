/**
 * `sregistry get <uri>`: exactly one line on stdout (the absolute path, or the URL of a
 * remote-only record), the newest version when several, exit 1 with a message when missing,
 * and never the banner.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { sregistry } from "../support/cli.ts";
import { tempHome } from "../support/home.ts";
import { assertFailure, assertUnchanged, md5, records, snapshot } from "../support/state.ts";
import { DatabaseSync } from "node:sqlite";

Deno.test("get prints exactly one line, the absolute path, and nothing on stderr", async () => {
  await using home = await tempHome();
  await sregistry(["add", home.file("a.sif", "hello\n"), "--name", "vsoch/hello"], {
    env: home.env,
  });
  const got = await sregistry(["get", "vsoch/hello"], { env: home.env });
  assert.equal(got.code, 0);
  assert.equal(
    got.stdout,
    join(home.storage, "vsoch", "hello", `latest@${md5("hello\n")}.sif`) + "\n",
  );
  assert.equal(got.stderr, "", "no banner, no message");
});

Deno.test("get without @version prints the newest version; with one, that version", async () => {
  await using home = await tempHome();
  const env = home.env;
  for (const content of ["one\n", "two\n", "three\n"]) {
    const added = await sregistry(["add", home.file("x.sif", content), "--name", "vsoch/x"], {
      env,
    });
    assert.equal(added.code, 0, added.stderr);
  }
  const path = (content: string) =>
    join(home.storage, "vsoch", "x", `latest@${md5(content)}.sif`) + "\n";
  assert.equal((await sregistry(["get", "vsoch/x"], { env })).stdout, path("three\n"));
  assert.equal(
    (await sregistry(["get", `vsoch/x@${md5("one\n")}`], { env })).stdout,
    path("one\n"),
  );
  // Updating an older version does not make it the newest.
  await sregistry(["add", "--copy", path("one\n").trim(), "--name", "vsoch/x"], { env });
  assert.equal((await sregistry(["get", "vsoch/x:latest"], { env })).stdout, path("three\n"));
});

Deno.test("get of a missing record exits 1 with one line and changes nothing", async () => {
  await using home = await tempHome();
  await sregistry(["add", home.file("a.sif", "hello\n"), "--name", "vsoch/hello:v1"], {
    env: home.env,
  });
  const before = await snapshot(home);
  for (
    const [uri, shown] of [
      ["vsoch/nothing", "vsoch/nothing:latest"],
      // No fallback to another tag.
      ["vsoch/hello", "vsoch/hello:latest"],
      ["vsoch/hello:v1@0000", "vsoch/hello:v1@0000"],
    ]
  ) {
    const got = await sregistry(["get", uri], { env: home.env });
    assertFailure(got, 1, new RegExp(`no record of ${shown} in the database`));
    assert.equal(got.stdout, "");
  }
  assertUnchanged(before, await snapshot(home));
});

Deno.test("get accepts a scheme prefix and any case", async () => {
  await using home = await tempHome();
  await sregistry(["add", home.file("a.sif", "hello\n"), "--name", "vsoch/hello"], {
    env: home.env,
  });
  const plain = await sregistry(["get", "vsoch/hello"], { env: home.env });
  for (const uri of ["shub://vsoch/hello", "VSoch/Hello:Latest", "vsoch/hello.sif"]) {
    assert.equal((await sregistry(["get", uri], { env: home.env })).stdout, plain.stdout, uri);
  }
});

Deno.test("get follows a storage folder that was moved, because paths are kept relative", async () => {
  await using home = await tempHome();
  await sregistry(["add", home.file("a.sif", "hello\n"), "--name", "vsoch/hello"], {
    env: home.env,
  });
  const moved = join(home.path, "scratch", "images");
  Deno.mkdirSync(join(home.path, "scratch"));
  Deno.renameSync(home.storage, moved);
  const got = await sregistry(["get", "vsoch/hello"], {
    env: { ...home.env, SREGISTRY_STORAGE: moved },
  });
  assert.equal(got.code, 0, got.stderr);
  assert.equal(got.stdout, join(moved, "vsoch", "hello", `latest@${md5("hello\n")}.sif`) + "\n");
  assert.equal(Deno.readTextFileSync(got.stdout.trim()), "hello\n");
});

Deno.test("get never prints the banner, even when a client is active", async () => {
  await using home = await tempHome();
  const env = { ...home.env, SREGISTRY_CLIENT: "registry" };
  await sregistry(["record", "vsoch/remote", "--url", "https://example.org/r.sif"], { env });
  const got = await sregistry(["get", "vsoch/remote"], { env });
  assert.equal(got.stdout, "https://example.org/r.sif\n");
  assert.equal(got.stderr, "");
});

Deno.test("get, add and pull record when an image was last used; get at most hourly, never waiting", async () => {
  await using home = await tempHome();
  await sregistry(["add", home.file("a.sif", "hello\n"), "--name", "vsoch/hello"], {
    env: home.env,
  });
  const usedAt = async () =>
    records(await sregistry(["images", "--json"], { env: home.env }))[0].used_at;
  assert.match(String(await usedAt()), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/, "add is a use");
  const db = new DatabaseSync(join(home.database, "sregistry.db"));
  try {
    db.exec("UPDATE container SET used_at = '2020-01-01 00:00:00'");
    // Another process holds the write lock: get still answers, and skips the note.
    db.exec("BEGIN IMMEDIATE");
    const locked = await sregistry(["get", "vsoch/hello"], { env: home.env });
    assert.equal(locked.code, 0, locked.stderr);
    db.exec("COMMIT");
    assert.equal(await usedAt(), "2020-01-01 00:00:00");
    assert.equal((await sregistry(["get", "vsoch/hello"], { env: home.env })).code, 0);
    const noted = String(await usedAt());
    assert.notEqual(noted, "2020-01-01 00:00:00", "get is a use");
    // Within the hour, a get writes nothing.
    db.exec("UPDATE container SET used_at = datetime('now', '-10 minutes')");
    const recent = String(await usedAt());
    assert.equal((await sregistry(["get", "vsoch/hello"], { env: home.env })).code, 0);
    assert.equal(await usedAt(), recent);
  } finally {
    db.close();
  }
});

Deno.test("get of several names prints one line per name, in order; with one unknown, none", async () => {
  await using home = await tempHome();
  const env = home.env;
  await sregistry(["add", home.file("a.sif", "alpha\n"), "--name", "vsoch/a"], { env });
  await sregistry(["add", home.file("b.sif", "beta\n"), "--name", "vsoch/b:v1"], { env });
  await sregistry(["record", "vsoch/remote", "--url", "https://example.org/r.sif"], { env });
  const a = join(home.storage, "vsoch", "a", `latest@${md5("alpha\n")}.sif`);
  const b = join(home.storage, "vsoch", "b", `v1@${md5("beta\n")}.sif`);
  const got = await sregistry(["get", "vsoch/b:v1", "vsoch/remote", "vsoch/a", "vsoch/b:v1"], {
    env,
  });
  assert.equal(got.code, 0, got.stderr);
  assert.equal(got.stdout, `${b}\nhttps://example.org/r.sif\n${a}\n${b}\n`);
  assert.equal(got.stderr, "");

  const before = await snapshot(home);
  const missing = await sregistry(["get", "vsoch/a", "vsoch/nope", "vsoch/b", "vsoch/a"], { env });
  assertFailure(
    missing,
    1,
    /no record of vsoch\/nope:latest, vsoch\/b:latest in the database; for vsoch\/b:latest, did you mean vsoch\/b:v1 or vsoch\/a:latest\?/,
  );
  assert.equal(missing.stdout, "", "nothing printed, so a script's lines never shift");
  assertUnchanged(before, await snapshot(home));

  // A record whose file is gone stops the whole command too.
  Deno.removeSync(a);
  const gone = await sregistry(["get", "vsoch/b:v1", "vsoch/a"], { env });
  assertFailure(gone, 1, /the image file of vsoch\/a:latest@.* is missing/);
  assert.equal(gone.stdout, "");

  assertFailure(await sregistry(["get"], { env }), 2, /missing required argument 'uri'/);
  assertFailure(
    await sregistry(["get", "vsoch/a", "vsoch/../x"], { env }),
    2,
    /invalid image name/,
  );
});
