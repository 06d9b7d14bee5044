/**
 * `search` on a Singularity Registry Server in every form the original documents (none,
 * `collection`, `collection/name`, `collection/name:tag`, `/name`, `/name:tag`), as a table and as
 * JSON, against a fake server on 127.0.0.1 that paginates.
 */
import assert from "node:assert/strict";
import { sregistry } from "../support/cli.ts";
import { type FakeRegistry, startFakeRegistry } from "../support/fake_registry.ts";
import { tempHome } from "../support/home.ts";
import { downRegistryEnv, registryEnv, requestLines } from "../support/registry_env.ts";
import { assertFailure, lines, md5 } from "../support/state.ts";

const encoder = new TextEncoder();

/** Six collections; `tacos` is in two of them and has tags latest and v1 in vsoch. */
async function populate(registry: FakeRegistry): Promise<void> {
  await registry.addImage("vsoch", "tacos", "latest", encoder.encode("vsoch tacos latest\n"));
  await registry.addImage("vsoch", "tacos", "v1", encoder.encode("vsoch tacos v1\n"));
  await registry.addImage("vsoch", "salad", "latest", encoder.encode("vsoch salad\n"));
  await registry.addImage("lab", "tacos", "v1", encoder.encode("lab tacos v1\n"));
  await registry.addImage("lab", "tools", "2.0", encoder.encode("lab tools\n"));
  await registry.addImage("bio", "blast", "latest", encoder.encode("blast\n"));
  await registry.addImage("chem", "gromacs", "2023", encoder.encode("gromacs\n"));
  await registry.addImage("phys", "root", "6", encoder.encode("root\n"));
  await registry.addImage("geo", "gdal", "3", encoder.encode("gdal\n"));
}

/** The URI column of a table on stdout (header dropped). */
function uris(stdout: string): string[] {
  const [header, ...rows] = lines(stdout);
  assert.match(header, /^URI\s/);
  return rows.map((row) => row.split(/\s+/)[0]);
}

Deno.test("search with no query lists every collection, following every page", async () => {
  await using registry = await startFakeRegistry({ pageSize: 2 });
  await using home = await tempHome();
  await populate(registry);
  const env = registryEnv(home, registry);

  const table = await sregistry(["search"], { env });

  assert.equal(table.code, 0, table.stderr);
  assert.deepEqual(requestLines(registry), [
    "GET /api/collections/",
    "GET /api/collections/?limit=2&offset=2",
    "GET /api/collections/?limit=2&offset=4",
  ]);
  assert.deepEqual(uris(table.stdout), [
    "vsoch/tacos:latest",
    "vsoch/tacos:v1",
    "vsoch/salad:latest",
    "lab/tacos:v1",
    "lab/tools:2.0",
    "bio/blast:latest",
    "chem/gromacs:2023",
    "phys/root:6",
    "geo/gdal:3",
  ]);
  assert.match(table.stdout, new RegExp(`vsoch/tacos:latest\\s+${registry.url}/containers/\\d+\n`));
  assert.match(table.stderr, /^Collections$/m);

  const json = await sregistry(["search", "--json"], { env });
  assert.equal(json.code, 0, json.stderr);
  assert.equal(json.stderr, "", "no banner with --json");
  const found = JSON.parse(json.stdout) as Record<string, unknown>[];
  assert.equal(found.length, 9);
  assert.deepEqual(found[0], {
    collection: "vsoch",
    name: "tacos",
    tag: "latest",
    uri: "vsoch/tacos:latest",
    detail: `${registry.url}/containers/1`,
  });
  assert.deepEqual(registry.unexpected, []);
});

Deno.test("search registry:// (the scheme alone) lists everything from the configured registry", async () => {
  await using registry = await startFakeRegistry();
  await using home = await tempHome();
  await populate(registry);
  const env = registryEnv(home, registry);
  delete env.SREGISTRY_CLIENT;

  const result = await sregistry(["search", "registry://"], { env });

  assert.equal(result.code, 0, result.stderr);
  assert.equal(uris(result.stdout).length, 9);
  assert.deepEqual(requestLines(registry), ["GET /api/collections/"]);
});

