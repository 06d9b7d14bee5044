/** Sanity checks of the fake Singularity Registry Server, so tests built on it can trust it. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { authorizationHeader, type RegistryAction } from "../../../src/remotes/registry_auth.ts";
import { uploadMultipart } from "../../../src/transfer/upload.ts";
import { type FakeRegistryOptions, startFakeRegistry } from "../../support/fake_registry.ts";
import { md5 } from "../../support/state.ts";

// The server's clock is pinned to the hour of the reference vectors (§6.2).
const HOUR = "20230620T17Z";
const clock = () => new Date("2023-06-20T17:42:00Z");

function start(options: FakeRegistryOptions = {}) {
  return startFakeRegistry({ clock, ...options });
}

function sign(
  action: RegistryAction,
  collection: string,
  name: string,
  tag: string,
  overrides: { token?: string; timestamp?: string } = {},
): string {
  return authorizationHeader({
    action,
    collection,
    name,
    tag,
    username: "dino",
    token: overrides.token ?? "sekrit",
    timestamp: overrides.timestamp ?? HOUR,
  });
}

const TACOS = new TextEncoder().encode("not really a SIF image\n");

Deno.test("fake registry serves a public manifest and its download", async () => {
  await using registry = await start();
  const stored = await registry.addImage("vsoch", "tacos", "latest", TACOS);
  const response = await fetch(`${registry.base}/container/vsoch/tacos:latest`);
  assert.equal(response.status, 200);
  const manifest = await response.json();
  assert.deepEqual(manifest, {
    id: stored.id,
    name: "tacos",
    image: manifest.image,
    tag: "latest",
    add_date: "2023-06-20T17:42:00.000Z",
    metrics: {},
    version: md5(TACOS),
    frozen: false,
    metadata: { size_mb: 0 },
    collection: "vsoch",
  });
  assert.match(manifest.image, new RegExp(`^${registry.url}/containers/${stored.id}/download/`));

  const head = await fetch(manifest.image, { method: "HEAD" });
  await head.body?.cancel();
  assert.equal(head.status, 200);
  assert.equal(head.headers.get("content-length"), String(TACOS.byteLength));
  const download = await fetch(manifest.image);
  assert.equal(
    download.headers.get("content-disposition"),
    'attachment; filename="vsoch-tacos:latest.sif"',
  );
  assert.deepEqual(new Uint8Array(await download.arrayBuffer()), TACOS);

  const byVersion = await fetch(`${registry.base}/container/vsoch/tacos:latest@${md5(TACOS)}`);
  assert.equal((await byVersion.json()).id, stored.id);
  const missing = await fetch(`${registry.base}/container/vsoch/tacos:other`);
  await missing.body?.cancel();
  assert.equal(missing.status, 404);
  assert.deepEqual(registry.unexpected, []);
});

Deno.test("fake registry checks pull signatures on private images like the real server", async () => {
  await using registry = await start();
  await registry.addImage("private", "tacos", "v1", TACOS, { private: true });
  const url = `${registry.base}/container/private/tacos:v1`;
  const get = (authorization?: string) =>
    fetch(url, authorization ? { headers: { authorization } } : {});

  const anonymous = await get();
  assert.equal(anonymous.status, 403);
  assert.deepEqual(await anonymous.json(), { detail: "Authentication Required" });

  // The reference's pull vector, verbatim: the fake checks HMACs independently of src/.
  const vector =
    "SREGISTRY-HMAC-SHA256 Credential=pull/ZGlubw==/20230620T17Z,Signature=75b4e9820d02b3f90f548c2d3048a8e6f1d2de6c34a2fb5702524f68f1ce1738";
  const good = await get(vector);
  assert.equal(good.status, 200);
  assert.equal((await good.json()).name, "tacos");

  for (
    const bad of [
      sign("pull", "private", "tacos", "v1", { token: "wrong" }),
      sign("pull", "private", "tacos", "v1", { timestamp: "20230620T16Z" }),
      sign("push", "private", "tacos", "v1"),
      sign("pull", "private", "tacos", "v2"),
      vector.replace("ZGlubw==", "cmV4"), // user "rex" does not exist
    ]
  ) {
    const response = await get(bad);
    assert.equal(response.status, 200, bad);
    assert.equal(await response.text(), "400", bad);
  }
});

Deno.test("fake registry imitates the 200-with-429 quirk, ranges and download faults", async () => {
  await using registry = await start();
  await registry.addImage("vsoch", "tacos", "latest", TACOS);
  const manifestUrl = `${registry.base}/container/vsoch/tacos:latest`;
  const manifest = await (await fetch(manifestUrl)).json();
  registry.setMode("quirk-429");
  const limited = await fetch(manifestUrl);
  assert.equal(limited.status, 200);
  assert.equal(await limited.text(), "429");
  registry.setMode("head-405");
  const head = await fetch(manifest.image, { method: "HEAD" });
  await head.body?.cancel();
  assert.equal(head.status, 405);
  registry.setMode(null);
  const ranged = await fetch(manifest.image, { headers: { range: "bytes=4-" } });
  assert.equal(ranged.status, 206);
  assert.equal(
    ranged.headers.get("content-range"),
    `bytes 4-${TACOS.byteLength - 1}/${TACOS.byteLength}`,
  );
  assert.deepEqual(new Uint8Array(await ranged.arrayBuffer()), TACOS.subarray(4));
  registry.setMode("no-content-length");
  const unsized = await fetch(manifest.image);
  assert.equal(unsized.headers.get("content-length"), null);
  assert.deepEqual(new Uint8Array(await unsized.arrayBuffer()), TACOS);
  registry.setMode("truncate");
  const truncated = await fetch(manifest.image);
  assert.equal(truncated.headers.get("content-length"), String(TACOS.byteLength));
  await assert.rejects(truncated.arrayBuffer());
});

Deno.test("fake registry accepts a signed push and stores the upload under its MD5", async () => {
  await using registry = await start();
  const dir = await Deno.makeTempDir({ prefix: "sregistry-fake-test-" });
  try {
    const path = join(dir, "tacos.sif");
    // Over a MiB, with CRLFs and dashes that look like the start of a boundary.
    const content = new Uint8Array(1024 * 1024 + 65536 * 5 + 3).map((_, i) =>
      (i * 31 + (i >> 8)) & 255
    );
    for (let at = 1000; at < content.length - 8; at += 99_991) {
      content.set(new TextEncoder().encode("\r\n--\r\n\r\n"), at);
    }
    await Deno.writeFile(path, content);

    const collection = await fetch(`${registry.base}/upload/chunked_upload`, {
      method: "POST",
      headers: { authorization: sign("push", "vsoch", "tacos", "latest") },
      body: JSON.stringify({ collection: "vsoch", name: "tacos", tag: "latest" }),
    });
    assert.equal(collection.status, 200);
    const { cid } = await collection.json();
    assert.equal(typeof cid, "number");

    const event = sign("upload", "vsoch", "tacos", "latest");
    const response = await uploadMultipart(`${registry.url}/upload`, {
      fields: [["SREGISTRY_EVENT", event], ["name", "tacos"], ["collection", String(cid)], [
        "tag",
        "latest",
      ]],
      file: { field: "file1", path, filename: "tacos:latest.sif", contentType: "text/plain" },
      headers: { Authorization: event },
      userAgent: "sregistry-test/1",
    });
    assert.equal(response.status, 200);
    assert.deepEqual(JSON.parse(response.body), { message: "Upload Complete" });
    const [image] = registry.images();
    assert.equal(image.md5, md5(content));
    assert.equal(image.size, content.byteLength);
    assert.deepEqual(await Deno.readFile(image.path), content);
    const manifest = await (await fetch(`${registry.base}/container/vsoch/tacos:latest`)).json();
    assert.equal(manifest.version, md5(content));

    // The upload signature is checked in both the header and the SREGISTRY_EVENT field.
    const forged = await uploadMultipart(`${registry.url}/upload`, {
      fields: [
        ["SREGISTRY_EVENT", sign("upload", "vsoch", "tacos", "latest", { token: "x" })],
        [
          "name",
          "tacos",
        ],
        ["collection", String(cid)],
        ["tag", "latest"],
      ],
      file: { field: "file1", path, filename: "tacos:latest.sif", contentType: "text/plain" },
      headers: { Authorization: event },
      userAgent: "sregistry-test/1",
    });
    assert.equal(forged.status, 403);
    assert.deepEqual(JSON.parse(forged.body), { detail: "Unauthorized" });
    assert.equal(registry.images().length, 1);
    assert.deepEqual(registry.unexpected, []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fake registry refuses bad push signatures and disabled pushes with the server's details", async () => {
  await using registry = await start();
  const post = (authorization: string) =>
    fetch(`${registry.base}/upload/chunked_upload`, {
      method: "POST",
      headers: { authorization },
      body: JSON.stringify({ collection: "vsoch", name: "tacos", tag: "latest" }),
    });
  const bad = await post(sign("push", "vsoch", "tacos", "latest", { token: "wrong" }));
  assert.equal(bad.status, 403);
  assert.deepEqual(await bad.json(), { detail: "Unauthorized" });
  registry.setMode("push-disabled");
  const disabled = await post(sign("push", "vsoch", "tacos", "latest"));
  assert.equal(disabled.status, 403);
  assert.deepEqual(await disabled.json(), { detail: "Push is disabled." });
});

Deno.test("fake registry rejects a chunked upload with 400 as nginx's upload module does", async () => {
  await using registry = await start();
  const body = new Blob(["--b\r\n"]).stream(); // fetch sends a stream body chunked
  const response = await fetch(`${registry.url}/upload`, {
    method: "POST",
    headers: { "content-type": "multipart/form-data; boundary=b" },
    body,
  });
  assert.equal(response.status, 400);
  assert.match(await response.text(), /400 Bad Request/);
  assert.equal(registry.requests.at(-1)?.headers["transfer-encoding"], "chunked");
});

Deno.test("fake registry answers 413 in 413 mode and over uploadLimit", async () => {
  await using registry = await start();
  const dir = await Deno.makeTempDir({ prefix: "sregistry-fake-test-" });
  try {
    const path = join(dir, "big.sif");
    await Deno.writeFile(path, new Uint8Array(4 * 1024 * 1024));
    const upload = () =>
      uploadMultipart(`${registry.url}/upload`, {
        fields: [["name", "tacos"]],
        file: { field: "file1", path, filename: "big.sif", contentType: "text/plain" },
        userAgent: "sregistry-test/1",
      });
    registry.uploadLimit = 1024 * 1024;
    assert.equal((await upload()).status, 413);
    registry.uploadLimit = undefined;
    registry.setMode("413");
    assert.equal((await upload()).status, 413);
    assert.equal(registry.images().length, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fake registry deletes with a delete signature and refuses frozen or unsigned deletes", async () => {
  await using registry = await start();
  await registry.addImage("vsoch", "tacos", "latest", TACOS);
  await registry.addImage("vsoch", "ice", "latest", TACOS, { frozen: true });
  const del = async (name: string, authorization: string) => {
    const response = await fetch(`${registry.base}/container/vsoch/${name}:latest`, {
      method: "DELETE",
      headers: { authorization },
    });
    return { status: response.status, body: await response.text() };
  };
  assert.deepEqual(
    await del("tacos", sign("delete", "vsoch", "tacos", "latest", { token: "no" })),
    {
      status: 403,
      body: '{"detail":"Unauthorized"}',
    },
  );
  assert.deepEqual(await del("ice", sign("delete", "vsoch", "ice", "latest")), {
    status: 403,
    body: '{"detail":"vsoch/ice:latest is frozen, delete not allowed."}',
  });
  assert.deepEqual(await del("tacos", sign("delete", "vsoch", "tacos", "latest")), {
    status: 204,
    body: "",
  });
  assert.equal((await del("tacos", sign("delete", "vsoch", "tacos", "latest"))).status, 404);
  assert.deepEqual(registry.images().map((image) => image.name), ["ice"]);
});

Deno.test("fake registry pages collections with absolute next links", async () => {
  await using registry = await start({ pageSize: 10 });
  for (let i = 0; i < 23; i++) {
    await registry.addImage(`c${String(i).padStart(2, "0")}`, "tacos", "latest", TACOS);
  }
  await registry.addImage("hidden", "tacos", "latest", TACOS, { private: true });
  const names: string[] = [];
  const links: (string | null)[] = [];
  let next: string | null = `${registry.base}/collections/`;
  while (next !== null) {
    const page: {
      count: number;
      next: string | null;
      previous: string | null;
      results: { name: string; containers: { uri: string; detail: string }[] }[];
    } = await (await fetch(next)).json();
    assert.equal(page.count, 23);
    links.push(page.previous);
    names.push(...page.results.map((collection) => collection.name));
    next = page.next;
    if (next !== null) links.push(next);
  }
  assert.equal(names.length, 23);
  assert.equal(names[0], "c00");
  assert.deepEqual(links, [
    null,
    `${registry.base}/collections/?limit=10&offset=10`,
    `${registry.base}/collections/?limit=10`,
    `${registry.base}/collections/?limit=10&offset=20`,
    `${registry.base}/collections/?limit=10&offset=10`,
  ]);
  const first = await (await fetch(`${registry.base}/collections/`)).json();
  assert.deepEqual(first.results[0].containers, [{
    name: "tacos",
    tag: "latest",
    uri: "c00/tacos:latest",
    detail: `${registry.url}/containers/1`,
  }]);
});

Deno.test("fake registry answers collection, container and label searches", async () => {
  await using registry = await start();
  await registry.addImage("vsoch", "tacos", "latest", TACOS, { labels: { maintainer: "dino" } });
  await registry.addImage("vsoch", "tacos", "v2", TACOS);
  await registry.addImage("other", "tacos", "latest", TACOS, { labels: { maintainer: "dino" } });
  const json = async (path: string) => await (await fetch(`${registry.base}${path}`)).json();

  assert.deepEqual(await json("/collection/missing"), {});
  assert.equal((await json("/collection/vsoch")).containers.length, 2);
  const tags = (list: { collection: string; tag: string }[]) =>
    list.map((c) => `${c.collection}:${c.tag}`);
  assert.deepEqual(tags(await json("/container/search/collection/vsoch/name/tacos/tag/v2")), [
    "vsoch:v2",
  ]);
  assert.deepEqual(tags(await json("/container/search/collection/vsoch/name/tacos")), [
    "vsoch:latest",
    "vsoch:v2",
  ]);
  assert.deepEqual(tags(await json("/container/search/name/tacos/tag/latest")), [
    "vsoch:latest",
    "other:latest",
  ]);
  assert.equal((await json("/container/search/name/tacos")).length, 3);
  const label = [{
    key: "maintainer",
    value: "dino",
    containers: ["vsoch/tacos:latest", "other/tacos:latest"],
  }];
  assert.deepEqual(await json("/labels/search"), label);
  assert.deepEqual(await json("/labels/search/maintainer/key/dino/value"), label);
  assert.deepEqual(await json("/labels/search/maintainer/key"), label);
  assert.deepEqual(await json("/labels/search/dino/value"), label);
  assert.deepEqual(await json("/labels/search/nobody/value"), []);
  assert.deepEqual(registry.unexpected, []);
});

Deno.test("fake registry answers unknown routes with 500 and records them", async () => {
  await using registry = await start();
  const response = await fetch(`${registry.base}/nowhere?x=1`);
  await response.body?.cancel();
  assert.equal(response.status, 500);
  assert.deepEqual(registry.unexpected, ["GET /api/nowhere?x=1"]);
  assert.deepEqual(registry.requests.map((r) => `${r.method} ${r.path}`), ["GET /api/nowhere?x=1"]);
});
