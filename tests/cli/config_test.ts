/**
 * Configuration as a user sets it: `sregistry config` shows each setting's origin (flag,
 * environment, secrets, default); SREGISTRY_DATABASE/STORAGE and --database/--storage are
 * honoured and their folders created; SREGISTRY_DISABLE stops local commands; a corrupt secrets
 * file does not stop commands that do not need it.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { sregistry } from "../support/cli.ts";
import { type TempHome, tempHome } from "../support/home.ts";
import { assertFailure, fileTree, md5, records } from "../support/state.ts";

interface Row {
  name: string;
  value: string;
  origin: string;
  source?: string;
}

async function config(env: Record<string, string>, ...flags: string[]): Promise<Map<string, Row>> {
  const result = await sregistry([...flags, "config", "--json"], { env });
  assert.equal(result.code, 0, result.stderr);
  return new Map((JSON.parse(result.stdout) as Row[]).map((row) => [row.name, row]));
}

Deno.test("config shows defaults under HOME, each with origin default", async () => {
  await using home = await tempHome();
  const rows = await config(home.env);
  assert.deepEqual(rows.get("SREGISTRY_DATABASE"), {
    name: "SREGISTRY_DATABASE",
    value: home.database,
    origin: "default",
  });
  assert.equal(rows.get("database file")?.value, join(home.database, "sregistry.db"));
  assert.equal(rows.get("SREGISTRY_STORAGE")?.value, home.storage);
  assert.equal(rows.get("SREGISTRY_CLIENT")?.value, "hub");
  assert.equal(rows.get("SREGISTRY_CLIENT_SECRETS")?.value, join(home.path, ".sregistry"));
  assert.equal(rows.get("SREGISTRY_DISABLE")?.value, "false");
  assert.deepEqual(fileTree(home.path), [], "config creates nothing");
});

Deno.test("config: a flag beats the environment, which beats the secrets file", async () => {
  await using home = await tempHome();
  home.file(".sregistry", JSON.stringify({ SREGISTRY_CLIENT: "registry" }));
  const env = {
    ...home.env,
    SREGISTRY_DATABASE: join(home.path, "env-db"),
    SREGISTRY_STORAGE: join(home.path, "env-storage"),
  };
  const rows = await config(env, "--database", join(home.path, "flag-db"));
  assert.deepEqual(rows.get("SREGISTRY_DATABASE"), {
    name: "SREGISTRY_DATABASE",
    value: join(home.path, "flag-db"),
    origin: "flag",
    source: "--database",
  });
  assert.deepEqual(rows.get("SREGISTRY_STORAGE"), {
    name: "SREGISTRY_STORAGE",
    value: join(home.path, "env-storage"),
    origin: "environment",
    source: "SREGISTRY_STORAGE",
  });
  assert.deepEqual(rows.get("SREGISTRY_CLIENT"), {
    name: "SREGISTRY_CLIENT",
    value: "registry",
    origin: "secrets",
    source: "SREGISTRY_CLIENT",
  });
  const fromEnv = await config({ ...env, SREGISTRY_CLIENT: "Hub" });
  assert.equal(fromEnv.get("SREGISTRY_CLIENT")?.origin, "environment");
  assert.equal(fromEnv.get("SREGISTRY_CLIENT")?.value, "hub");

  const table = await sregistry(["--storage", "flag-storage", "config"], { env, cwd: home.path });
  assert.match(
    table.stdout,
    new RegExp(`SREGISTRY_STORAGE +${join(home.path, "flag-storage")} +flag \\(--storage\\)`),
    "a relative flag is resolved against the working directory",
  );
  assert.match(table.stdout, /SREGISTRY_DATABASE +\S+env-db +environment \(SREGISTRY_DATABASE\)/);
  assert.match(table.stdout, /^SETTING +VALUE +ORIGIN$/m);
});

Deno.test("SREGISTRY_DATABASE and SREGISTRY_STORAGE are honoured and created when missing", async () => {
  await using home = await tempHome();
  const database = join(home.path, "shared", "db");
  const storage = join(home.path, "scratch", "images");
  const env = { ...home.env, SREGISTRY_DATABASE: database, SREGISTRY_STORAGE: storage };
  const added = await sregistry(["add", home.file("a.sif", "hello\n"), "--name", "vsoch/x"], {
    env,
  });
  assert.equal(added.code, 0, added.stderr);
  assert.ok(Deno.statSync(join(database, "sregistry.db")).isFile);
  const path = join(storage, "vsoch", "x", `latest@${md5("hello\n")}.sif`);
  assert.equal((await sregistry(["get", "vsoch/x"], { env })).stdout, `${path}\n`);
  assert.deepEqual(
    fileTree(home.path).filter((entry) => entry.startsWith(".singularity")),
    [],
    "the defaults are not used",
  );
});

Deno.test("--database and --storage flags win over the environment", async () => {
  await using home = await tempHome();
  const env = {
    ...home.env,
    SREGISTRY_DATABASE: join(home.path, "env-db"),
    SREGISTRY_STORAGE: join(home.path, "env-storage"),
  };
  const flags = ["--database", join(home.path, "flag-db"), "--storage", join(home.path, "flag-st")];
  const added = await sregistry(
    [...flags, "add", home.file("a.sif", "hello\n"), "--name", "vsoch/x"],
    { env },
  );
  assert.equal(added.code, 0, added.stderr);
  const [record] = records(await sregistry([...flags, "images", "--json"], { env }));
  assert.equal(
    record.image,
    join(home.path, "flag-st", "vsoch", "x", `latest@${md5("hello\n")}.sif`),
  );
  assert.ok(Deno.statSync(join(home.path, "flag-db", "sregistry.db")).isFile);
  assert.deepEqual(
    fileTree(home.path).filter((entry) => entry.startsWith("env-")),
    [],
    "the environment's folders are not touched",
  );
});

Deno.test("SREGISTRY_DISABLE=true makes local commands fail saying they need the database", async () => {
  await using home = await tempHome();
  const file = home.file("a.sif", "hello\n");
  for (const variable of ["SREGISTRY_DISABLE", "SINGULARITY_DISABLE_CACHE"]) {
    const env = { ...home.env, [variable]: "true" };
    for (
      const args of [
        ["images"],
        ["get", "vsoch/x"],
        ["inspect", "vsoch/x"],
        ["add", file, "--name", "vsoch/x"],
        ["rm", "-q", "vsoch/x"],
      ]
    ) {
      assertFailure(
        await sregistry(args, { env }),
        1,
        new RegExp(`this command needs the database, which ${variable} disables`),
      );
    }
  }
  assert.equal(Deno.readTextFileSync(file), "hello\n");
  assert.deepEqual(fileTree(home.path), [`a.sif 6 ${md5("hello\n")}`], "nothing is created");

  const off = await sregistry(["images"], { env: { ...home.env, SREGISTRY_DISABLE: "false" } });
  assert.equal(off.code, 0, "SREGISTRY_DISABLE=false leaves the database on");
});

/** add, get and images, which never read the secrets file, work whatever state it is in. */
async function assertLocalCommandsWork(home: TempHome, env: Record<string, string>) {
  const added = await sregistry(["add", home.file("a.sif", "hello\n"), "--name", "vsoch/x"], {
    env,
  });
  assert.equal(added.code, 0, added.stderr);
  assert.equal((await sregistry(["get", "vsoch/x"], { env })).code, 0);
  assert.equal(records(await sregistry(["images", "--json"], { env })).length, 1);
}

