/**
 * `refresh` when remotes fail or lie: a remote that is down (exit 1, one line, the rest of its
 * records not asked again, nothing changed), hostile and broken answers from the fake hub and the
 * fake Registry Server (their fault modes), and answers that are retried.
 */
import assert from "node:assert/strict";
import { sregistry } from "../support/cli.ts";
import { startFakeHub } from "../support/fake_hub.ts";
import { startFakeRegistry } from "../support/fake_registry.ts";
import { tempHome } from "../support/home.ts";
import { sifBytes } from "../support/oci_artifacts.ts";
import { assertTransferFailure, downloadRequests, hubEnv } from "../support/pulls.ts";
import { registryEnv } from "../support/registry_env.ts";
import { assertUnchanged, md5, snapshot } from "../support/state.ts";

interface Entry {
  uri: string;
  status: string;
  detail: string | null;
  hint?: string;
  pulled: unknown;
}

function entries(stdout: string): Entry[] {
  return (JSON.parse(stdout) as { images: Entry[] }).images;
}

function statusOf(stdout: string, prefix: string): Entry {
  const found = entries(stdout).find((entry) => entry.uri.startsWith(prefix));
  assert.ok(found, `no ${prefix} in ${stdout}`);
  return found;
}

const A = sifBytes(10_000, 11);
const B = sifBytes(11_000, 12);
const C = sifBytes(12_000, 13);

Deno.test("a hub that is down: exit 1 in one line, its other records not asked again, nothing changed", async () => {
  await using home = await tempHome();
  const hub = await startFakeHub();
  const env = hubEnv(home, hub, { SREGISTRY_RETRIES: "0" });
  hub.addImage("lab", "one", "latest", A);
  hub.addImage("lab", "two", "latest", B);
  for (const name of ["one", "two"]) {
    assert.equal((await sregistry(["pull", `hub://lab/${name}`], { env })).code, 0);
  }
  const port = new URL(hub.url).port;
  await hub.close();
  const before = await snapshot(home);

  const table = await sregistry(["refresh", "--jobs", "1", "--pull"], { env });

  assertTransferFailure(
    table,
    1,
    new RegExp(
      `^sregistry: could not refresh 2 images; the first, lab/one:latest@${md5(A)}: ` +
        `could not reach 127\\.0\\.0\\.1:${port}`,
    ),
  );
  assert.match(table.stdout, /^failed\s+lab\/one:latest@/m);
  assert.match(
    table.stdout,
    /^failed\s+lab\/two:latest@.*not asked: 127\.0\.0\.1:\d+ did not answer/m,
  );
  assertUnchanged(before, await snapshot(home), "refresh of a down hub");

  const json = await sregistry(["refresh", "--json"], { env });
  assert.equal(json.code, 1);
  assert.deepEqual(entries(json.stdout).map((entry) => entry.status), ["failed", "failed"]);
  const error = JSON.parse(json.stderr.trim().split("\n").at(-1)!);
  assert.equal(error.error.code, "remote");
  assert.match(error.error.message, /could not refresh 2 images/);
});

Deno.test("one remote down does not stop the others: exit 1, the others reported and pulled", async () => {
  await using hub = await startFakeHub();
  await using server = await startFakeRegistry();
  await using home = await tempHome();
  const env = { ...registryEnv(home, server), ...hubEnv(home, hub), SREGISTRY_RETRIES: "0" };
  hub.addImage("lab", "hubbed", "latest", A);
  await server.addImage("lab", "served", "v1", B);
  assert.equal((await sregistry(["pull", "hub://lab/hubbed"], { env })).code, 0);
  assert.equal((await sregistry(["pull", "registry://lab/served:v1"], { env })).code, 0);
  await server.addImage("lab", "served", "v1", C);
  await server.close();
  hub.addImage("lab", "hubbed", "latest", B);

  const result = await sregistry(["refresh", "--json", "--pull"], { env });

  assert.equal(result.code, 1, result.stderr);
  assert.equal(statusOf(result.stdout, "lab/served:v1@").status, "failed");
  const hubbed = statusOf(result.stdout, `lab/hubbed:latest@${md5(A)}`);
  assert.equal(hubbed.status, "updated");
});

Deno.test("hostile hub answers: a path as version and a file:// image fail, a non-MD5 version is unknown and never pulled", async () => {
  await using hub = await startFakeHub();
  await using home = await tempHome();
  const env = hubEnv(home, hub);
  const image = hub.addImage("lab", "tool", "latest", A);
  assert.equal((await sregistry(["pull", "hub://lab/tool"], { env })).code, 0);

  hub.forgeManifest({ version: "../../../../victim/keep" });
  assertTransferFailure(
    await sregistry(["refresh", "--pull"], { env }),
    1,
    /answered with an unusable name: .*'\/' is not allowed in a version/,
  );

  hub.forgeManifest({ version: "build-2024" });
  const unknown = await sregistry(["refresh", "--json", "--pull"], { env });
  assert.equal(unknown.code, 0, unknown.stderr);
  const entry = statusOf(unknown.stdout, "lab/tool:latest@");
  assert.equal(entry.status, "unknown");
  assert.match(entry.detail ?? "", /names no MD5/);
  assert.equal(downloadRequests(hub, image).length, 1, "only the first pull downloaded");

  hub.forgeManifest({ image: "file:///etc/passwd", version: md5(B) });
  const refused = await sregistry(["refresh", "--pull"], { env });
  assertTransferFailure(
    refused,
    1,
    /gave the image URL "file:\/\/\/etc\/passwd", which is not http/,
  );
  assert.equal(downloadRequests(hub, image).length, 1);
});