Deno.test("search <collection> lists that collection's containers", async () => {
  await using registry = await startFakeRegistry();
  await using home = await tempHome();
  await populate(registry);
  const env = registryEnv(home, registry);

  for (const query of ["vsoch", "vsoch/", "registry://vsoch"]) {
    const before = registry.requests.length;
    const table = await sregistry(["search", query], { env });
    assert.equal(table.code, 0, `${query}: ${table.stderr}`);
    assert.deepEqual(requestLines(registry, before), ["GET /api/collection/vsoch"], query);
    assert.deepEqual(
      uris(table.stdout),
      ["vsoch/tacos:latest", "vsoch/tacos:v1", "vsoch/salad:latest"],
      query,
    );
    assert.match(table.stderr, /Collection vsoch/, query);
  }

  const json = await sregistry(["search", "--json", "lab"], { env });
  assert.equal(json.code, 0, json.stderr);
  assert.deepEqual(
    (JSON.parse(json.stdout) as { uri: string }[]).map((found) => found.uri),
    ["lab/tacos:v1", "lab/tools:2.0"],
  );
  assert.deepEqual(registry.unexpected, []);
});

Deno.test("search <collection>/<name> and <collection>/<name>:<tag> search containers", async () => {
  await using registry = await startFakeRegistry();
  await using home = await tempHome();
  await populate(registry);
  const env = registryEnv(home, registry);

  const byName = await sregistry(["search", "vsoch/tacos"], { env });
  assert.equal(byName.code, 0, byName.stderr);
  assert.deepEqual(uris(byName.stdout), ["vsoch/tacos:latest", "vsoch/tacos:v1"]);
  assert.match(byName.stdout, new RegExp(`vsoch/tacos:v1\\s+${md5("vsoch tacos v1\n")}\\s`));

  const byTag = await sregistry(["search", "vsoch/tacos:v1"], { env });
  assert.equal(byTag.code, 0, byTag.stderr);
  assert.deepEqual(uris(byTag.stdout), ["vsoch/tacos:v1"]);

  const json = await sregistry(["search", "--json", "vsoch/tacos:v1"], { env });
  assert.equal(json.code, 0, json.stderr);
  const [container] = JSON.parse(json.stdout);
  assert.equal(container.collection, "vsoch");
  assert.equal(container.name, "tacos");
  assert.equal(container.tag, "v1");
  assert.equal(container.version, md5("vsoch tacos v1\n"));

  assert.deepEqual(requestLines(registry), [
    "GET /api/container/search/collection/vsoch/name/tacos",
    "GET /api/container/search/collection/vsoch/name/tacos/tag/v1",
    "GET /api/container/search/collection/vsoch/name/tacos/tag/v1",
  ]);
  assert.deepEqual(registry.unexpected, []);
});

Deno.test("search /<name> and /<name>:<tag> search across every collection", async () => {
  await using registry = await startFakeRegistry();
  await using home = await tempHome();
  await populate(registry);
  const env = registryEnv(home, registry);

  const byName = await sregistry(["search", "/tacos"], { env });
  assert.equal(byName.code, 0, byName.stderr);
  assert.deepEqual(uris(byName.stdout), ["vsoch/tacos:latest", "vsoch/tacos:v1", "lab/tacos:v1"]);

  const byTag = await sregistry(["search", "/tacos:v1"], { env });
  assert.equal(byTag.code, 0, byTag.stderr);
  assert.deepEqual(uris(byTag.stdout), ["vsoch/tacos:v1", "lab/tacos:v1"]);

  const json = await sregistry(["search", "--json", "/tacos:v1"], { env });
  assert.equal(json.code, 0, json.stderr);
  assert.deepEqual(
    (JSON.parse(json.stdout) as { collection: string }[]).map((found) => found.collection),
    ["vsoch", "lab"],
  );

  assert.deepEqual(requestLines(registry), [
    "GET /api/container/search/name/tacos",
    "GET /api/container/search/name/tacos/tag/v1",
    "GET /api/container/search/name/tacos/tag/v1",
  ]);
  assert.deepEqual(registry.unexpected, []);
});

