/**
 * `sregistry rename <uri> <new uri>`: re-files the record and its image under
 * storage/<new collection>/<name>/<tag>@<version>.sif, keeping the version, and never onto an
 * existing record.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { sregistry } from "../support/cli.ts";
import { type TempHome, tempHome } from "../support/home.ts";
import {
  assertFailure,
  assertUnchanged,
  exists,
  md5,
  records,
  snapshot,
} from "../support/state.ts";

async function add(home: TempHome, content: string, name: string): Promise<void> {
  const added = await sregistry(
    ["add", home.file(`${md5(content)}.sif`, content), "--name", name],
    {
      env: home.env,
    },
  );
  assert.equal(added.code, 0, added.stderr);
}

Deno.test("rename re-files the image under the new name and keeps its version", async () => {
  await using home = await tempHome();
  await add(home, "hello\n", "vsoch/hello:dev");
  const version = md5("hello\n");
  const old = join(home.storage, "vsoch", "hello", `dev@${version}.sif`);
  const renamed = await sregistry(["rename", "vsoch/hello:dev", "lab/greeting:v1"], {
    env: home.env,
  });
  assert.equal(renamed.code, 0, renamed.stderr);
  const target = join(home.storage, "lab", "greeting", `v1@${version}.sif`);
  assert.equal(renamed.stdout, `${target}\n`);
  assert.match(renamed.stderr, /^\[client\|hub\] \[database\|sqlite:\/\/\/.*\]\n/);
  assert.match(
    renamed.stderr,
    new RegExp(`\\[rename\\] vsoch/hello:dev => lab/greeting:v1@${version}\\n$`),
  );

  assert.equal(Deno.readTextFileSync(target), "hello\n");
  assert.equal(exists(old), false);
  assert.equal(exists(join(home.storage, "vsoch")), false, "emptied folders are pruned");
  assert.equal(
    (await sregistry(["get", "lab/greeting:v1"], { env: home.env })).stdout,
    `${target}\n`,
  );
  assert.equal((await sregistry(["get", "vsoch/hello:dev"], { env: home.env })).code, 1);
  const [record] = records(await sregistry(["images", "--json"], { env: home.env }));
  assert.deepEqual(
    [record.collection, record.name, record.tag, record.version, record.uri, record.md5],
    ["lab", "greeting", "v1", version, `lab/greeting:v1@${version}`, version],
  );
});

Deno.test("rename with a new @version files it under that version", async () => {
  await using home = await tempHome();
  await add(home, "hello\n", "vsoch/hello");
  const renamed = await sregistry(["rename", "-q", "vsoch/hello", "vsoch/hello:stable@v2"], {
    env: home.env,
  });
  assert.equal(renamed.code, 0, renamed.stderr);
  assert.equal(renamed.stdout, join(home.storage, "vsoch", "hello", "stable@v2.sif") + "\n");
  assert.equal(renamed.stderr, "[rename] vsoch/hello => vsoch/hello:stable@v2\n");
});

Deno.test("rename refuses an existing record, exit 1, nothing changed", async () => {
  await using home = await tempHome();
  await add(home, "one\n", "vsoch/a");
  await add(home, "two\n", "vsoch/b");
  // Same version under the target name: copy a's file to b's name.
  const aPath = (await sregistry(["get", "vsoch/a"], { env: home.env })).stdout.trim();
  await sregistry(["add", "--copy", aPath, "--name", "vsoch/b"], { env: home.env });
  const before = await snapshot(home);
  const refused = await sregistry(["rename", "vsoch/a", "vsoch/b"], { env: home.env });
  assertFailure(
    refused,
    1,
    new RegExp(`a record of vsoch/b:latest@${md5("one\n")} already exists`),
  );
  assertUnchanged(before, await snapshot(home));
});

Deno.test("rename of a missing record, or to an invalid name, changes nothing", async () => {
  await using home = await tempHome();
  await add(home, "one\n", "vsoch/a");
  const before = await snapshot(home);
  assertFailure(
    await sregistry(["rename", "vsoch/missing", "vsoch/b"], { env: home.env }),
    1,
    /no record of vsoch\/missing:latest/,
  );
  assertFailure(
    await sregistry(["rename", "vsoch/a", "../../etc/x"], { env: home.env }),
    2,
    /invalid image name "\.\.\/\.\.\/etc\/x": '\.\.' is not allowed/,
  );
  assertUnchanged(before, await snapshot(home));
});

Deno.test("rename of a remote-only record changes only the record", async () => {
  await using home = await tempHome();
  await sregistry(["record", "vsoch/remote:v1", "--url", "https://example.org/r.sif"], {
    env: home.env,
  });
  const renamed = await sregistry(["rename", "-q", "vsoch/remote:v1", "lab/remote:v2"], {
    env: home.env,
  });
  assert.equal(renamed.code, 0, renamed.stderr);
  assert.equal(renamed.stdout, "https://example.org/r.sif\n");
  const [record] = records(await sregistry(["images", "--json"], { env: home.env }));
  assert.equal(record.uri, "lab/remote:v2");
  assert.equal(record.image, null);
});
