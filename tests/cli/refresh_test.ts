/**
 * `refresh` black-box, against every kind of remote a record can come from: the fake Singularity
 * Hub (manifest MD5), the fake Registry Server (manifest MD5), a plain URL (a conditional HEAD with
 * the saved ETag/Last-Modified: 304 or 200) and Debian's docker-registry (the tag's manifest digest
 * by HEAD). Each with a current and an out-of-date record; `--pull` brings the new version as its
 * own record and keeps the old one; records without a remote cause no request.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { type CliResult, sregistry, sregistryInProcess } from "../support/cli.ts";
import { type FakeHub, startFakeHub } from "../support/fake_hub.ts";
import { startFakeRegistry } from "../support/fake_registry.ts";
import { registryTest, startDockerRegistry, startProxy } from "../support/docker_registry.ts";
import { type TempHome, tempHome } from "../support/home.ts";
import { pushShape, sifBytes } from "../support/oci_artifacts.ts";
import { downloadRequests, hubEnv, manifestRequests } from "../support/pulls.ts";
import { registryEnv, requestLines } from "../support/registry_env.ts";
import { assertFailure, type ImageRecord, md5, records, snapshot } from "../support/state.ts";

/** One record as `refresh --json` reports it. */
interface Entry {
  id: number;
  uri: string;
  client: string;
  url: string | null;
  location: string;
  version: string | null;
  status: string;
  remote: string | null;
  remote_version: string | null;
  detail: string | null;
  hint?: string;
  pulled: ImageRecord | null;
  notes: string[];
}

/** `refresh --json`'s output. */
interface Report {
  images: Entry[];
  summary: Record<string, number>;
}

async function refresh(
  args: string[],
  env: Record<string, string>,
): Promise<CliResult & { report: Report }> {
  const result = await sregistry(["refresh", "--json", ...args], { env });
  return { ...result, report: JSON.parse(result.stdout) as Report };
}

function entry(report: Report, uriPrefix: string): Entry {
  const found = report.images.find((image) => image.uri.startsWith(uriPrefix));
  assert.ok(found, `no entry for ${uriPrefix} in ${JSON.stringify(report, null, 2)}`);
  return found;
}

async function pulled(args: string[], env: Record<string, string>): Promise<ImageRecord> {
  const result = await sregistry(["pull", "--json", ...args], { env });
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout) as ImageRecord;
}

async function listed(home: TempHome): Promise<ImageRecord[]> {
  return records(await sregistry(["images", "--json"], { env: home.env }));
}

const OLD = sifBytes(20_000, 1);
const NEW = sifBytes(21_000, 2);
const SAME = sifBytes(22_000, 3);

// Two images pulled from the hub, then the hub gets a new version of one of them.
async function hubWithTwoPulls(hub: FakeHub, home: TempHome): Promise<void> {
  hub.addImage("lab", "same", "latest", SAME);
  hub.addImage("lab", "tool", "latest", OLD);
  await pulled(["hub://lab/same"], hubEnv(home, hub));
  await pulled(["hub://lab/tool"], hubEnv(home, hub));
  hub.addImage("lab", "tool", "latest", NEW);
}

Deno.test("refresh asks the hub for each pulled image's manifest and reports which are out of date", async () => {
  await using hub = await startFakeHub();
  await using home = await tempHome();
  await hubWithTwoPulls(hub, home);
  const before = hub.requests.length;

  const { code, report, stderr } = await refresh([], hubEnv(home, hub));

  assert.equal(code, 0, stderr);
  assert.equal(stderr, "", "nothing on stderr with --json");
  const same = entry(report, "lab/same:latest@");
  assert.equal(same.status, "current");
  assert.equal(same.remote, "hub://lab/same:latest");
  assert.equal(same.remote_version, md5(SAME));
  const tool = entry(report, `lab/tool:latest@${md5(OLD)}`);
  assert.equal(tool.status, "outdated");
  assert.equal(tool.remote_version, md5(NEW));
  assert.equal(tool.client, "hub");
  assert.equal(tool.location, "local");
  assert.equal(tool.pulled, null);
  assert.deepEqual(report.summary, {
    images: 2,
    current: 1,
    outdated: 1,
    updated: 0,
    gone: 0,
    unknown: 0,
    skipped: 0,
    failed: 0,
    without_remote: 0,
    older_versions: 0,
  });
  const asked = hub.requests.slice(before).map((seen) => `${seen.method} ${seen.path}`);
  assert.deepEqual(asked.sort(), [
    "GET /api/container/lab/same:latest",
    "GET /api/container/lab/tool:latest",
  ], "one manifest request per image, no download");
  assert.deepEqual(hub.unexpected, []);
});

