/**
 * Bad input of every kind: a missing file, a folder instead of a file, invalid and hostile names,
 * unknown records, a corrupt secrets file, a corrupt database, a read-only storage folder and a
 * disk that fills up mid-copy. Each gives one error line and a non-zero exit code, and leaves
 * the database and storage exactly as they were, with no temporary file behind.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { sregistry } from "../support/cli.ts";
import { type TempHome, tempHome } from "../support/home.ts";
import {
  assertFailure,
  assertUnchanged,
  canMount,
  makeReadOnly,
  md5,
  mountTmpfs,
  records,
  snapshot,
  tempFiles,
} from "../support/state.ts";

const CORRUPT_DB = new URL("../fixtures/corrupt.db", import.meta.url);

interface Case {
  /** What the case shows, as a test step name. */
  name: string;
  args: string[];
  code: number;
  message: RegExp;
}

/** A home with a local image (vsoch/hello) and a remote-only record (vsoch/remote). */
async function populated(home: TempHome): Promise<void> {
  for (
    const args of [
      ["add", home.file("seed.sif", "hello\n"), "--name", "vsoch/hello"],
      ["record", "vsoch/remote", "--url", "https://example.org/r.sif"],
    ]
  ) {
    const result = await sregistry(args, { env: home.env });
    assert.equal(result.code, 0, result.stderr);
  }
}

/** Runs each case against one home, asserting its failure and that nothing changed. */
async function runCases(
  t: Deno.TestContext,
  home: TempHome,
  cases: Case[],
  env: Record<string, string> = home.env,
): Promise<void> {
  for (const { name, args, code, message } of cases) {
    await t.step(name, async () => {
      const before = await snapshot(home, env);
      const result = await sregistry(args, { env, cwd: home.path });
      assertFailure(result, code, message);
      assert.equal(result.stdout, "", "nothing on stdout");
      assertUnchanged(before, await snapshot(home, env), args.join(" "));
      assert.deepEqual(tempFiles(home.path), []);
    });
  }
}

Deno.test("bad files and bad arguments give one error line and change nothing", async (t) => {
  await using home = await tempHome();
  await populated(home);
  const image = home.file("image.sif", "an image\n");
  Deno.mkdirSync(join(home.path, "folder.sif"));
  const badJson = home.file("bad.json", "{ not json");

  await runCases(t, home, [
    {
      name: "add of a missing file exits 1 saying it does not exist",
      args: ["add", join(home.path, "missing.sif"), "--name", "vsoch/x"],
      code: 1,
      message: /missing\.sif does not exist/,
    },
    {
      name: "add of a folder exits 2 saying it is not an image file",
      args: ["add", join(home.path, "folder.sif"), "--name", "vsoch/x"],
      code: 2,
      message: /folder\.sif is a folder, not an image file/,
    },
    {
      name: "add of /dev/null exits 2 saying it is not a regular file",
      args: ["add", "/dev/null", "--name", "vsoch/x"],
      code: 2,
      message: /\/dev\/null is not a regular file/,
    },
    {
      name: "--metadata that is not JSON exits 2 naming the file",
      args: ["add", image, "--name", "vsoch/x", "--metadata", badJson],
      code: 2,
      message: /metadata file .*bad\.json is not valid JSON/,
    },
    {
      name: "--metadata that does not exist exits 1 naming the file",
      args: ["add", image, "--name", "vsoch/x", "--metadata", "nope.json"],
      code: 1,
      message: /cannot read metadata file nope\.json/,
    },
    {
      name: "record --metadata that is not JSON exits 2",
      args: ["record", "vsoch/x", "--url", "https://example.org/x", "--metadata", badJson],
      code: 2,
      message: /is not valid JSON/,
    },
    {
      name: "an unknown flag exits 2",
      args: ["add", image, "--name", "vsoch/x", "--force-everything"],
      code: 2,
      message: /unknown option '--force-everything'/,
    },
  ]);
  assert.equal(Deno.readTextFileSync(image), "an image\n", "the image is never moved");
});

