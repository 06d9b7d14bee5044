/**
 * `sregistry inspect <uri...>`: the whole record as JSON on stdout, metadata included; several
 * names or paths print an array, or apptainer's blocks under headings.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { sregistry } from "../support/cli.ts";
import { tempHome } from "../support/home.ts";
import { DataType, LAUNCH_SCRIPT, writeSif } from "../support/images.ts";
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

Deno.test("inspect of several names and paths prints a JSON array in their order", async () => {
  await using home = await tempHome();
  const env = home.env;
  await sregistry(["add", home.file("a.sif", "hello\n"), "--name", "vsoch/hello"], { env });
  await sregistry(["record", "vsoch/remote", "--url", "https://example.org/r.sif"], { env });
  home.file(
    "image.sif",
    writeSif({
      launchScript: LAUNCH_SCRIPT,
      objects: [{ type: DataType.deffile, data: "Bootstrap: docker\nFrom: alpine\n" }],
    }),
  );
  const result = await sregistry(["inspect", "vsoch/remote", "./image.sif", "vsoch/hello"], {
    env,
    cwd: home.path,
  });
  assert.equal(result.code, 0, result.stderr);
  const shown = JSON.parse(result.stdout);
  assert.equal(shown.length, 3);
  assert.equal(shown[0].uri, "vsoch/remote:latest");
  assert.equal(shown[0].inspection, null);
  assert.equal(shown[1].format, "sif", "a path shows the inspection alone");
  assert.equal(shown[1].attributes.deffile, "Bootstrap: docker\nFrom: alpine");
  assert.equal(shown[2].uri, `vsoch/hello:latest@${md5("hello\n")}`);
  assert.equal(shown[2].inspection.format, "unknown");
  assert.match(result.stderr, /^\[warning\] vsoch\/hello: .* is not a SIF/m, "warnings say whose");

  const before = await snapshot(home);
  const missing = await sregistry(["inspect", "vsoch/hello", "vsoch/nope", "./image.sif"], {
    env,
    cwd: home.path,
  });
  assertFailure(missing, 1, /no record of vsoch\/nope:latest in the database/);
  assert.equal(missing.stdout, "");
  assertUnchanged(before, await snapshot(home));
});

Deno.test("inspect with a selector and several targets prints a block under each one's heading, or a JSON array", async () => {
  await using home = await tempHome();
  const env = home.env;
  const sif = (from: string) =>
    writeSif({
      launchScript: LAUNCH_SCRIPT,
      objects: [{ type: DataType.deffile, data: `Bootstrap: docker\nFrom: ${from}\n` }],
    });
  const added = await sregistry(["add", home.file("one.sif", sif("alpine")), "--name", "lab/one"], {
    env,
  });
  assert.equal(added.code, 0, added.stderr);
  home.file("two.sif", sif("busybox"));
  const options = { env, cwd: home.path };
  const text = await sregistry(["inspect", "--deffile", "lab/one", "./two.sif"], options);
  assert.equal(text.code, 0, text.stderr);
  assert.equal(
    text.stdout,
    "==> lab/one <==\nBootstrap: docker\nFrom: alpine\n\n" +
      "==> ./two.sif <==\nBootstrap: docker\nFrom: busybox\n",
  );
  const single = await sregistry(["inspect", "--deffile", "./two.sif"], options);
  assert.equal(single.stdout, "Bootstrap: docker\nFrom: busybox\n", "one target: no heading");

  const json = await sregistry(["inspect", "--deffile", "--json", "lab/one", "./two.sif"], options);
  assert.equal(json.code, 0, json.stderr);
  assert.deepEqual(JSON.parse(json.stdout), [
    { data: { attributes: { deffile: "Bootstrap: docker\nFrom: alpine" } }, type: "container" },
    { data: { attributes: { deffile: "Bootstrap: docker\nFrom: busybox" } }, type: "container" },
  ]);
  assert.match(json.stdout, /^\[\n\t\{/, "apptainer's tab indentation");

  // A target with nothing to read stops the whole command before anything is printed.
  await sregistry(["record", "lab/remote", "--url", "https://example.org/r.sif"], { env });
  const remote = await sregistry(["inspect", "--deffile", "lab/one", "lab/remote"], options);
  assertFailure(remote, 1, /lab\/remote:latest is a remote-only record: no image to read/);
  assert.equal(remote.stdout, "");
});