Deno.test("refresh's table lists what is not current, and stderr says what to run", async () => {
  await using hub = await startFakeHub();
  await using home = await tempHome();
  await hubWithTwoPulls(hub, home);

  const result = await sregistry(["refresh"], { env: hubEnv(home, hub) });

  assert.equal(result.code, 0, result.stderr);
  const rows = result.stdout.trimEnd().split("\n");
  assert.match(rows[0], /^status\s+image\s+remote\s+detail$/);
  assert.equal(rows.length, 2, result.stdout);
  assert.match(
    rows[1],
    new RegExp(
      `^outdated\\s+lab/tool:latest@${md5(OLD)}\\s+hub://lab/tool:latest\\s+.*${md5(NEW)}`,
    ),
  );
  assert.match(result.stderr, /refresh: 2 images \(1 current, 1 outdated\)/);
  assert.match(result.stderr, /'sregistry refresh --pull' fetches the newer image/);
});

Deno.test("refresh --pull fetches the newer version as its own record and keeps the old one", async () => {
  await using hub = await startFakeHub();
  await using home = await tempHome();
  await hubWithTwoPulls(hub, home);
  const oldPath = join(home.storage, "lab", "tool", `latest@${md5(OLD)}.sif`);

  const { code, report, stderr } = await refresh(["--pull"], hubEnv(home, hub));

  assert.equal(code, 0, stderr);
  const tool = entry(report, `lab/tool:latest@${md5(OLD)}`);
  assert.equal(tool.status, "updated");
  assert.equal(tool.pulled?.uri, `lab/tool:latest@${md5(NEW)}`);
  assert.deepEqual(Deno.readFileSync(tool.pulled!.image!), NEW);
  assert.deepEqual(Deno.readFileSync(oldPath), OLD, "the old version's file is kept");
  assert.equal(entry(report, "lab/same:latest@").status, "current");
  assert.deepEqual(
    (await listed(home)).map((record) => record.uri),
    [`lab/same:latest@${md5(SAME)}`, `lab/tool:latest@${md5(OLD)}`, `lab/tool:latest@${md5(NEW)}`],
  );
  const got = await sregistry(["get", "lab/tool"], { env: home.env });
  assert.equal(got.stdout.trim(), tool.pulled!.image, "the name now means the new version");
  assert.equal((await sregistry(["verify"], { env: home.env })).code, 0, "the store is clean");

  const again = await sregistry(["refresh"], { env: hubEnv(home, hub) });
  assert.equal(again.code, 0, again.stderr);
  assert.equal(again.stdout, "", "everything current: no table");
  assert.match(again.stderr, /refresh: 2 images \(2 current\); not asked about: 1 older version/);
});

Deno.test("refresh without --pull changes nothing", async () => {
  await using hub = await startFakeHub();
  await using home = await tempHome();
  await hubWithTwoPulls(hub, home);
  const before = await snapshot(home);

  assert.equal((await refresh([], hubEnv(home, hub))).code, 0);

  const after = await snapshot(home);
  assert.deepEqual(after.files, before.files);
  // `images --json` shows use times; refresh is no use of an image.
  assert.deepEqual(after.images, before.images);
});

