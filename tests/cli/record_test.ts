/**
 * `sregistry record <uri> --url <url>`: a remote-only record with no file; `get` prints its URL,
 * `images` shows it as remote, and recording over a local image keeps the file.
 */
import assert from "node:assert/strict";
import { sregistry } from "../support/cli.ts";
import { tempHome } from "../support/home.ts";
import { fileTree, lines, md5, records } from "../support/state.ts";

Deno.test("record makes a remote-only entry: get prints the URL, images says remote", async () => {
  await using home = await tempHome();
  const env = home.env;
  const recorded = await sregistry(
    ["record", "vsoch/hello:v1@abc123", "--url", "https://example.org/hello.sif"],
    { env },
  );
  assert.equal(recorded.code, 0, recorded.stderr);
  assert.equal(recorded.stdout, "");
  assert.match(recorded.stderr, /^\[client\|hub\] \[database\|sqlite:\/\/\/.*sregistry\.db\]\n/);
  assert.match(recorded.stderr, /\[container\]\[new\] vsoch\/hello:v1@abc123\n$/);

  const got = await sregistry(["get", "vsoch/hello:v1"], { env });
  assert.equal(got.stdout, "https://example.org/hello.sif\n");

  const table = await sregistry(["images"], { env });
  assert.match(lines(table.stdout)[1], /\tremote {4}\t {8}- {3}\[hub\]\tvsoch\/hello:v1@abc123$/);
  const [record] = records(await sregistry(["images", "--json"], { env }));
  assert.equal(record.image, null);
  assert.equal(record.version, "abc123");
  assert.equal(record.location, "remote");
  assert.deepEqual(
    fileTree(home.storage).filter((entry) => !entry.endsWith("/")),
    [],
    "no file is written",
  );
});

Deno.test("record --metadata keeps the JSON; recording again updates the URL", async () => {
  await using home = await tempHome();
  const env = home.env;
  const metadata = { source: "lab", size: 1234 };
  const first = await sregistry([
    "record",
    "--json",
    "lab/tool",
    "--url",
    "https://example.org/a.sif",
    "--metadata",
    home.file("m.json", JSON.stringify(metadata)),
  ], { env });
  assert.equal(first.code, 0, first.stderr);
  assert.deepEqual(JSON.parse(first.stdout).metadata, metadata);
  assert.equal(first.stderr.includes("[client|"), false, "no banner with --json");

  const again = await sregistry(["record", "lab/tool", "--url", "https://example.org/b.sif"], {
    env,
  });
  assert.match(again.stderr, /\[container\]\[update\] lab\/tool:latest\n$/);
  const all = records(await sregistry(["images", "--json"], { env }));
  assert.equal(all.length, 1);
  assert.equal(all[0].url, "https://example.org/b.sif");
  assert.deepEqual(all[0].metadata, metadata, "metadata is kept when not given again");
});

Deno.test("record over a local image keeps its file and refreshes the URL", async () => {
  await using home = await tempHome();
  const env = home.env;
  await sregistry(["add", home.file("a.sif", "hello\n"), "--name", "vsoch/x"], { env });
  const version = md5("hello\n");
  const path = (await sregistry(["get", "vsoch/x"], { env })).stdout;
  const recorded = await sregistry(
    ["record", `vsoch/x@${version}`, "--url", "https://example.org/x.sif"],
    { env },
  );
  assert.equal(recorded.code, 0, recorded.stderr);
  assert.equal((await sregistry(["get", "vsoch/x"], { env })).stdout, path);
  const [record] = records(await sregistry(["images", "--json"], { env }));
  assert.equal(record.url, "https://example.org/x.sif");
  assert.equal(record.md5, version);
  assert.equal(Deno.readTextFileSync(path.trim()), "hello\n");
});
