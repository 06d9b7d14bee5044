/**
 * A hostile Singularity Registry Server on 127.0.0.1: bad names in every manifest field, image
 * URLs that are not http(s), and nonsense answers for every operation (pull, record, search,
 * delete, push, labels). Each is the server's fault (exit 1, with the HTTP status), and storage
 * is left as it was. Also: a push the server answers 5xx is sent again; one whose connection may
 * have reached the server is not.
 */
import assert from "node:assert/strict";
import { sregistry } from "../support/cli.ts";
import { type FakeRegistryRoute, startFakeRegistry } from "../support/fake_registry.ts";
import { gzipBomb } from "../support/fake_hub.ts";
import { tempHome } from "../support/home.ts";
import { registryEnv, requestLines, requestsTo } from "../support/registry_env.ts";
import { assertUnchanged, md5, snapshot } from "../support/state.ts";
import { assertTransferFailure } from "../support/pulls.ts";

const encoder = new TextEncoder();
const IMAGE = encoder.encode("a registry image\n");

const BAD_FIELDS: [fields: Record<string, unknown>, why: RegExp][] = [
  [{ version: "x/../../../../victim/keep.txt" }, /'\/' is not allowed in a version/],
  [{ collection: "../victim" }, /'\.\.' is not allowed/],
  [{ collection: "evil.example.org/x" }, /the registry "" cannot be part of a name/],
  [{ name: "a/../../b" }, /'\.\.' is not allowed|cannot be part/],
  [{ name: ".sregistry-removed-x" }, /may not start with '\.sregistry-'/],
  [{ tag: "latest@deadbeef" }, /cannot be part of a name/],
  [{ tag: "v\u2066" }, /bidirectional control character U\+2066/],
  [{ collection: { nested: true } }, /instead of a text 'collection' \(HTTP 200\)/],
];

Deno.test("a registry manifest with a bad name in any field is refused before any download", async (t) => {
  await using registry = await startFakeRegistry();
  await using home = await tempHome();
  await registry.addImage("vsoch", "tacos", "latest", IMAGE);
  const env = registryEnv(home, registry);
  const victim = home.file("victim/keep.txt", "keep me\n");
  await sregistry(["images"], { env });
  const before = await snapshot(home);
  for (const [fields, why] of BAD_FIELDS) {
    await t.step(JSON.stringify(fields), async () => {
      registry.forgeManifest(fields);
      for (const command of ["pull", "record"]) {
        const result = await sregistry([command, "registry://vsoch/tacos"], { env });
        assertTransferFailure(result, 1, why);
        if (typeof Object.values(fields)[0] === "string") {
          assert.match(result.stderr, /the registry 127\.0\.0\.1:\d+ answered/);
        }
      }
      assert.deepEqual(requestsTo(registry, "GET", "/containers/"), [], "nothing downloaded");
      assert.equal(Deno.readTextFileSync(victim), "keep me\n");
      assertUnchanged(before, await snapshot(home));
    });
  }
  await t.step("an image URL that is not http(s)", async () => {
    registry.forgeManifest({ image: "file:///etc/passwd" });
    const result = await sregistry(["pull", "registry://vsoch/tacos"], { env });
    assertTransferFailure(result, 1, /gave the image URL "file:\/\/\/etc\/passwd", which is not/);
    assertUnchanged(before, await snapshot(home));
  });
  assert.deepEqual(registry.unexpected, []);
});

const HTML = () =>
  new Response("<html><body><h1>502 Bad Gateway</h1></body></html>", {
    headers: { "content-type": "text/html" },
  });

// Every operation, the route a nonsense answer replaces, and the command line that meets it.
const OPERATIONS: [what: string, route: FakeRegistryRoute, args: (file: string) => string[]][] = [
  ["pull", "manifest", () => ["pull", "registry://vsoch/tacos"]],
  ["record", "manifest", () => ["record", "registry://vsoch/tacos"]],
  ["search (all)", "collections", () => ["search"]],
  ["search (collection)", "collection", () => ["search", "vsoch"]],
  ["search (container)", "search", () => ["search", "vsoch/tacos:latest"]],
  ["labels", "labels", () => ["labels", "--key", "maintainer"]],
  ["delete", "delete", () => ["delete", "--force", "registry://vsoch/tacos"]],
  ["push (collection)", "push", (file) => ["push", file, "--name", "vsoch/tacos:v2"]],
  ["push (upload)", "upload", (file) => ["push", file, "--name", "vsoch/tacos:v2"]],
];