Deno.test("refresh checks the Registry Server's manifests; --pull brings the pushed replacement", async () => {
  await using server = await startFakeRegistry();
  await using home = await tempHome();
  const env = registryEnv(home, server);
  await server.addImage("lab", "same", "v1", SAME);
  await server.addImage("lab", "tool", "v1", OLD);
  await pulled(["registry://lab/same:v1"], env);
  await pulled(["registry://lab/tool:v1"], env);
  await server.addImage("lab", "tool", "v1", NEW); // a push replaces lab/tool:v1
  const before = server.requests.length;

  const { code, report, stderr } = await refresh([], env);

  assert.equal(code, 0, stderr);
  assert.equal(entry(report, "lab/same:v1@").status, "current");
  const tool = entry(report, "lab/tool:v1@");
  assert.equal(tool.status, "outdated");
  assert.equal(tool.remote, "registry://lab/tool:v1");
  assert.equal(tool.remote_version, md5(NEW));
  assert.deepEqual(requestLines(server, before).sort(), [
    "GET /api/container/lab/same:v1",
    "GET /api/container/lab/tool:v1",
  ]);

  const updated = await refresh(["--pull", "tool"], env);
  assert.equal(updated.code, 0, updated.stderr);
  assert.equal(updated.report.images.length, 1, "the query selects the records asked about");
  const now = entry(updated.report, "lab/tool:v1@");
  assert.equal(now.status, "updated");
  assert.equal(now.pulled?.uri, `lab/tool:v1@${md5(NEW)}`);
  assert.deepEqual(Deno.readFileSync(now.pulled!.image!), NEW);
  assert.deepEqual(server.unexpected, []);
});

Deno.test("refresh asks a plain URL with a conditional HEAD: 304 is current, a new ETag out of date", async () => {
  await using hub = await startFakeHub();
  await using home = await tempHome();
  const kept = hub.addImage("files", "kept", "latest", SAME);
  const changed = hub.addImage("files", "changed", "latest", OLD);
  await pulled([kept.downloadUrl, "--name", "web/kept:1"], home.env);
  await pulled([changed.downloadUrl, "--name", "web/changed:1"], home.env);
  hub.replaceContent(changed, NEW);
  const before = hub.requests.length;

  const { code, report, stderr } = await refresh([], home.env);

  assert.equal(code, 0, stderr);
  const current = entry(report, "web/kept:1@");
  assert.equal(current.status, "current");
  assert.equal(current.remote, kept.downloadUrl);
  assert.match(current.detail ?? "", /304 Not Modified/);
  const outdated = entry(report, "web/changed:1@");
  assert.equal(outdated.status, "outdated");
  assert.match(outdated.detail ?? "", /ETag changed/);
  const asked = hub.requests.slice(before);
  assert.deepEqual(asked.map((seen) => seen.method), ["HEAD", "HEAD"], "no body is fetched");
  for (const seen of asked) {
    assert.match(seen.headers["if-none-match"], /^"[0-9a-f]{32}"$/);
    assert.ok(seen.headers["if-modified-since"]);
  }

  const updated = await refresh(["--pull"], home.env);
  assert.equal(updated.code, 0, updated.stderr);
  const now = entry(updated.report, "web/changed:1@");
  assert.equal(now.status, "updated");
  assert.equal(now.pulled?.uri, `web/changed:1@${md5(NEW)}`);
  assert.equal(now.pulled?.url, changed.downloadUrl);
  assert.deepEqual(Deno.readFileSync(now.pulled!.image!), NEW);
  assert.match(now.notes.join("\n"), /unverified/, "a plain download says it is unverified");
  assert.equal(downloadRequests(hub, kept).filter((seen) => seen.method === "GET").length, 1);
  assert.equal(entry(updated.report, "web/kept:1@").status, "current");
  const listedNow = (await listed(home)).map((record) => record.uri);
  assert.ok(listedNow.includes(`web/changed:1@${md5(OLD)}`), "the old version is kept");
});