Deno.test("a corrupt secrets file does not stop get, images or add; config warns", async () => {
  await using home = await tempHome();
  const secrets = home.file(".sregistry", '{"registry": {"SREGISTRY_REGISTRY_TOKEN": "sekrit", ');
  const env = home.env;
  await assertLocalCommandsWork(home, env);

  const shown = await sregistry(["config"], { env });
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stderr, /^sregistry: warning: secrets file .* is not valid JSON/);
  assert.doesNotMatch(shown.stderr, /sekrit/, "the file's content is not quoted");
  assert.equal(
    Deno.readTextFileSync(secrets),
    '{"registry": {"SREGISTRY_REGISTRY_TOKEN": "sekrit", ',
    "the file is left alone",
  );
});

Deno.test("config shows the registry's base as used (with /api) and never the token", async () => {
  await using home = await tempHome();
  home.file(
    ".sregistry",
    JSON.stringify({ registry: { base: "https://registry.example.org", token: "t0k3n-s3cret" } }),
  );
  const env = { ...home.env, SREGISTRY_REGISTRY_USERNAME: "dino" };
  const rows = await config(env);
  assert.deepEqual(rows.get("SREGISTRY_REGISTRY_BASE"), {
    name: "SREGISTRY_REGISTRY_BASE",
    value: "https://registry.example.org/api",
    origin: "secrets",
    source: "registry.base",
  });
  assert.equal(rows.get("SREGISTRY_REGISTRY_USERNAME")?.origin, "environment");
  assert.equal(rows.get("SREGISTRY_REGISTRY_TOKEN")?.value, "(set, not shown)");
  assert.equal(rows.get("SREGISTRY_HUB_BASE")?.value, "https://singularity-hub.org/api");
  const table = await sregistry(["config"], { env });
  assert.doesNotMatch(table.stdout + table.stderr, /t0k3n-s3cret/);
});