Deno.test("hub answers of the wrong shape fail that image only; the hub is still asked about the rest", async () => {
  await using hub = await startFakeHub();
  await using home = await tempHome();
  const env = hubEnv(home, hub);
  hub.addImage("lab", "one", "latest", A);
  hub.addImage("lab", "two", "latest", B);
  for (const name of ["one", "two"]) {
    assert.equal((await sregistry(["pull", `hub://lab/${name}`], { env })).code, 0);
  }
  let answered = 0;
  hub.forgeAnswer(
    "manifest",
    () =>
      answered++ === 0
        ? new Response("<html><body>Maintenance</body></html>", {
          headers: { "content-type": "text/html" },
        })
        : Response.json({ image: `${hub.url}/download/2`, name: "lab/two", version: md5(B) }),
  );

  const result = await sregistry(["refresh", "--json", "--jobs", "1"], { env });

  assert.equal(result.code, 1);
  const [first, second] = entries(result.stdout);
  assert.equal(first.status, "failed");
  assert.match(first.detail ?? "", /HTML page \(HTTP 200\)/);
  assert.equal(second.status, "current", "a bad answer is no outage: the hub is asked again");
});

Deno.test("an image the hub no longer has is gone: exit 0, the stored copy kept", async () => {
  await using hub = await startFakeHub();
  await using home = await tempHome();
  const env = hubEnv(home, hub);
  hub.addImage("lab", "tool", "latest", A);
  assert.equal((await sregistry(["pull", "hub://lab/tool"], { env })).code, 0);
  hub.setMode("404");
  const before = await snapshot(home);

  const result = await sregistry(["refresh", "--pull"], { env });

  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /^gone\s+lab\/tool:latest@/m);
  assert.match(result.stderr, /1 image no longer on its remote; what is stored is kept/);
  assertUnchanged(before, await snapshot(home), "refresh of a vanished image");
});

Deno.test("a 500 or a 429 is retried and then answered", async () => {
  await using hub = await startFakeHub();
  await using home = await tempHome();
  const env = hubEnv(home, hub, { SREGISTRY_RETRIES: "2" });
  const file = hub.addImage("lab", "file", "latest", A);
  hub.addImage("lab", "tool", "latest", B);
  assert.equal((await sregistry(["pull", "hub://lab/tool"], { env })).code, 0);
  assert.equal(
    (await sregistry(["pull", file.downloadUrl, "--name", "web/file"], { env })).code,
    0,
  );
  for (const mode of ["fail-once", "429-once"] as const) {
    hub.setMode(mode);
    const result = await sregistry(["refresh", "--json"], { env });
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(entries(result.stdout).map((entry) => entry.status), ["current", "current"]);
  }
});

Deno.test("a 429 past the retries stops asking that remote for the run", async () => {
  await using hub = await startFakeHub();
  await using home = await tempHome();
  const env = hubEnv(home, hub, { SREGISTRY_RETRIES: "0" });
  hub.addImage("lab", "one", "latest", A);
  hub.addImage("lab", "two", "latest", B);
  for (const name of ["one", "two"]) {
    assert.equal((await sregistry(["pull", `hub://lab/${name}`], { env })).code, 0);
  }
  hub.forgeAnswer(
    "manifest",
    () => new Response("slow down", { status: 429, headers: { "retry-after": "0" } }),
  );
  const before = hub.requests.length;

  const result = await sregistry(["refresh", "--json", "--jobs", "1"], { env });

  assert.equal(result.code, 1);
  const [first, second] = entries(result.stdout);
  assert.match(first.detail ?? "", /429/);
  assert.match(second.detail ?? "", /^not asked: 127\.0\.0\.1:\d+ did not answer earlier/);
  assert.equal(hub.requests.length - before, 1, "one request, then the hub is left alone");
});

Deno.test("a plain URL answering an HTML page fails with a hint", async () => {
  await using hub = await startFakeHub();
  await using home = await tempHome();
  const image = hub.addImage("files", "a", "latest", A);
  assert.equal(
    (await sregistry(["pull", image.downloadUrl, "--name", "web/a"], { env: home.env })).code,
    0,
  );

  hub.setMode("html");
  const html = await sregistry(["refresh"], { env: home.env });
  assertTransferFailure(
    html,
    1,
    /answered with an HTML page \(HTTP 200\), not the image; the URL may now need a login/,
  );
});

Deno.test("the Registry Server's quirks (a bare 400 or 429 as HTTP 200) fail with its own message", async () => {
  await using server = await startFakeRegistry();
  await using home = await tempHome();
  const env = registryEnv(home, server);
  await server.addImage("lab", "tool", "v1", A);
  assert.equal((await sregistry(["pull", "registry://lab/tool:v1"], { env })).code, 0);
  for (
    const [mode, message] of [
      ["quirk-400", /rejected the request for lab\/tool:v1 \(400\)/],
      ["quirk-429", /rate limiting requests for lab\/tool:v1 \(429\)/],
    ] as const
  ) {
    server.setMode(mode);
    assertTransferFailure(await sregistry(["refresh"], { env }), 1, message);
  }
  server.setMode("wrong-md5");
  const wrong = await sregistry(["refresh", "--json", "--pull"], { env });
  assert.equal(wrong.code, 1, "the manifest's claim fails the download");
  const entry = statusOf(wrong.stdout, "lab/tool:v1@");
  assert.equal(entry.status, "failed");
  assert.match(entry.detail ?? "", /MD5 is [0-9a-f]{32}, expected 0{32}/);
  assert.equal(entry.pulled, null);
});