Deno.test("a plain URL that gave no validators is unknown, HEAD refused falls back to GET, and a vanished file is gone", async () => {
  await using server = await startFakeRegistry();
  await using home = await tempHome();
  await server.addImage("lab", "plain", "v1", OLD);
  // The download URL carries the image's secret: the manifest names it.
  const manifest = await (await fetch(`${server.base}/container/lab/plain:v1`)).json();
  await pulled([manifest.image, "--name", "web/plain:1"], home.env);

  const unknown = await refresh([], home.env);
  assert.equal(unknown.code, 0, unknown.stderr);
  const plain = entry(unknown.report, "web/plain:1@");
  assert.equal(plain.status, "unknown");
  assert.match(plain.detail ?? "", /gave no ETag or Last-Modified/);

  server.setMode("head-405");
  const before = server.requests.length;
  const fallback = await refresh([], home.env);
  assert.equal(entry(fallback.report, "web/plain:1@").status, "unknown");
  assert.deepEqual(
    server.requests.slice(before).map((seen) => seen.method),
    ["HEAD", "GET"],
  );

  server.setMode(null);
  await server.addImage("lab", "plain", "v1", NEW); // the old download URL is gone with it
  const gone = await refresh([], home.env);
  assert.equal(gone.code, 0, gone.stderr);
  assert.equal(entry(gone.report, "web/plain:1@").status, "gone");
  const table = await sregistry(["refresh"], { env: home.env });
  assert.match(table.stderr, /1 image no longer on its remote; what is stored is kept/);
  assert.equal((await listed(home)).length, 1, "nothing is removed");
});

Deno.test("records without a remote, by-hand records and unknown clients cause no request", async () => {
  await using hub = await startFakeHub();
  await using home = await tempHome();
  const env = hubEnv(home, hub);
  assert.equal(
    (await sregistry(["add", home.file("a.sif", SAME), "--name", "local/only:1"], { env })).code,
    0,
  );
  assert.equal(
    (await sregistry(["record", "lab/by-hand:1", "--url", `${hub.url}/download/9`], { env }))
      .code,
    0,
  );
  assert.equal(
    (await sregistry(["record", "lab/other:1", "--url", `${hub.url}/download/8`], { env })).code,
    0,
  );
  const db = new DatabaseSync(join(home.database, "sregistry.db"));
  db.prepare("UPDATE container SET client = 'google-storage' WHERE name = 'other'").run();
  db.close();

  const { code, report, stderr } = await refresh(["--pull"], env);

  assert.equal(code, 0, stderr);
  assert.deepEqual(hub.requests, [], "no request at all");
  assert.equal(report.summary.without_remote, 1);
  const byHand = entry(report, "lab/by-hand:1");
  assert.equal(byHand.status, "skipped");
  assert.match(byHand.detail ?? "", /no Singularity Hub manifest is kept with it/);
  const other = entry(report, "lab/other:1");
  assert.equal(other.status, "skipped");
  assert.match(other.detail ?? "", /client 'google-storage', which sregistry does not have/);
  assert.equal(report.images.length, 2);
});

Deno.test("a remote-only record is kept remote-only: --pull records the new version, downloads nothing", async () => {
  await using hub = await startFakeHub();
  await using home = await tempHome();
  const env = hubEnv(home, hub);
  const first = hub.addImage("lab", "big", "latest", OLD);
  assert.equal((await sregistry(["record", "hub://lab/big"], { env })).code, 0);
  const second = hub.addImage("lab", "big", "latest", NEW);

  const checked = await refresh([], env);
  assert.equal(entry(checked.report, "lab/big:latest@").status, "outdated");
  assert.equal(entry(checked.report, "lab/big:latest@").location, "remote");

  const { code, report, stderr } = await refresh(["--pull"], env);

  assert.equal(code, 0, stderr);
  const big = entry(report, `lab/big:latest@${md5(OLD)}`);
  assert.equal(big.status, "updated");
  assert.equal(big.pulled?.uri, `lab/big:latest@${md5(NEW)}`);
  assert.equal(big.pulled?.image, null);
  assert.equal(big.pulled?.url, second.downloadUrl);
  assert.deepEqual([...downloadRequests(hub, first), ...downloadRequests(hub, second)], []);
  assert.deepEqual((await listed(home)).map((record) => record.image), [null, null]);
});