const NONSENSE: [what: string, answer: () => Response][] = [
  ["an HTML page", HTML],
  ["an empty body", () => new Response("")],
  ["a bare number", () => Response.json(7)],
  ["JSON without the fields", () => Response.json({ results: "x", containers: 1, cid: "1\r\nX" })],
];

Deno.test("nonsense answers are errors with the HTTP status for every registry operation", async (t) => {
  await using registry = await startFakeRegistry();
  await using home = await tempHome();
  await registry.addImage("vsoch", "tacos", "latest", IMAGE, { labels: { maintainer: "x" } });
  const file = home.file("tacos.sif", IMAGE);
  const env = registryEnv(home, registry, { SREGISTRY_RETRIES: "0" });
  await sregistry(["images"], { env });
  const before = await snapshot(home);
  for (const [operation, route, args] of OPERATIONS) {
    for (const [what, answer] of NONSENSE) {
      // A deletion may answer with any JSON object, or with nothing.
      if (route === "delete" && (what === "JSON without the fields" || what === "an empty body")) {
        continue;
      }
      await t.step(`${operation}: ${what}`, async () => {
        registry.forgeAnswer(route, answer);
        try {
          const result = await sregistry(args(file), { env });
          assertTransferFailure(result, 1, /HTTP 200/);
        } finally {
          registry.forgeAnswer(route, null);
        }
      });
    }
  }
  await t.step("push: a collection id that would break the upload form", async () => {
    const uploads = requestsTo(registry, "POST", "/upload").length;
    registry.forgeAnswer("push", () => Response.json({ cid: "1\r\nContent-Disposition: x" }));
    const result = await sregistry(["push", file, "--name", "vsoch/tacos:v2"], { env });
    registry.forgeAnswer("push", null);
    assertTransferFailure(result, 1, /instead of a collection id 'cid' \(HTTP 200\)/);
    assert.equal(requestsTo(registry, "POST", "/upload").length, uploads, "no upload was sent");
  });
  await t.step("pull: a gzip bomb", async () => {
    registry.forgeAnswer("manifest", await gzipBomb(256));
    const result = await sregistry(["pull", "registry://vsoch/tacos"], { env });
    registry.forgeAnswer("manifest", null);
    assertTransferFailure(result, 1, /sent an answer larger than 16 MiB/);
  });
  assertUnchanged(before, await snapshot(home));
  assert.equal(registry.images().length, 1, "nothing was pushed or deleted");
  assert.deepEqual(registry.unexpected, []);
});

Deno.test("a push the server answers 503 is sent again and succeeds", async () => {
  await using registry = await startFakeRegistry();
  await using home = await tempHome();
  const file = home.file("tacos.sif", IMAGE);
  registry.setMode("push-503-once");
  const pushed = await sregistry(["push", file, "--name", "vsoch/tacos:latest"], {
    env: registryEnv(home, registry, { SREGISTRY_RETRIES: "2" }),
  });
  assert.equal(pushed.code, 0, pushed.stderr);
  assert.match(pushed.stderr, /HTTP 503.*retrying in/);
  assert.deepEqual(requestLines(registry), [
    "POST /api/upload/chunked_upload",
    "POST /api/upload/chunked_upload",
    "POST /upload",
    "POST /upload",
    "GET /api/container/vsoch/tacos:latest",
  ]);
  assert.equal(registry.images()[0].md5, md5(IMAGE));
  assert.deepEqual(registry.unexpected, []);
});

Deno.test("a push whose request may have reached the server is never sent again", async () => {
  await using registry = await startFakeRegistry();
  await using home = await tempHome();
  const file = home.file("tacos.sif", IMAGE);
  registry.setMode("push-hangs");
  const result = await sregistry(["push", file, "--name", "vsoch/tacos:latest"], {
    env: registryEnv(home, registry, { SREGISTRY_RETRIES: "3", SREGISTRY_TIMEOUT: "1" }),
  });
  assertTransferFailure(result, 1, /could not reach 127\.0\.0\.1:\d+: no response within 1s/);
  assert.deepEqual(requestLines(registry), ["POST /api/upload/chunked_upload"]);
});
