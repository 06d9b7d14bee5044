/**
 * What a new user ran into: `record` over a local image, `pull --name` onto a folder, banners
 * before JSON errors, SREGISTRY_TIMEOUT=0, `@version` without a tag, control bytes echoed by an
 * unknown command, and `--url` taking anything.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { sregistry } from "../support/cli.ts";
import { startFakeHub } from "../support/fake_hub.ts";
import { tempHome } from "../support/home.ts";
import { assertFailure, assertUnchanged, md5, records, snapshot } from "../support/state.ts";
import { hubEnv } from "../support/pulls.ts";

const HELLO = "hello\n";
const HELLO_MD5 = md5(HELLO);

Deno.test("record over a local image keeps its file and version, and says so", async () => {
  await using home = await tempHome();
  const env = home.env;
  await sregistry(["add", home.file("a.sif", HELLO), "--name", "vsoch/x"], { env });
  const path = (await sregistry(["get", "vsoch/x"], { env })).stdout;
  const recorded = await sregistry(["record", "vsoch/x", "--url", "https://example.org/x.sif"], {
    env,
  });
  assert.equal(recorded.code, 0, recorded.stderr);
  assert.match(
    recorded.stderr,
    new RegExp(
      `\\[container\\]\\[update\\] vsoch/x:latest@${HELLO_MD5} \\(a local image: its file and ` +
        "version are kept\\)",
    ),
  );
  const [record] = records(await sregistry(["images", "--json"], { env }));
  assert.equal(record.version, HELLO_MD5);
  assert.equal(record.md5, HELLO_MD5);
  assert.equal(record.url, "https://example.org/x.sif");
  assert.equal((await sregistry(["get", "vsoch/x"], { env })).stdout, path);
  assert.equal(Deno.readTextFileSync(path.trim()), HELLO);
});

Deno.test("pull --name onto an existing folder fails before anything is asked or downloaded", async () => {
  await using hub = await startFakeHub();
  await using home = await tempHome();
  hub.addImage("vsoch", "hello", "latest", new TextEncoder().encode(HELLO));
  const folder = join(home.path, "images");
  Deno.mkdirSync(folder);
  const env = hubEnv(home, hub);
  for (const extra of [[], ["--force"]]) {
    const result = await sregistry(["pull", "hub://vsoch/hello", "--name", folder, ...extra], {
      env,
    });
    assertFailure(result, 2, new RegExp(`${folder} is a folder; give --name the path of the file`));
  }
  assert.deepEqual(hub.requests, [], "nothing was asked");
  assert.deepEqual([...Deno.readDirSync(folder)], []);
});

Deno.test("rm --json and rmi --json print only the JSON error on stderr, no banner", async () => {
  await using home = await tempHome();
  for (const verb of ["rm", "rmi"]) {
    const result = await sregistry([verb, "--json", "vsoch/missing"], { env: home.env });
    assert.equal(result.code, 1);
    assert.equal(result.stdout, "");
    const lines = result.stderr.split("\n").filter(Boolean);
    assert.equal(lines.length, 1, result.stderr);
    assert.equal(JSON.parse(lines[0]).error.code, "not_found");
  }
});

Deno.test("SREGISTRY_TIMEOUT of 0 or of nonsense is refused; a huge one is clamped, and said so", async () => {
  await using hub = await startFakeHub();
  await using home = await tempHome();
  hub.addImage("vsoch", "hello", "latest", new TextEncoder().encode(HELLO));
  for (const value of ["0", "-1", "abc", "Infinity"]) {
    assertFailure(
      await sregistry(["pull", "hub://vsoch/hello"], {
        env: hubEnv(home, hub, { SREGISTRY_TIMEOUT: value }),
      }),
      2,
      new RegExp(`SREGISTRY_TIMEOUT must be a number of seconds above 0, not '${value}'`),
    );
  }
  for (const value of ["-1", "1.5", "1000000"]) {
    assertFailure(
      await sregistry(["search", "hub://vsoch"], {
        env: hubEnv(home, hub, { SREGISTRY_RETRIES: value }),
      }),
      2,
      /SREGISTRY_RETRIES must be a whole number from 0 to 100/,
    );
  }
  assert.deepEqual(hub.requests, [], "nothing was asked");
  const huge = await sregistry(["pull", "hub://vsoch/hello"], {
    env: hubEnv(home, hub, { SREGISTRY_TIMEOUT: "1e20" }),
  });
  assert.equal(huge.code, 0, huge.stderr);
  assert.match(huge.stderr, /SREGISTRY_TIMEOUT=1e20 is longer than the longest wait; using/);
});

Deno.test("a name with @version is found without its tag, and whatever the tag", async () => {
  await using home = await tempHome();
  const env = home.env;
  await sregistry(["add", home.file("a.sif", HELLO), "--name", "vsoch/x:v1"], { env });
  const path = join(home.storage, "vsoch", "x", `v1@${HELLO_MD5}.sif`);
  for (const name of [`vsoch/x@${HELLO_MD5}`, `vsoch/x:other@${HELLO_MD5}`]) {
    const got = await sregistry(["get", name], { env });
    assert.equal(got.code, 0, got.stderr);
    assert.equal(got.stdout, `${path}\n`);
    assert.equal(JSON.parse((await sregistry(["inspect", name], { env })).stdout).tag, "v1");
  }
  assertFailure(await sregistry(["get", "vsoch/x"], { env }), 1, /no record of vsoch\/x:latest/);
  const removed = await sregistry(["rmi", `vsoch/x@${HELLO_MD5}`], { env });
  assert.equal(removed.code, 0, removed.stderr);
  assert.deepEqual(records(await sregistry(["images", "--json"], { env })), []);
});

Deno.test("an unknown command or option never echoes raw control or invisible characters", async () => {
  await using home = await tempHome();
  for (const word of ["\x1b[2J\x1b[31mboom", "x\u202ey", "a\u0007b", "--\x1b]0;title\x07"]) {
    for (const json of [[], ["--json"]]) {
      const result = await sregistry([word, ...json], { env: home.env });
      assert.equal(result.code, 2);
      // deno-lint-ignore no-control-regex -- the raw bytes are what must not come back
      assert.doesNotMatch(result.stderr, /[\x00-\x08\x0b-\x1f\x7f\u202e]/, JSON.stringify(word));
      assert.match(result.stderr, /unknown (command|option) '.*\\u00(1b|07)|\\u202e/);
    }
  }
});

Deno.test("--url takes only an http(s) URL with no whitespace or control character", async () => {
  await using home = await tempHome();
  const image = home.file("a.sif", HELLO);
  await sregistry(["images"], { env: home.env });
  const before = await snapshot(home);
  const cases: [string, RegExp][] = [
    ["ftp://example.org/x.sif", /is a ftp: URL, not http or https/],
    ["example.org/x.sif", /is not a URL/],
    ["https://example.org/x.sif\nforged", /holds whitespace or a control character/],
    [" https://example.org/x.sif", /holds whitespace/],
    ["https://example.org/a b.sif", /holds whitespace/],
    ["https://example.org/\u200bx.sif", /holds whitespace or a control character/],
    ["javascript:alert(1)", /is a javascript: URL/],
  ];
  for (const [url, why] of cases) {
    for (
      const args of [
        ["record", "lab/x", "--url", url],
        ["add", "--copy", image, "--name", "lab/x", "--url", url],
      ]
    ) {
      assertFailure(await sregistry(args, { env: home.env }), 2, why);
    }
  }
  assertUnchanged(before, await snapshot(home));

  const kept = await sregistry(
    ["record", "lab/x", "--url", "https://alice:pw@example.org/x.sif?token=t0k3n&v=2"],
    { env: home.env },
  );
  assert.equal(kept.code, 0, kept.stderr);
  const [record] = records(await sregistry(["images", "--json"], { env: home.env }));
  assert.equal(record.url, "https://example.org/x.sif?token=REDACTED&v=2", "no credentials kept");
});