const HOSTILE: [name: string, part: RegExp][] = [
  ["../../etc/passwd", /'\.\.' is not allowed/],
  ["vsoch/..", /'\.\.' is not allowed in a name \(image name\)/],
  ["vsoch/hello:../../x", /':' is not allowed in the collection 'hello:\.\.'/],
  ["vsoch/hello@../../x", /'\/' is not allowed in a version/],
  ["vsoch//hello", /empty path segment/],
  ["/dinosaur", /absolute paths are not names/],
  ["collection/", /empty path segment/],
  ["", /the name is empty/],
  ["tag:", /the tag after ':' is empty/],
  ["vsoch/hel lo", /spaces are not allowed/],
  ["vsoch/hel\tlo", /control character "\\t"/],
  ["vsoch/hel\nlo", /control character "\\n"/],
  ["vsoch\\hello", /backslashes are not allowed/],
  ["vsoch/-rf", /may not start with '-'/],
];

Deno.test("invalid and hostile names exit 2 naming the bad part, for every command", async (t) => {
  await using home = await tempHome();
  await populated(home);
  const image = home.file("image.sif", "an image\n");
  const cases: Case[] = [];
  for (const [name, part] of HOSTILE) {
    const message = new RegExp(`invalid image name .*${part.source}`);
    cases.push({
      name: `add --name ${JSON.stringify(name)} is refused`,
      args: ["add", image, "--name", name],
      code: 2,
      message,
    });
  }
  const [name, part] = HOSTILE[0];
  const message = new RegExp(`invalid image name .*${part.source}`);
  for (
    const args of [
      ["get", name],
      ["rm", name],
      ["rmi", name],
      ["mv", name, home.path],
      ["rename", name, "vsoch/x"],
      ["rename", "vsoch/hello", name],
      ["record", name, "--url", "https://example.org/x"],
      ["add", image, "--name", `shub://${name}`],
    ]
  ) {
    cases.push({ name: `${args[0]} refuses ${JSON.stringify(name)}`, args, code: 2, message });
  }
  // For inspect an argument starting with ../ is a file path (a name never does); this one is not.
  const [inside, insidePart] = HOSTILE[1];
  cases.push({
    name: `inspect refuses ${JSON.stringify(inside)}`,
    args: ["inspect", inside],
    code: 2,
    message: new RegExp(`invalid image name .*${insidePart.source}`),
  });
  await runCases(t, home, cases);
  assert.equal(Deno.readTextFileSync(image), "an image\n");
});

Deno.test("an unknown record exits 1 for every command that needs one", async (t) => {
  await using home = await tempHome();
  await populated(home);
  const message = /no record of vsoch\/missing:latest in the database; 'sregistry images' lists/;
  await runCases(
    t,
    home,
    [
      ["get", "vsoch/missing"],
      ["inspect", "vsoch/missing"],
      ["rm", "vsoch/missing"],
      ["rmi", "vsoch/missing"],
      ["mv", "vsoch/missing", home.path],
      ["rename", "vsoch/missing", "vsoch/other"],
    ].map((args) => ({ name: `${args[0]} of an unknown record`, args, code: 1, message })),
  );
});