Deno.test("only the newest version of a name is asked about", async () => {
  await using hub = await startFakeHub();
  await using home = await tempHome();
  const env = hubEnv(home, hub);
  hub.addImage("lab", "tool", "latest", OLD);
  await pulled(["hub://lab/tool"], env);
  hub.addImage("lab", "tool", "latest", NEW);
  await pulled(["hub://lab/tool"], env);
  const before = manifestRequests(hub).length;

  const { code, report } = await refresh([], env);

  assert.equal(code, 0);
  assert.deepEqual(report.images.map((image) => [image.uri, image.status]), [
    [`lab/tool:latest@${md5(NEW)}`, "current"],
  ]);
  assert.equal(report.summary.older_versions, 1);
  assert.equal(manifestRequests(hub).length - before, 1);
});

Deno.test("refresh with nothing to ask about exits 0; a bad --jobs is exit 2", async () => {
  await using home = await tempHome();
  const empty = await sregistry(["refresh"], { env: home.env });
  assert.equal(empty.code, 0, empty.stderr);
  assert.equal(empty.stdout, "");
  assert.match(empty.stderr, /refresh: 0 images/);
  for (const jobs of ["0", "17", "two", "1.5"]) {
    assertFailure(
      await sregistry(["refresh", "--jobs", jobs], { env: home.env }),
      2,
      /--jobs takes a whole number from 1 to 16/,
    );
  }
});

Deno.test("on a terminal, refresh shows a count while it asks, then clears it", async () => {
  await using hub = await startFakeHub();
  await using home = await tempHome();
  await hubWithTwoPulls(hub, home);
  const result = await sregistryInProcess(["refresh"], {
    env: hubEnv(home, hub),
    cwd: home.path,
    stderrTerminal: true,
  });
  assert.equal(result.code, 0, result.stderr);
  assert.ok(result.stderr.includes("\rrefresh: 0/2\x1b[K"), JSON.stringify(result.stderr));
  assert.ok(result.stderr.includes("\r\x1b[K"), "the count is cleared");
  const quiet = await sregistryInProcess(["refresh", "--quiet"], {
    env: hubEnv(home, hub),
    cwd: home.path,
    stderrTerminal: true,
  });
  assert.equal(quiet.stderr, "");
});

