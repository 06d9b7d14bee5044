/**
 * What `add` and every `pull` record about an image (format, architecture, SIF id, creation time,
 * labels, in the record's `metrics`) without touching the metadata the user or the remote gave,
 * and `images --arch` / `--label`, which filter on it.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { sregistry } from "../support/cli.ts";
import { startFakeHub } from "../support/fake_hub.ts";
import { type TempHome, tempHome } from "../support/home.ts";
import {
  DataType,
  hasMksquashfs,
  makeSimg,
  makeSquashfs,
  singularityTree,
  writeSif,
} from "../support/images.ts";
import { hubEnv } from "../support/pulls.ts";
import { lines, records } from "../support/state.ts";

function describedSif(arch: string, labels: Record<string, string>): Uint8Array {
  return writeSif({
    arch,
    id: new Uint8Array(16).fill(0x42),
    time: 1650000000n,
    objects: [{
      type: DataType.genericJson,
      name: "inspect-metadata.json",
      data: JSON.stringify({ data: { attributes: { labels } }, type: "container" }),
    }],
  });
}

async function add(home: TempHome, args: string[]): Promise<string> {
  const result = await sregistry(["add", ...args], { env: home.env });
  assert.equal(result.code, 0, result.stderr);
  return result.stdout;
}

Deno.test("add records format, arch, SIF id, creation time and labels; the user's metadata stays as given", async () => {
  await using home = await tempHome();
  const sif = home.file("tool.sif", describedSif("02", { "org.label-schema.vcs-ref": "abc" }));
  const user = ["not", "an", "object"];
  const json = await add(home, [
    "--json",
    sif,
    "--name",
    "lab/tool:v1",
    "--metadata",
    home.file("meta.json", JSON.stringify(user)),
  ]);
  const record = JSON.parse(json);
  assert.deepEqual(record.metadata, user, "any JSON value, untouched");
  assert.deepEqual(record.metrics, {
    format: "sif",
    arch: "amd64",
    sif_id: "42424242-4242-4242-4242-424242424242",
    created: "2022-04-15T05:20:00Z",
    labels: { "org.label-schema.vcs-ref": "abc" },
  });
  const damaged = describedSif("02", {});
  damaged[43] = 0x39;
  const added = await sregistry(["add", home.file("bad.sif", damaged), "--name", "lab/bad"], {
    env: home.env,
  });
  assert.equal(added.code, 0, "a damaged image is still added");
  assert.match(added.stderr, /^\[warning\] .*bad\.sif has SIF version '09'/m);
  const [, bad] = records(await sregistry(["images", "--json"], { env: home.env }));
  assert.equal((bad.metrics as { format: string }).format, "sif");
});

Deno.test({
  name: "a hub pull records what the .simg holds and keeps the hub's manifest as its metadata",
  ignore: !hasMksquashfs,
  fn: async () => {
    await using hub = await startFakeHub();
    await using home = await tempHome();
    const simg = makeSimg(await makeSquashfs(singularityTree()));
    const image = hub.addImage("vsoch", "hello-world", "latest", simg);
    const env = hubEnv(home, hub);
    const pulled = await sregistry(["pull", "--json", "hub://vsoch/hello-world"], { env });
    assert.equal(pulled.code, 0, pulled.stderr);
    assert.doesNotMatch(pulled.stderr, /\[warning\]/);
    const record = JSON.parse(pulled.stdout);
    assert.equal(record.metadata.image, image.downloadUrl, "the manifest's own `image` field");
    assert.equal(record.metadata.name, "vsoch/hello-world");
    assert.deepEqual(record.metrics, {
      format: "simg",
      arch: "amd64",
      sif_id: null,
      created: "2023-11-14T22:13:20Z",
      labels: { maintainer: "test", "org.label-schema.build-arch": "amd64", version: "1.0" },
    });

    const text = new TextEncoder().encode("not an image\n");
    const other = hub.addImage("vsoch", "text", "latest", text);
    const url = await sregistry(["pull", other.downloadUrl, "--name", "lab/text"], { env });
    assert.equal(url.code, 0, url.stderr);
    assert.match(
      url.stderr,
      /^\[warning\] lab\/text:latest is not a SIF, Singularity 2\.x/m,
      "a URL pull names the image, not its temporary file",
    );
    const listed = records(await sregistry(["images", "--json"], { env }));
    assert.deepEqual(listed.map((r) => (r.metrics as { format: string }).format), [
      "simg",
      "unknown",
    ]);
  },
});

Deno.test("images --arch and --label keep the images whose metrics match", async () => {
  await using home = await tempHome();
  await add(home, [
    home.file("a.sif", describedSif("02", { team: "a", tier: "gpu" })),
    "--name",
    "lab/a",
  ]);
  await add(home, [
    home.file("b.sif", describedSif("04", { team: "b", "k": "v=w" })),
    "--name",
    "lab/b",
  ]);
  await add(home, [home.file("c.txt", "text\n"), "--name", "lab/c"]);
  await sregistry(["record", "lab/remote", "--url", "https://example.org/r.sif"], {
    env: home.env,
  });
  const uris = async (...args: string[]) => {
    const table = await sregistry(["images", ...args], { env: home.env });
    assert.equal(table.code, 0, table.stderr);
    const json = records(await sregistry(["images", "--json", ...args], { env: home.env }));
    const names = json.map((record) => record.name);
    assert.deepEqual(
      lines(table.stdout).slice(1, -1).map((row) => row.split("\t").at(-1)!.split(/[:@]/)[0]),
      json.map((record) => `lab/${record.name}`),
      "the table and --json agree",
    );
    return names;
  };
  assert.deepEqual(await uris("--arch", "amd64"), ["a"]);
  assert.deepEqual(await uris("--arch", "x86_64"), ["a"], "uname -m's spelling");
  assert.deepEqual(await uris("--arch", "aarch64"), ["b"]);
  assert.deepEqual(await uris("--label", "team=b"), ["b"]);
  assert.deepEqual(await uris("--label", "team"), ["a", "b"]);
  assert.deepEqual(await uris("--label", "team", "--label", "tier=gpu"), ["a"]);
  assert.deepEqual(await uris("--label", "k=v=w"), ["b"], "the first = splits");
  assert.deepEqual(await uris("--arch", "amd64", "lab/a"), ["a"], "with a query");
  assert.deepEqual(await uris("--arch", "amd64", "lab/b"), []);
  const none = await sregistry(["images", "--label", "team=c"], { env: home.env });
  assert.equal(none.stdout, "");
  assert.equal(none.stderr, "No matching containers.\n");
  const bad = await sregistry(["images", "--label", "=x"], { env: home.env });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--label '=x' has no key/);
});

Deno.test("a tag, a rename and a move keep what was read from the image", async () => {
  await using home = await tempHome();
  const env = home.env;
  await add(home, [home.file("a.sif", describedSif("02", { team: "a" })), "--name", "lab/tool:v1"]);
  for (
    const args of [
      ["tag", "lab/tool:v1", "lab/tool:stable"],
      ["rename", "lab/tool:v1", "lab/tool:v2"],
      ["mv", "lab/tool:v2", join(home.path, "moved.sif")],
    ]
  ) {
    const result = await sregistry(args, { env });
    assert.equal(result.code, 0, `${args.join(" ")}: ${result.stderr}`);
  }
  const listed = records(await sregistry(["images", "--json", "--arch", "amd64"], { env }));
  assert.deepEqual(listed.map((record) => record.tag).sort(), ["stable", "v2"]);
  for (const record of listed) {
    assert.deepEqual((record.metrics as { labels: unknown }).labels, { team: "a" }, record.uri);
  }
});
