/** `search` on Singularity Hub, black-box: every page followed, filtered, as a table or JSON. */
import assert from "node:assert/strict";
import { sregistry } from "../support/cli.ts";
import { type FakeHub, startFakeHub } from "../support/fake_hub.ts";
import { tempHome } from "../support/home.ts";
import { assertFailure, lines } from "../support/state.ts";
import { hubEnv } from "../support/pulls.ts";

const COLLECTIONS = ["alpha", "beta", "gamma", "delta", "epsilon"];

/** Five collections of one or two images each; returns their URIs. */
function populate(hub: FakeHub): string[] {
  const uris: string[] = [];
  for (const [index, collection] of COLLECTIONS.entries()) {
    const bytes = new TextEncoder().encode(`${collection} image\n`);
    hub.addImage(collection, "tool", "latest", bytes);
    uris.push(`${collection}/tool:latest`);
    if (index % 2 === 0) {
      hub.addImage(collection, "extra", "v2", bytes);
      uris.push(`${collection}/extra:v2`);
    }
  }
  return uris;
}

function collectionPages(hub: FakeHub): string[] {
  return hub.requests.filter((seen) => seen.path.startsWith("/api/collections")).map((seen) =>
    seen.path
  );
}

Deno.test("search follows every next page and lists every container", async () => {
  await using hub = await startFakeHub({ pageSize: 2 });
  await using home = await tempHome();
  const uris = populate(hub);

  const result = await sregistry(["search"], { env: hubEnv(home, hub) });

  assert.equal(result.code, 0, result.stderr);
  const [header, ...rows] = lines(result.stdout);
  assert.match(header, /^URI +DETAIL$/);
  assert.deepEqual(rows.map((row) => row.split(/\s+/)[0]).sort(), [...uris].sort());
  assert.match(rows[0], new RegExp(`${hub.url}/containers/\\d+$`));
  assert.match(result.stderr, /\[client\|hub\]/);
  assert.match(result.stderr, /^Collections$/m);
  assert.deepEqual(collectionPages(hub), [
    "/api/collections/",
    "/api/collections/?limit=2&offset=2",
    "/api/collections/?limit=2&offset=4",
  ]);
  assert.deepEqual(hub.unexpected, []);
});

Deno.test("search filters by the query, with or without the hub:// scheme", async () => {
  await using hub = await startFakeHub({ pageSize: 2 });
  await using home = await tempHome();
  populate(hub);
  const env = hubEnv(home, hub);

  for (const query of ["extra", "hub://extra", "shub://EXTRA"]) {
    const result = await sregistry(["search", query], { env });
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(
      lines(result.stdout).slice(1).map((row) => row.split(/\s+/)[0]),
      ["alpha/extra:v2", "gamma/extra:v2", "epsilon/extra:v2"],
      query,
    );
  }
  const one = await sregistry(["search", "delta/tool"], { env });
  assert.deepEqual(lines(one.stdout).slice(1).map((row) => row.split(/\s+/)[0]), [
    "delta/tool:latest",
  ]);
});

Deno.test("search --json prints every record and nothing else on stdout", async () => {
  await using hub = await startFakeHub({ pageSize: 2 });
  await using home = await tempHome();
  const uris = populate(hub);

  const result = await sregistry(["search", "--json"], { env: hubEnv(home, hub) });

  assert.equal(result.code, 0, result.stderr);
  const found = JSON.parse(result.stdout) as { uri: string; collection: string; detail: string }[];
  assert.deepEqual(found.map((record) => record.uri).sort(), [...uris].sort());
  const beta = found.find((record) => record.uri === "beta/tool:latest")!;
  assert.equal(beta.collection, "beta");
  assert.match(beta.detail, /\/containers\/\d+$/);
  assert.equal(result.stderr, "", "no banner with --json");

  const filtered = await sregistry(["search", "--json", "gamma"], { env: hubEnv(home, hub) });
  assert.deepEqual(
    (JSON.parse(filtered.stdout) as { uri: string }[]).map((record) => record.uri),
    ["gamma/tool:latest", "gamma/extra:v2"],
  );
});

Deno.test("a search that finds nothing says so and exits 0", async () => {
  await using hub = await startFakeHub({ pageSize: 2 });
  await using home = await tempHome();
  populate(hub);

  const result = await sregistry(["search", "nothing-like-this"], { env: hubEnv(home, hub) });
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, "");
  assert.match(result.stderr, /No results for nothing-like-this\./);

  const json = await sregistry(["search", "--json", "nothing-like-this"], {
    env: hubEnv(home, hub),
  });
  assert.equal(json.code, 0, json.stderr);
  assert.deepEqual(JSON.parse(json.stdout), []);
});

Deno.test("a search of an empty hub says nothing was found", async () => {
  await using hub = await startFakeHub();
  await using home = await tempHome();

  const result = await sregistry(["search"], { env: hubEnv(home, hub) });

  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, "");
  assert.match(result.stderr, /Nothing found\./);
});

Deno.test("a search the hub fails is exit 1 with the status, after retries", async () => {
  await using hub = await startFakeHub({ pageSize: 2, mode: "404" });
  await using home = await tempHome();
  const uris = populate(hub);

  const result = await sregistry(["search"], { env: hubEnv(home, hub) });
  assertFailure(result, 1, /GET .*\/api\/collections\/: HTTP 404/);

  hub.setMode("fail-once");
  const retried = await sregistry(["search", "--json"], { env: hubEnv(home, hub) });
  assert.equal(retried.code, 0, retried.stderr);
  assert.equal((JSON.parse(retried.stdout) as unknown[]).length, uris.length);
  assert.match(retried.stderr, /HTTP 500.*retrying in/);
});
