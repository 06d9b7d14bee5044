/** `sregistry inspect <uri>`: the whole record as JSON on stdout, metadata included. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { sregistry } from "../support/cli.ts";
import { tempHome } from "../support/home.ts";
import { assertFailure, assertUnchanged, md5, snapshot } from "../support/state.ts";

Deno.test("inspect prints the record as JSON with its metadata and absolute image path", async () => {
  await using home = await tempHome();
  const metadata = { manifest: { version: 3 }, labels: ["a", "b"] };
  const added = await sregistry([
    "add",
    home.file("a.sif", "hello\n"),
    "--name",
    "vsoch/hello:v1",
    "--metadata",
    home.file("meta.json", JSON.stringify(metadata)),
  ], { env: home.env });
  assert.equal(added.code, 0, added.stderr);

  const inspected = await sregistry(["inspect", "vsoch/hello:v1"], { env: home.env });
  assert.equal(inspected.code, 0, inspected.stderr);
  const record = JSON.parse(inspected.stdout);
  assert.equal(
    inspected.stderr,
    `[warning] ${record.image} is not a SIF, Singularity 2.x (.simg, ext3 .img) or squashfs image\n`,
    "no banner; a warning that the file is no image",
  );
  assert.equal(record.inspection.format, "unknown");
  assert.equal(record.metrics.format, "unknown");
  assert.equal(record.uri, `vsoch/hello:v1@${md5("hello\n")}`);
  assert.equal(record.collection, "vsoch");
  assert.equal(record.name, "hello");
  assert.equal(record.tag, "v1");
  assert.equal(record.version, md5("hello\n"));
  assert.equal(record.image, join(home.storage, "vsoch", "hello", `v1@${md5("hello\n")}.sif`));
  assert.equal(record.md5, md5("hello\n"));
  assert.equal(record.size, 6);
  assert.deepEqual(record.metadata, metadata);
  assert.equal(typeof record.id, "number");
  assert.match(record.created_at, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);

  const same = await sregistry(["inspect", "--json", "vsoch/hello:v1"], { env: home.env });
  assert.equal(same.stdout, inspected.stdout, "--json is accepted and changes nothing");
});

Deno.test("inspect of a remote-only record shows its URL and no image", async () => {
  await using home = await tempHome();
  await sregistry(["record", "vsoch/remote", "--url", "https://example.org/r.sif"], {
    env: home.env,
  });
  const record = JSON.parse(
    (await sregistry(["inspect", "vsoch/remote"], { env: home.env })).stdout,
  );
  assert.equal(record.image, null);
  assert.equal(record.url, "https://example.org/r.sif");
});

Deno.test("inspect of a missing record exits 1 with one line and changes nothing", async () => {
  await using home = await tempHome();
  await sregistry(["add", home.file("a.sif", "hello\n"), "--name", "vsoch/hello"], {
    env: home.env,
  });
  const before = await snapshot(home);
  const result = await sregistry(["inspect", "vsoch/missing"], { env: home.env });
  assertFailure(result, 1, /no record of vsoch\/missing:latest in the database/);
  assert.equal(result.stdout, "");
  assertUnchanged(before, await snapshot(home));
});
