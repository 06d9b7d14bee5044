/**
 * `pull` of plain http(s) URLs, black-box: no manifest, so the version is the MD5 computed while
 * downloading; the name comes from --name or from the URL, and the message says which.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { sregistry } from "../support/cli.ts";
import { startFakeHub } from "../support/fake_hub.ts";
import { tempHome } from "../support/home.ts";
import { assertFailure, assertUnchanged, md5, records, snapshot } from "../support/state.ts";
import {
  assertTransferFailure,
  downloadRequests,
  imageFiles,
  leftovers,
  manifestRequests,
} from "../support/pulls.ts";
import { closedPort } from "../support/registry_env.ts";

const CONTENT = new TextEncoder().encode("an image served from a plain URL\n");
const DIGEST = md5(CONTENT);

Deno.test("pull <url> --name records the image under that name, with version = MD5 and the URL", async () => {
  await using hub = await startFakeHub();
  await using home = await tempHome();
  const image = hub.addImage("ignored", "ignored", "latest", CONTENT);

  const pulled = await sregistry(["pull", image.downloadUrl, "--name", "lab/tool:v1"], {
    env: home.env,
  });

  assert.equal(pulled.code, 0, pulled.stderr);
  const path = join(home.storage, "lab", "tool", `v1@${DIGEST}.sif`);
  assert.equal(pulled.stdout, `${path}\n`);
  assert.match(pulled.stderr, /\[client\|http\]/);
  assert.match(pulled.stderr, new RegExp(`\\[container\\]\\[new\\] lab/tool:v1@${DIGEST}`));
  assert.doesNotMatch(pulled.stderr, /no --name given/);
  assert.deepEqual(Deno.readFileSync(path), CONTENT);
  assert.deepEqual(manifestRequests(hub), [], "no manifest for a plain URL");
  assert.equal(downloadRequests(hub, image).length, 1);
  assert.match(downloadRequests(hub, image)[0].headers["user-agent"], /^sregistry\//);

  const [record] = records(await sregistry(["images", "--json"], { env: home.env }));
  assert.equal(record.uri, `lab/tool:v1@${DIGEST}`);
  assert.equal(record.version, DIGEST);
  assert.equal(record.md5, DIGEST);
  assert.equal(record.url, image.downloadUrl);
  assert.equal(record.client, "http");
  assert.equal(record.image, path);
  const got = await sregistry(["get", "lab/tool:v1"], { env: home.env });
  assert.equal(got.stdout, `${path}\n`);
  assert.deepEqual(leftovers(home.storage), []);
});

Deno.test("pull <url> without --name derives a name and says which", async () => {
  await using hub = await startFakeHub();
  await using home = await tempHome();
  const image = hub.addImage("ignored", "ignored", "latest", CONTENT);

  const pulled = await sregistry(["pull", image.downloadUrl], { env: home.env });

  assert.equal(pulled.code, 0, pulled.stderr);
  const uri = `download/${image.id}:latest@${DIGEST}`;
  assert.match(pulled.stderr, new RegExp(`no --name given; recorded as ${uri}`));
  const [record] = records(await sregistry(["images", "--json"], { env: home.env }));
  assert.equal(record.uri, uri);
  assert.equal(record.url, image.downloadUrl);
  assert.deepEqual(imageFiles(home.storage), [`download/${image.id}/latest@${DIGEST}.sif`]);
});

Deno.test("pulling the same URL twice keeps one record and one file", async () => {
  await using hub = await startFakeHub();
  await using home = await tempHome();
  const image = hub.addImage("ignored", "ignored", "latest", CONTENT);
  const args = ["pull", image.downloadUrl, "--name", "lab/tool:v1"];

  assert.equal((await sregistry(args, { env: home.env })).code, 0);
  const again = await sregistry(args, { env: home.env });

  assert.equal(again.code, 0, again.stderr);
  assert.equal(records(await sregistry(["images", "--json"], { env: home.env })).length, 1);
  assert.deepEqual(imageFiles(home.storage), [`lab/tool/v1@${DIGEST}.sif`]);
  assert.deepEqual(leftovers(home.storage), []);
});

Deno.test("a redirected URL is followed and recorded under the URL the user gave", async () => {
  await using hub = await startFakeHub({ mode: "redirect" });
  await using home = await tempHome();
  const image = hub.addImage("ignored", "ignored", "latest", CONTENT);

  const pulled = await sregistry(["pull", image.downloadUrl, "--name", "lab/tool"], {
    env: home.env,
  });

  assert.equal(pulled.code, 0, pulled.stderr);
  assert.equal(downloadRequests(hub, image).length, 3);
  const [record] = records(await sregistry(["images", "--json"], { env: home.env }));
  assert.equal(record.url, image.downloadUrl);
  assert.equal(record.md5, DIGEST);
});

Deno.test("a URL that is not found fails with exit 1, records nothing and hides tokens", async () => {
  await using hub = await startFakeHub();
  await using home = await tempHome();
  assert.equal((await sregistry(["images"], { env: home.env })).code, 0);
  const before = await snapshot(home);

  const result = await sregistry(
    ["pull", `${hub.url}/download/42?token=s3cr3t-value`, "--name", "lab/tool"],
    { env: home.env },
  );

  assertTransferFailure(result, 1, /GET .*\/download\/42\?token=REDACTED: HTTP 404 Not Found/);
  assert.doesNotMatch(result.stderr, /s3cr3t/);
  assertUnchanged(before, await snapshot(home), "a URL that was not found");
});

Deno.test("a URL cut short fails with exit 1 and records nothing", async () => {
  await using hub = await startFakeHub({ mode: "truncate" });
  await using home = await tempHome();
  const image = hub.addImage("ignored", "ignored", "latest", { size: 3_000_000, seed: 4 });

  const result = await sregistry(["pull", image.downloadUrl, "--name", "lab/tool"], {
    env: { ...home.env, SREGISTRY_RETRIES: "0" },
  });

  assertTransferFailure(result, 1, /was cut short: got \d+ of 3000000 bytes/);
  assert.deepEqual(imageFiles(home.storage), []);
  assert.deepEqual(records(await sregistry(["images", "--json"], { env: home.env })), []);
});

Deno.test("an unreachable URL fails with exit 1 saying it could not reach the host", async () => {
  await using home = await tempHome();
  const port = closedPort();

  const result = await sregistry(
    ["pull", `http://127.0.0.1:${port}/image.sif`, "--name", "lab/tool"],
    { env: { ...home.env, SREGISTRY_RETRIES: "0" } },
  );

  assertTransferFailure(result, 1, new RegExp(`could not reach 127\\.0\\.0\\.1:${port}`));
  assert.deepEqual(imageFiles(home.storage), []);
  assert.deepEqual(leftovers(home.storage), []);
});

Deno.test("an invalid --name for a URL is refused before anything is downloaded", async () => {
  await using hub = await startFakeHub();
  await using home = await tempHome();
  const image = hub.addImage("ignored", "ignored", "latest", CONTENT);
  assert.equal((await sregistry(["images"], { env: home.env })).code, 0);
  const before = await snapshot(home);

  const result = await sregistry(["pull", image.downloadUrl, "--name", "lab/../../etc"], {
    env: home.env,
  });

  assertFailure(result, 2, /invalid image name/);
  assert.deepEqual(hub.requests, []);
  assertUnchanged(before, await snapshot(home), "an invalid name");
});