Deno.test("an unreadable secrets file does not stop get, images or add; backend says why", async () => {
  await using home = await tempHome();
  // A folder where the file should be: unreadable even for root, who reads any mode.
  Deno.mkdirSync(join(home.path, ".sregistry"));
  const env = home.env;
  await assertLocalCommandsWork(home, env);
  const shown = await sregistry(["config"], { env });
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(
    shown.stderr,
    /^sregistry: warning: secrets file .*\.sregistry is a folder, not a regular file/,
  );
  assertFailure(
    await sregistry(["backend", "ls"], { env }),
    1,
    /^sregistry: secrets file .*\.sregistry is a folder, not a regular file; fix or remove it$/,
  );
});

Deno.test("a FIFO or a device as the secrets file blocks nothing and breaks only backend", async (t) => {
  await using home = await tempHome();
  const fifo = join(home.path, "secrets.fifo");
  assert.ok(new Deno.Command("mkfifo", { args: [fifo] }).outputSync().success, "mkfifo");
  const big = home.file("big.json", `{"hub": {"x": "${"a".repeat(1024 * 1024)}"}}`);
  const cases: [string, RegExp][] = [
    [fifo, /is a FIFO, not a regular file/],
    ["/dev/zero", /is a character device, not a regular file/],
    [big, /is larger than 1 MiB, the most sregistry reads/],
  ];
  for (const [secrets, why] of cases) {
    await t.step(secrets, async () => {
      const env = { ...home.env, SREGISTRY_CLIENT_SECRETS: secrets };
      await assertLocalCommandsWork(home, env);
      await sregistry(["rm", "vsoch/x"], { env });
      const shown = await sregistry(["config"], { env });
      assert.equal(shown.code, 0, shown.stderr);
      assert.match(shown.stderr, why);
      for (const args of [["backend", "ls"], ["backend", "activate", "hub"]]) {
        assertFailure(await sregistry(args, { env }), 1, why);
      }
    });
  }
});

Deno.test("without HOME, local commands work from SREGISTRY_DATABASE and SREGISTRY_STORAGE", async () => {
  await using home = await tempHome();
  const env = {
    SREGISTRY_DATABASE: join(home.path, "db"),
    SREGISTRY_STORAGE: join(home.path, "images"),
  };
  await assertLocalCommandsWork(home, env);
  assertFailure(
    await sregistry(["backend", "ls"], { env }),
    1,
    /^sregistry: HOME is not set, so SREGISTRY_CLIENT_SECRETS has no default/,
  );
});