Deno.test("a corrupt secrets file fails backend commands with one line and is left alone", async (t) => {
  await using home = await tempHome();
  await populated(home);
  const secrets = home.file(".sregistry", '{"registry": {"SREGISTRY_REGISTRY_TOKEN": "sekrit",');
  const message = /secrets file .*\.sregistry is not valid JSON \(.*\); fix or remove it/;
  await runCases(t, home, [
    { name: "backend ls", args: ["backend", "ls"], code: 1, message },
    { name: "backend ls registry", args: ["backend", "ls", "registry"], code: 1, message },
    { name: "backend status", args: ["backend", "status"], code: 1, message },
    { name: "backend add", args: ["backend", "add", "registry", "base", "x"], code: 1, message },
    { name: "backend activate", args: ["backend", "activate", "registry"], code: 1, message },
  ]);
  assert.match(Deno.readTextFileSync(secrets), /sekrit",$/);
  const ls = await sregistry(["backend", "ls"], { env: home.env });
  assert.doesNotMatch(ls.stderr, /sekrit/, "the token is not quoted in the message");
});

Deno.test("a corrupt database file gives one line, exit 1, and is not modified", async (t) => {
  await using home = await tempHome();
  Deno.mkdirSync(home.database, { recursive: true });
  const database = join(home.database, "sregistry.db");
  Deno.copyFileSync(CORRUPT_DB, database);
  const image = home.file("image.sif", "an image\n");
  const message = new RegExp(
    `${database} is not a usable SQLite database \\(.*\\); move it aside, or point ` +
      "SREGISTRY_DATABASE at another folder",
  );
  await runCases(
    t,
    home,
    [
      ["images"],
      ["get", "vsoch/hello"],
      ["inspect", "vsoch/hello"],
      ["add", image, "--name", "vsoch/hello"],
      ["record", "vsoch/r", "--url", "https://example.org/r"],
      ["rm", "-q", "vsoch/hello"],
      ["rmi", "-q", "--all", "--yes"],
      ["mv", "-q", "vsoch/hello", home.path],
      ["rename", "-q", "vsoch/hello", "vsoch/x"],
    ].map((args) => ({ name: `${args.join(" ")} refuses the database`, args, code: 1, message })),
  );
  assert.deepEqual(Deno.readFileSync(database), Deno.readFileSync(CORRUPT_DB));
  assert.equal(Deno.readTextFileSync(image), "an image\n");

  // With --json the one line is a JSON error object.
  const json = await sregistry(["images", "--json"], { env: home.env });
  assert.equal(json.code, 1);
  assert.equal(json.stdout, "");
  assert.equal(json.stderr.split("\n").filter(Boolean).length, 1);
  const { error } = JSON.parse(json.stderr);
  assert.equal(error.code, "config");
  assert.match(error.message, /is not a usable SQLite database/);
  assert.match(error.hint, /SREGISTRY_DATABASE/);
});

Deno.test({
  name: "a read-only storage folder: add and rmi fail with one line and change nothing",
  ignore: !canMount(),
  async fn(t) {
    await using home = await tempHome();
    await populated(home);
    const image = home.file("image.sif", "an image\n");
    const before = await snapshot(home);
    using _readOnly = makeReadOnly(home.storage);
    const message = new RegExp(
      `cannot write to storage ${home.storage}: .*; check its permissions, or set SREGISTRY_STORAGE`,
    );
    await runCases(t, home, [
      {
        name: "add --copy to a read-only storage",
        args: ["add", "--copy", image, "--name", "vsoch/new"],
        code: 1,
        message,
      },
      {
        name: "add (move) to a read-only storage",
        args: ["add", image, "--name", "vsoch/new"],
        code: 1,
        message,
      },
      {
        name: "add of new content under an existing name",
        args: ["add", image, "--name", "vsoch/hello"],
        code: 1,
        message,
      },
      {
        name: "rmi of an image in a read-only storage keeps the record",
        args: ["rmi", "-q", "vsoch/hello"],
        code: 1,
        message,
      },
      {
        name: "rename inside a read-only storage",
        args: ["rename", "-q", "vsoch/hello", "vsoch/other"],
        code: 1,
        message,
      },
    ]);
    assertUnchanged(before, await snapshot(home));
    assert.equal(Deno.readTextFileSync(image), "an image\n");
  },
});

Deno.test({
  name: "a disk that fills up mid-copy: add fails with one line, leaves no partial file",
  ignore: !canMount(),
  async fn(t) {
    await using home = await tempHome();
    using _tmpfs = mountTmpfs(home.storage, "1m");
    await populated(home);
    const big = new Uint8Array(4 * 1024 * 1024).map((_, i) => (i * 7) & 0xff);
    const image = home.file("big.sif", big);
    const message = new RegExp(
      `storage ${home.storage} is full: no space left on device; free space or set ` +
        "SREGISTRY_STORAGE to a larger filesystem; nothing was added",
    );
    await runCases(t, home, [
      {
        name: "add --copy of 4 MiB into 1 MiB",
        args: ["add", "--copy", image, "--name", "vsoch/big"],
        code: 1,
        message,
      },
      {
        name: "add (a move across filesystems) of 4 MiB into 1 MiB keeps the source",
        args: ["add", image, "--name", "vsoch/big"],
        code: 1,
        message,
      },
    ]);
    assert.equal(md5(Deno.readFileSync(image)), md5(big), "the source is intact");
    assert.equal(records(await sregistry(["images", "--json"], { env: home.env })).length, 2);
  },
});

Deno.test({
  name: "a read-only database: listing works, every change fails with one line, nothing moves",
  ignore: !canMount(),
  async fn(t) {
    await using home = await tempHome();
    const env = { ...home.env, SREGISTRY_STORAGE: join(home.path, "storage") };
    for (
      const args of [
        ["add", home.file("seed.sif", "hello\n"), "--name", "vsoch/hello"],
        ["record", "vsoch/remote", "--url", "https://example.org/r.sif"],
      ]
    ) {
      assert.equal((await sregistry(args, { env })).code, 0);
    }
    const image = home.file("image.sif", "an image\n");
    const before = await snapshot(home, env);
    using _readOnly = makeReadOnly(home.database);

    const listed = await sregistry(["images", "--json"], { env });
    assert.equal(records(listed).length, 2, "reading needs no write access");
    assert.equal((await sregistry(["get", "vsoch/hello"], { env })).code, 0);

    const message = new RegExp(
      `cannot write the database ${join(home.database, "sregistry.db")} \\(.*readonly.*\\); ` +
        "check its permissions, or set SREGISTRY_DATABASE",
    );
    const lockMessage = new RegExp(
      `cannot write the database folder ${home.database}; .*; ` +
        "check its permissions, or set SREGISTRY_DATABASE",
    );
    await runCases(
      t,
      home,
      [
        ["add", image, "--name", "vsoch/new"],
        ["add", "--copy", image, "--name", "vsoch/new"],
        ["record", "-q", "vsoch/other", "--url", "https://example.org/o.sif"],
        ["rm", "-q", "vsoch/hello"],
        ["rmi", "-q", "vsoch/hello"],
        ["mv", "-q", "vsoch/hello", home.path],
        ["rename", "-q", "vsoch/hello", "vsoch/renamed"],
      ].map((args) => ({
        name: `${args.join(" ")} fails`,
        args,
        code: 1,
        // A copy's temporary file is named after the command's lock, made before any byte moves.
        message: args.includes("--copy") ? lockMessage : message,
      })),
      env,
    );
    assertUnchanged(before, await snapshot(home, env));
    assert.equal(Deno.readTextFileSync(image), "an image\n", "the moved file is put back");
  },
});

Deno.test("a database damaged where only a listing reads is one line saying so, as text and as JSON", async () => {
  await using home = await tempHome();
  for (let i = 0; i < 30; i++) {
    const added = await sregistry([
      "add",
      home.file(`f${i}.sif`, `image ${i}\n`),
      "--name",
      `a/c${i}`,
    ], {
      env: home.env,
    });
    assert.equal(added.code, 0, added.stderr);
  }
  // Pages of the container table, past the schema page that opening the database checks.
  const file = await Deno.open(join(home.database, "sregistry.db"), { write: true });
  await file.seek(4096 * 3, Deno.SeekMode.Start);
  await file.write(new Uint8Array(4096 * 2).fill(0xff));
  file.close();
  const listed = await sregistry(["images"], { env: home.env });
  assertFailure(
    listed,
    1,
    /the database is damaged \(database disk image is malformed\); move sregistry\.db aside/,
  );
  const json = await sregistry(["images", "--json"], { env: home.env });
  assert.equal(json.code, 1);
  assert.equal(json.stdout, "", "no partial JSON");
  assert.equal(JSON.parse(json.stderr.trim().split("\n").at(-1)!).error.code, "config");
});
