/**
 * How commands find the records users name: a version prefix of at least 8 hex characters, an
 * error listing the candidates when a prefix is ambiguous, and for a name without a record the
 * nearest recorded names in the error's hint. Shown through `get`, which prints what it finds,
 * and `rm`, `tag` and `inspect`, which find records the same way.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { sregistry } from "../support/cli.ts";
import { type TempHome, tempHome } from "../support/home.ts";
import { assertFailure, assertUnchanged, md5, snapshot } from "../support/state.ts";

async function run(home: TempHome, ...args: string[]) {
  return await sregistry(args, { env: home.env });
}

async function ok(home: TempHome, ...args: string[]): Promise<string> {
  const result = await run(home, ...args);
  assert.equal(result.code, 0, `${args.join(" ")}: ${result.stderr}`);
  return result.stdout;
}

const stored = (home: TempHome, path: string) => join(home.storage, ...path.split("/")) + "\n";

Deno.test("a version prefix of 8 or more hex characters finds the version, under any tag", async () => {
  await using home = await tempHome();
  await ok(home, "add", home.file("one.sif", "one\n"), "--name", "lab/tool:v1");
  await ok(home, "add", home.file("two.sif", "two\n"), "--name", "lab/tool:v2");
  const one = md5("one\n");
  const two = md5("two\n");
  assert.notEqual(one.slice(0, 8), two.slice(0, 8));
  assert.equal(
    await ok(home, "get", `lab/tool@${one.slice(0, 8)}`),
    stored(home, `lab/tool/v1@${one}.sif`),
  );
  assert.equal(
    await ok(home, "get", `lab/tool:v1@${two.slice(0, 12).toUpperCase()}`),
    stored(home, `lab/tool/v2@${two}.sif`),
    "any case; the tag does not hide the version",
  );
  assert.equal(await ok(home, "get", `lab/tool@${one}`), stored(home, `lab/tool/v1@${one}.sif`));
  // Seven characters are not enough: not found, and the hint names the name's versions.
  const short = await run(home, "get", `lab/tool:v1@${one.slice(0, 7)}`);
  assertFailure(
    short,
    1,
    new RegExp(
      `no record of lab/tool:v1@${one.slice(0, 7)} in the database; ` +
        `did you mean lab/tool:v1@${one}\\?`,
    ),
  );
  assert.equal(short.stdout, "");

  // Other commands find records the same way.
  await ok(home, "tag", `lab/tool@${two.slice(0, 8)}`, "lab/tool:stable");
  assert.equal(
    await ok(home, "get", "lab/tool:stable"),
    stored(home, `lab/tool/stable@${two}.sif`),
  );
  const inspected = JSON.parse(await ok(home, "inspect", `lab/tool@${one.slice(0, 10)}`));
  assert.equal(inspected.uri, `lab/tool:v1@${one}`);
  await ok(home, "rm", `lab/tool:v1@${one.slice(0, 8)}`);
  assert.equal((await run(home, "get", "lab/tool:v1")).code, 1);
});

Deno.test("an ambiguous version prefix is an error naming the candidates; the name's tag decides first", async () => {
  await using home = await tempHome();
  const versions = { v1: "abcdef01aaaa", v2: "abcdef01bbbb" };
  for (const [tag, version] of Object.entries(versions)) {
    await ok(
      home,
      "add",
      home.file(`${tag}.sif`, `${tag}\n`),
      "--name",
      `lab/tool:${tag}@${version}`,
    );
  }
  // The same version under a second tag is one version, not two.
  await ok(home, "tag", "lab/tool:v2", "lab/tool:stable");
  const before = await snapshot(home);
  const ambiguous = await run(home, "get", "lab/tool@abcdef01");
  assertFailure(
    ambiguous,
    2,
    /the version prefix abcdef01 of lab\/tool:latest is ambiguous: lab\/tool:stable@abcdef01bbbb, lab\/tool:v2@abcdef01bbbb, lab\/tool:v1@abcdef01aaaa; give more characters of the version/,
  );
  assert.equal(ambiguous.stdout, "");
  assertFailure(await run(home, "rmi", "lab/tool@abcdef01"), 2, /is ambiguous/);
  assertUnchanged(before, await snapshot(home), "an ambiguous rmi");

  assert.equal(
    await ok(home, "get", "lab/tool:v1@abcdef01"),
    stored(home, "lab/tool/v1@abcdef01aaaa.sif"),
    "the record of the name's tag",
  );
  assert.equal(
    await ok(home, "get", "lab/tool@abcdef01b"),
    stored(home, "lab/tool/stable@abcdef01bbbb.sif"),
    "one version: its newest record",
  );
  assert.equal(
    await ok(home, "get", "lab/tool:v2@abcdef01bb"),
    stored(home, "lab/tool/v2@abcdef01bbbb.sif"),
  );
});

Deno.test("an unknown name suggests the nearest recorded names in the error's hint", async () => {
  await using home = await tempHome();
  await ok(home, "add", home.file("h.sif", "hello\n"), "--name", "vsoch/hello-world");
  await ok(home, "add", home.file("h2.sif", "hello 2\n"), "--name", "vsoch/hello-world:v2");
  await ok(home, "record", "vsoch/hello-earth", "--url", "https://example.org/e.sif");
  await ok(home, "record", "lab/tool:1.4", "--url", "https://example.org/t.sif");
  const before = await snapshot(home);
  for (
    const [name, hint] of [
      // Nearest first: the same tag, then another.
      ["vsoch/helo-world", "did you mean vsoch/hello-world:latest or vsoch/hello-world:v2\\?"],
      ["vsoch/hello-world:v3", "did you mean vsoch/hello-world:latest or vsoch/hello-world:v2\\?"],
      ["hello-world", "did you mean vsoch/hello-world:latest or vsoch/hello-world:v2\\?"],
      ["vsoch/hello-eart", "did you mean vsoch/hello-earth:latest\\?"],
      ["labs/tool:1.4", "did you mean lab/tool:1.4\\?"],
      ["completely/different", "'sregistry images' lists what is recorded"],
    ]
  ) {
    for (const command of ["get", "rmi", "inspect"]) {
      const result = await run(home, command, name);
      assertFailure(result, 1, new RegExp(`no record of .* in the database; ${hint}$`));
      assert.equal(result.stdout, "", `${command} ${name}`);
    }
  }
  assertUnchanged(before, await snapshot(home));
});
