/**
 * A hostile Singularity Hub on 127.0.0.1: bad names in every manifest field, image URLs that are
 * not http(s), nonsense answers, bombs and endless bodies. Each is the server's fault (exit 1,
 * naming it), refused before anything is written or downloaded, and storage is left as it was.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { sregistry } from "../support/cli.ts";
import { endlessAnswer, gzipBomb, startFakeHub } from "../support/fake_hub.ts";
import { tempHome } from "../support/home.ts";
import { assertUnchanged, md5, records, snapshot } from "../support/state.ts";
import { assertTransferFailure, downloadRequests, hubEnv } from "../support/pulls.ts";

const IMAGE = new TextEncoder().encode("a Singularity image\n");
const IMAGE_MD5 = md5(IMAGE);

// Manifest fields a hostile hub may send, and what the refusal says.
const BAD_FIELDS: [fields: Record<string, unknown>, why: RegExp][] = [
  [{ version: "x/../../../../victim/keep.txt" }, /'\/' is not allowed in a version/],
  [{ version: ".." }, /'\.\.' is not allowed/],
  [{ version: ".sregistry-part-1" }, /may not start with '\.sregistry-'/],
  [{ name: "../../victim/x" }, /'\.\.' is not allowed/],
  [{ name: "vsoch/.sregistry-tmp-1" }, /may not start with '\.sregistry-'/],
  [{ name: `vsoch/${"n".repeat(256)}` }, /256 bytes long/],
  [{ name: "vsoch/he\u202ello" }, /bidirectional control character U\+202E/],
  [{ name: "vsoch/he\u200bllo" }, /invisible character U\+200B/],
  [{ name: "vsoch/hello\n[container][new] forged" }, /control character/],
  [{ tag: "../x" }, /cannot be part of a name|not allowed/],
  [{ tag: "t@v" }, /the tag "t@v" cannot be part of a name/],
  [{ tag: ".sregistry-tmp-1" }, /may not start with '\.sregistry-'/],
  [{ tag: "v\u00a01" }, /whitespace U\+00A0/],
  [{ name: 42 }, /instead of a text 'name' \(HTTP 200\)/],
  [{ version: ["x"] }, /instead of a text 'version' \(HTTP 200\)/],
];

Deno.test("a manifest with a bad name in any field is refused before any download (exit 1, naming the hub)", async (t) => {
  await using hub = await startFakeHub();
  await using home = await tempHome();
  const image = hub.addImage("vsoch", "hello", "latest", IMAGE);
  const env = hubEnv(home, hub);
  const victim = home.file("victim/keep.txt", "keep me\n");
  home.file("placeholder", "");
  await sregistry(["images"], { env }); // the database exists before the first snapshot
  const before = await snapshot(home);
  for (const [fields, why] of BAD_FIELDS) {
    await t.step(JSON.stringify(fields), async () => {
      hub.forgeManifest(fields);
      for (const command of [["pull"], ["record"]]) {
        const result = await sregistry([...command, "hub://vsoch/hello"], { env });
        assertTransferFailure(result, 1, why);
        if (typeof Object.values(fields)[0] === "string") {
          assert.match(
            result.stderr,
            /Singularity Hub \(http:\/\/127\.0\.0\.1:\d+\/api\) answered/,
          );
        }
        assert.doesNotMatch(result.stderr, /[\u200b\u202e]/, "no raw invisible character");
      }
      assert.deepEqual(downloadRequests(hub, image), [], "nothing was downloaded");
      assert.equal(Deno.readTextFileSync(victim), "keep me\n");
      assertUnchanged(before, await snapshot(home));
    });
  }
  assert.deepEqual(hub.unexpected, []);
});

Deno.test("an image URL that is not http(s), in a manifest or a redirect, is refused before any byte is read", async (t) => {
  await using hub = await startFakeHub();
  await using home = await tempHome();
  const image = hub.addImage("vsoch", "hello", "latest", IMAGE);
  const env = hubEnv(home, hub);
  await sregistry(["images"], { env });
  const before = await snapshot(home);
  for (const url of ["file:///etc/passwd", "ftp://127.0.0.1/x.sif", "data:,hello", "/relative"]) {
    await t.step(url, async () => {
      hub.forgeManifest({ image: url });
      for (const command of [["pull"], ["record"], ["pull", "--name", join(home.path, "x.sif")]]) {
        const result = await sregistry([...command, "hub://vsoch/hello"], { env });
        assertTransferFailure(result, 1, /gave the image URL .*which is not http\(s\)/);
      }
      assertUnchanged(before, await snapshot(home));
    });
  }
  hub.forgeManifest({});
  await t.step("a redirect to file://", async () => {
    hub.setMode("redirect-file");
    const result = await sregistry(["pull", "hub://vsoch/hello"], { env });
    assertTransferFailure(result, 1, /redirected to an unsupported file: URL/);
    assert.equal(downloadRequests(hub, image).length, 1);
    assertUnchanged(before, await snapshot(home));
  });
  assert.deepEqual(hub.unexpected, []);
});

// Answers of the wrong shape, for the manifest (pull, record) and the listing (search).
const NONSENSE: [what: string, answer: () => Response, why: RegExp][] = [
  [
    "an HTML page",
    () =>
      new Response("<html><body>Maintenance</body></html>", {
        headers: { "content-type": "text/html" },
      }),
    /an HTML page \(HTTP 200\)/,
  ],
  ["an empty body", () => new Response(""), /an empty body \(HTTP 200\)/],
  ["a bare number", () => Response.json(400), /a bare number \(400\)|a bare number/],
  ["null", () => Response.json(null), /null/],
  ["a bare string", () => Response.json("ok"), /a bare string/],
  ["an HTML page as 203", () => new Response("<p>hi</p>", { status: 203 }), /HTTP 203/],
];

Deno.test("nonsense answers to pull, record and search are errors with the HTTP status", async (t) => {
  await using hub = await startFakeHub();
  await using home = await tempHome();
  const image = hub.addImage("vsoch", "hello", "latest", IMAGE);
  const env = hubEnv(home, hub, { SREGISTRY_RETRIES: "0" });
  await sregistry(["images"], { env });
  const before = await snapshot(home);
  for (const [what, answer, why] of NONSENSE) {
    await t.step(what, async () => {
      hub.forgeAnswer("manifest", answer);
      hub.forgeAnswer("collections", answer);
      for (const command of [["pull"], ["record"], ["search"]]) {
        const uri = command[0] === "search" ? "hub://vsoch" : "hub://vsoch/hello";
        const result = await sregistry([...command, uri], { env });
        assertTransferFailure(result, 1, why);
        assert.match(result.stderr, /HTTP 20[03]/, "the status is in the message");
      }
    });
  }
  hub.forgeAnswer("collections", null);
  const shapes: [string, unknown, RegExp][] = [
    ["a manifest without an image", { name: "vsoch/hello" }, /instead of an object with a 'image'/],
    ["a list", [], /an empty list instead of a JSON object/],
    ["an image URL that is a number", { image: 5 }, /instead of a text 'image'/],
  ];
  for (const [what, body, why] of shapes) {
    await t.step(what, async () => {
      hub.forgeAnswer("manifest", () => Response.json(body));
      const result = await sregistry(["pull", "hub://vsoch/hello"], { env });
      assertTransferFailure(result, 1, why);
    });
  }
  hub.forgeAnswer("manifest", null);
  const listings: [string, unknown, RegExp][] = [
    ["a page without results", { count: 1, next: null }, /instead of a page with 'results'/],
    [
      "results that are not objects",
      { results: [1, 2] },
      /a bare number \(1\) instead of a list of objects/,
    ],
    [
      "containers that are not a list",
      { results: [{ name: "a", containers: 3 }] },
      /instead of a list/,
    ],
    ["a next page elsewhere", { results: [], next: "http://example.org/x" }, /a next page on/],
  ];
  for (const [what, body, why] of listings) {
    await t.step(`search: ${what}`, async () => {
      hub.forgeAnswer("collections", () => Response.json(body));
      const result = await sregistry(["search", "hub://vsoch"], { env });
      assertTransferFailure(result, 1, why);
    });
  }
  assert.deepEqual(downloadRequests(hub, image), []);
  assertUnchanged(before, await snapshot(home));
  assert.deepEqual(hub.unexpected, []);
});

Deno.test("a compressed bomb or an endless answer is stopped at the cap, for manifests and listings", async (t) => {
  await using hub = await startFakeHub();
  await using home = await tempHome();
  hub.addImage("vsoch", "hello", "latest", IMAGE);
  const env = hubEnv(home, hub, { SREGISTRY_RETRIES: "0" });
  const bomb = await gzipBomb(256);
  for (
    const [what, answer] of [["a gzip bomb", bomb], ["an endless body", endlessAnswer]] as const
  ) {
    await t.step(what, async () => {
      hub.forgeAnswer("manifest", answer);
      hub.forgeAnswer("collections", answer);
      for (const command of [["pull", "hub://vsoch/hello"], ["search", "hub://vsoch"]]) {
        const result = await sregistry(command, { env });
        assertTransferFailure(result, 1, /sent an answer larger than 16 MiB \(HTTP 200\)/);
      }
    });
  }
});

Deno.test("a hub that answers with another image than asked is followed, and says so", async () => {
  await using hub = await startFakeHub();
  await using home = await tempHome();
  hub.addImage("vsoch", "hello", "latest", IMAGE);
  hub.forgeManifest({ name: "other/thing", tag: "v9" });
  const env = hubEnv(home, hub);
  const pulled = await sregistry(["pull", "hub://vsoch/hello"], { env });
  assert.equal(pulled.code, 0, pulled.stderr);
  assert.match(
    pulled.stderr,
    /\[pull\] note: Singularity Hub \(.*\) answered vsoch\/hello:latest with other\/thing:v9/,
  );
  const [record] = records(await sregistry(["images", "--json"], { env }));
  assert.equal(record.uri, `other/thing:v9@${IMAGE_MD5}`);
});

Deno.test("an upper-case MD5 in a manifest is the same MD5", async () => {
  await using hub = await startFakeHub();
  await using home = await tempHome();
  hub.addImage("vsoch", "hello", "latest", IMAGE, { version: IMAGE_MD5.toUpperCase() });
  const env = hubEnv(home, hub);
  const pulled = await sregistry(["pull", "hub://vsoch/hello"], { env });
  assert.equal(pulled.code, 0, pulled.stderr);
  const [record] = records(await sregistry(["images", "--json"], { env }));
  assert.equal(record.version, IMAGE_MD5);
  assert.equal(record.md5, IMAGE_MD5);
});

Deno.test("a version that is not an MD5 is not trusted: the image is recorded under its MD5", async () => {
  await using hub = await startFakeHub();
  await using home = await tempHome();
  hub.addImage("vsoch", "hello", "latest", IMAGE, { version: "v1.0-commit-abc" });
  const env = hubEnv(home, hub);
  const pulled = await sregistry(["pull", "hub://vsoch/hello"], { env });
  assert.equal(pulled.code, 0, pulled.stderr);
  assert.match(pulled.stderr, /gave version "v1\.0-commit-abc", which is not an MD5/);
  assert.equal(
    pulled.stdout.trim(),
    join(home.storage, "vsoch", "hello", `latest@${IMAGE_MD5}.sif`),
  );
});

Deno.test("a manifest whose MD5 is not the one asked for is refused before the download", async () => {
  await using hub = await startFakeHub();
  await using home = await tempHome();
  const image = hub.addImage("vsoch", "hello", "latest", IMAGE);
  hub.forgeManifest({ version: "f".repeat(32) });
  const env = hubEnv(home, hub);
  const result = await sregistry(["pull", `hub://vsoch/hello@${IMAGE_MD5}`], { env });
  assertTransferFailure(result, 1, /with version f{32}, not the one asked for/);
  assert.deepEqual(downloadRequests(hub, image), []);
});

Deno.test("names go into the hub's URL escaped: nothing reaches the query or leaves the API path", async () => {
  await using hub = await startFakeHub();
  await using home = await tempHome();
  const env = hubEnv(home, hub, { SREGISTRY_RETRIES: "0" });
  const result = await sregistry(["pull", "hub://vsoch/hel?lo=1#x:t%2F..%2F"], { env });
  assert.equal(result.code, 1, result.stderr);
  const paths = hub.requests.map((seen) => seen.path);
  assert.deepEqual(paths, ["/api/container/vsoch/hel%3Flo%3D1%23x:t%252F..%252F"]);
});

Deno.test("an HTML page is never recorded as an image, whatever it is labelled", async (t) => {
  await using hub = await startFakeHub();
  await using home = await tempHome();
  const image = hub.addImage("vsoch", "hello", "latest", IMAGE);
  const env = hubEnv(home, hub);
  await sregistry(["images"], { env });
  const before = await snapshot(home);
  for (const mode of ["html", "html-octet"] as const) {
    await t.step(mode, async () => {
      hub.setMode(mode);
      for (const args of [["hub://vsoch/hello"], [image.downloadUrl, "--name", "web/page"]]) {
        const result = await sregistry(["pull", ...args], { env });
        assertTransferFailure(result, 1, /answered with an HTML page \(HTTP 200\), not an image/);
      }
      assertUnchanged(before, await snapshot(home));
    });
  }
});