Deno.test("a host in the query is searched instead of the configured base", async () => {
  await using registry = await startFakeRegistry({ pageSize: 2 });
  await using configured = await startFakeRegistry();
  await using home = await tempHome();
  await populate(registry);
  const env = registryEnv(home, configured, { SREGISTRY_REGISTRY_NOHTTPS: "true" });

  const all = await sregistry(["search", `registry://${registry.host}/`], { env });
  assert.equal(all.code, 0, all.stderr);
  assert.equal(uris(all.stdout).length, 9);

  const collection = await sregistry(["search", `registry://${registry.host}/lab`], { env });
  assert.equal(collection.code, 0, collection.stderr);
  assert.deepEqual(uris(collection.stdout), ["lab/tacos:v1", "lab/tools:2.0"]);

  const container = await sregistry(["search", `${registry.host}/vsoch/tacos:v1`], { env });
  assert.equal(container.code, 0, container.stderr);
  assert.deepEqual(uris(container.stdout), ["vsoch/tacos:v1"]);

  const across = await sregistry(["search", `${registry.host}//salad`], { env });
  assert.equal(across.code, 0, across.stderr);
  assert.deepEqual(uris(across.stdout), ["vsoch/salad:latest"]);

  assert.deepEqual(configured.requests, [], "the configured base is not asked");
  assert.deepEqual(registry.unexpected, []);
});

Deno.test("a search that finds nothing says so on stderr and exits 0; --json prints []", async () => {
  await using registry = await startFakeRegistry();
  await using home = await tempHome();
  await populate(registry);
  const env = registryEnv(home, registry);

  for (const query of ["nobody", "vsoch/nothing", "/nothing:v9"]) {
    const table = await sregistry(["search", query], { env });
    assert.equal(table.code, 0, `${query}: ${table.stderr}`);
    assert.equal(table.stdout, "", query);
    assert.match(table.stderr, /No results/, query);
    const json = await sregistry(["search", "--json", query], { env });
    assert.equal(json.code, 0, `${query}: ${json.stderr}`);
    assert.deepEqual(JSON.parse(json.stdout), [], query);
  }
  assert.deepEqual(registry.unexpected, []);
});

Deno.test("an empty registry lists nothing, exit 0", async () => {
  await using registry = await startFakeRegistry();
  await using home = await tempHome();
  const env = registryEnv(home, registry);

  const table = await sregistry(["search"], { env });
  assert.equal(table.code, 0, table.stderr);
  assert.equal(table.stdout, "");
  const json = await sregistry(["search", "--json"], { env });
  assert.deepEqual(JSON.parse(json.stdout), []);
});

Deno.test("a query that cannot be a name is a usage error, exit 2, and nothing is asked", async () => {
  await using registry = await startFakeRegistry();
  await using home = await tempHome();
  const env = registryEnv(home, registry);

  for (const query of ["vsoch/../etc", "two words", "vsoch/:v1"]) {
    const result = await sregistry(["search", query], { env });
    assertFailure(result, 2, /query|name/);
  }
  assert.deepEqual(registry.requests, []);
});

Deno.test("search against a registry that is down gives one clear line and exit 1", async () => {
  await using home = await tempHome();
  const { port, env } = downRegistryEnv(home, "/");

  for (const query of [[], ["vsoch"], ["vsoch/tacos"], ["/tacos:v1"]]) {
    const result = await sregistry(["search", ...query], { env });
    assertFailure(result, 1, new RegExp(`127\\.0\\.0\\.1:${port}`));
  }
});