registryTest(
  "refresh HEADs an oras:// tag's manifest: same digest current, a new layer out of date",
  async () => {
    await using registry = await startDockerRegistry({ relativeUrls: true });
    await using proxy = startProxy(registry);
    await using home = await tempHome();
    const host = proxy.host;
    await pushShape(registry, "t/same", "1", SAME, "apptainer-1.3.1");
    await pushShape(registry, "t/relabelled", "1", OLD, "apptainer-1.3.1");
    await pushShape(registry, "t/tool", "1", OLD, "apptainer-1.3.1");
    for (const repository of ["t/same", "t/relabelled", "t/tool"]) {
      await pulled([`oras://${host}/${repository}:1`], home.env);
    }
    // Another manifest with the same SIF layer, and a new image under the tag.
    await pushShape(registry, "t/relabelled", "1", OLD, "oras-cli");
    const pushed = await pushShape(registry, "t/tool", "1", NEW, "apptainer-1.3.1");
    const before = proxy.requests.length;

    const { code, report, stderr } = await refresh([], home.env);

    assert.equal(code, 0, stderr);
    assert.equal(entry(report, `${host}/t/same:1@`).status, "current");
    assert.equal(entry(report, `${host}/t/same:1@`).remote, `oras://${host}/t/same:1`);
    const relabelled = entry(report, `${host}/t/relabelled:1@`);
    assert.equal(relabelled.status, "current");
    assert.match(relabelled.detail ?? "", /new manifest of the same image/);
    const tool = entry(report, `${host}/t/tool:1@`);
    assert.equal(tool.status, "outdated");
    assert.equal(tool.remote_version, pushed.manifestDigest);
    const asked = proxy.requests.slice(before).map((seen) => `${seen.method} ${seen.path}`);
    assert.ok(asked.includes("HEAD /v2/t/same/manifests/1"), asked.join("\n"));
    assert.ok(
      !asked.some((line) => line.startsWith("GET /v2/t/same/")),
      "a current tag costs a HEAD only",
    );
    assert.ok(!asked.some((line) => line.includes("/blobs/")), "no blob is fetched");

    const updated = await refresh(["--pull"], home.env);
    assert.equal(updated.code, 0, updated.stderr);
    const now = entry(updated.report, `${host}/t/tool:1@`);
    assert.equal(now.status, "updated");
    assert.equal(now.pulled?.uri, `${host}/t/tool:1@${md5(NEW)}`);
    assert.equal(now.pulled?.url, `oras://${host}/t/tool:1@${pushed.manifestDigest}`);
    assert.deepEqual(Deno.readFileSync(now.pulled!.image!), NEW);
    assert.equal((await listed(home)).length, 4, "the old version is kept");
  },
);

registryTest(
  "an oras:// tag deleted from the registry is gone; a digest pin is current",
  async () => {
    await using registry = await startDockerRegistry();
    await using home = await tempHome();
    const pushedGone = await pushShape(registry, "t/gone", "1", OLD, "apptainer-1.3.1");
    const pinned = await pushShape(registry, "t/pinned", "1", SAME, "apptainer-1.3.1");
    await pulled([`oras://${registry.host}/t/gone:1`], home.env);
    await pulled([`oras://${registry.host}/t/pinned@${pinned.manifestDigest}`], home.env);
    const deleted = await sregistry(
      ["delete", "--force", `oras://${registry.host}/t/gone@${pushedGone.manifestDigest}`],
      { env: home.env },
    );
    assert.equal(deleted.code, 0, deleted.stderr);

    const { code, report, stderr } = await refresh([], home.env);

    assert.equal(code, 0, stderr);
    assert.equal(entry(report, `${registry.host}/t/gone:1@`).status, "gone");
    const pin = entry(report, `${registry.host}/t/pinned:sha256-`);
    assert.equal(pin.status, "current");
    assert.equal(pin.remote, `oras://${registry.host}/t/pinned@${pinned.manifestDigest}`);
    assert.match(pin.detail ?? "", /pinned to a digest/);
  },
);

Deno.test("one remote gets at most two requests at a time, whatever --jobs says", async () => {
  // A plain-URL server whose conditional HEADs take a while, counting those in flight.
  let inFlight = 0;
  let most = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const headers = { etag: `"${new URL(req.url).pathname}"`, "content-length": "4" };
    if (req.method === "GET") return new Response("SIF!", { headers });
    inFlight++;
    most = Math.max(most, inFlight);
    await new Promise((resolve) => setTimeout(resolve, 50));
    inFlight--;
    return new Response(null, { status: 304, headers });
  });
  await using _server = { [Symbol.asyncDispose]: () => server.shutdown() };
  await using home = await tempHome();
  for (let index = 0; index < 6; index++) {
    const url = `http://127.0.0.1:${server.addr.port}/file/${index}`;
    await pulled([url, "--name", `web/file-${index}:1`], home.env);
  }

  const { code, report, stderr } = await refresh(["--jobs", "16"], home.env);

  assert.equal(code, 0, stderr);
  assert.equal(report.summary.current, 6);
  assert.equal(most, 2, "two at a time, never more");
});
