/**
 * `pull` and `record` from a Singularity Registry Server (registry://), run as a user runs them
 * against a fake server on 127.0.0.1: the manifest (signed on 403 for private images), the
 * verified download, the record and its metadata, the server's quirks, and a server that is down.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { sregistry } from "../support/cli.ts";
import { startFakeRegistry } from "../support/fake_registry.ts";
import { tempHome } from "../support/home.ts";
import { assertTransferFailure, imageFiles, leftovers } from "../support/pulls.ts";
import { downRegistryEnv, registryEnv, requestsTo, signedFor } from "../support/registry_env.ts";
import { assertFailure, assertUnchanged, md5, records, snapshot } from "../support/state.ts";

const encoder = new TextEncoder();
const TACOS = encoder.encode("a Singularity image of tacos\n");
const TACOS_MD5 = md5(TACOS);
const SECRET = encoder.encode("a private image\n");
const SECRET_MD5 = md5(SECRET);

Deno.test("pull registry://collection/name:tag downloads, verifies and records it with the manifest", async () => {
  await using registry = await startFakeRegistry();
  await using home = await tempHome();
  const image = await registry.addImage("vsoch", "tacos", "latest", TACOS);
  const env = registryEnv(home, registry);
  delete env.SREGISTRY_CLIENT; // the scheme alone picks the client

  const pulled = await sregistry(["pull", "registry://vsoch/tacos:latest"], { env });

  assert.equal(pulled.code, 0, pulled.stderr);
  const path = join(home.storage, "vsoch", "tacos", `latest@${TACOS_MD5}.sif`);
  assert.equal(pulled.stdout, `${path}\n`);
  assert.match(pulled.stderr, /^\[client\|registry\] \[database\|sqlite:\/\/\//);
  assert.match(
    pulled.stderr,
    new RegExp(`\\[container\\]\\[new\\] vsoch/tacos:latest@${TACOS_MD5}`),
  );
  assert.deepEqual(Deno.readFileSync(path), TACOS);
  assert.deepEqual(leftovers(home.storage), []);

  const manifests = requestsTo(registry, "GET", "/api/container/");
  assert.deepEqual(manifests.map((seen) => seen.path), ["/api/container/vsoch/tacos:latest"]);
  assert.equal(manifests[0].authorization, undefined, "a public image is asked for unsigned");
  const downloads = registry.requests.filter((seen) => seen.path.startsWith("/containers/"));
  assert.ok(downloads.some((seen) => seen.method === "GET"), "the image was downloaded");
  for (const seen of downloads) {
    assert.equal(seen.authorization, undefined, "the download carries no credentials");
  }
  for (const seen of registry.requests) {
    assert.match(seen.headers["user-agent"], /^sregistry\/\d+\.\d+\.\d+/);
  }
  assert.deepEqual(registry.unexpected, []);

  const [record] = records(await sregistry(["images", "--json"], { env }));
  const downloadUrl = `${registry.url}/containers/${image.id}/download/`;
  assert.equal(record.uri, `vsoch/tacos:latest@${TACOS_MD5}`);
  assert.equal(record.version, image.md5, "the version is the server's MD5");
  assert.equal(record.md5, TACOS_MD5);
  assert.equal(record.size, TACOS.byteLength);
  assert.equal(record.client, "registry");
  assert.equal(record.image, path);
  assert.ok(record.url?.startsWith(downloadUrl), `url is the download URL: ${record.url}`);

  const inspected = await sregistry(["inspect", "vsoch/tacos:latest"], { env });
  assert.equal(inspected.code, 0, inspected.stderr);
  const shown = JSON.parse(inspected.stdout);
  assert.equal(shown.url, record.url);
  assert.equal(shown.metadata.image, record.url, "the manifest is the record's metadata");
  assert.equal(shown.metadata.collection, "vsoch");
  assert.equal(shown.metadata.name, "tacos");
  assert.equal(shown.metadata.tag, "latest");
  assert.equal(shown.metadata.version, TACOS_MD5);
  assert.equal(shown.metadata.id, image.id);
});

Deno.test("a bare name pulls from the registry when SREGISTRY_CLIENT=registry, tag latest by default", async () => {
  await using registry = await startFakeRegistry();
  await using home = await tempHome();
  await registry.addImage("vsoch", "tacos", "latest", TACOS);
  const v2 = encoder.encode("tacos, second recipe\n");
  await registry.addImage("vsoch", "tacos", "v2", v2);
  const env = registryEnv(home, registry);

  const latest = await sregistry(["pull", "vsoch/tacos"], { env });
  assert.equal(latest.code, 0, latest.stderr);
  const tagged = await sregistry(["pull", "--json", "vsoch/tacos:v2"], { env });
  assert.equal(tagged.code, 0, tagged.stderr);
  assert.equal(JSON.parse(tagged.stdout).uri, `vsoch/tacos:v2@${md5(v2)}`);

  assert.deepEqual(requestsTo(registry, "GET", "/api/container/").map((seen) => seen.path), [
    "/api/container/vsoch/tacos:latest",
    "/api/container/vsoch/tacos:v2",
  ]);
  assert.deepEqual(imageFiles(home.storage), [
    `vsoch/tacos/latest@${TACOS_MD5}.sif`,
    `vsoch/tacos/v2@${md5(v2)}.sif`,
  ]);
  assert.deepEqual(registry.unexpected, []);
});

Deno.test("a private image is asked for again with a pull signature after the server's 403", async () => {
  await using registry = await startFakeRegistry();
  await using home = await tempHome();
  await registry.addImage("lab", "secret", "v1", SECRET, { private: true });
  const env = registryEnv(home, registry);

  const pulled = await sregistry(["pull", "registry://lab/secret:v1"], { env });

  assert.equal(pulled.code, 0, pulled.stderr);
  const path = join(home.storage, "lab", "secret", `v1@${SECRET_MD5}.sif`);
  assert.equal(pulled.stdout, `${path}\n`);
  assert.deepEqual(Deno.readFileSync(path), SECRET);
  const manifests = requestsTo(registry, "GET", "/api/container/lab/secret:v1");
  assert.equal(manifests.length, 2);
  assert.equal(manifests[0].authorization, undefined, "first unsigned");
  assert.match(manifests[1].authorization ?? "", signedFor("pull"));
  for (const seen of registry.requests.filter((r) => r.path.startsWith("/containers/"))) {
    assert.equal(seen.authorization, undefined, "the signature is not sent with the download");
  }
  assert.deepEqual(registry.unexpected, []);
});

Deno.test("record registry://... keeps the manifest and download URL without downloading", async () => {
  await using registry = await startFakeRegistry();
  await using home = await tempHome();
  const image = await registry.addImage("vsoch", "tacos", "latest", TACOS);
  const env = registryEnv(home, registry);

  const recorded = await sregistry(["record", "--json", "registry://vsoch/tacos"], { env });

  assert.equal(recorded.code, 0, recorded.stderr);
  const record = JSON.parse(recorded.stdout);
  assert.equal(record.uri, `vsoch/tacos:latest@${TACOS_MD5}`);
  assert.equal(record.image, null, "no file");
  assert.ok(record.url.startsWith(`${registry.url}/containers/${image.id}/download/`));
  assert.equal(record.metadata.version, TACOS_MD5);
  assert.equal(record.client, "registry");
  assert.equal(registry.requests.filter((seen) => seen.path.startsWith("/containers/")).length, 0);
  assert.deepEqual(imageFiles(home.storage), []);
  assert.deepEqual(registry.unexpected, []);
});

Deno.test("pull --name saves the verified image to that file and records nothing", async () => {
  await using registry = await startFakeRegistry();
  await using home = await tempHome();
  await registry.addImage("vsoch", "tacos", "latest", TACOS);
  const env = registryEnv(home, registry);
  const before = await snapshot(home, env);

  const pulled = await sregistry(["pull", "--name", "tacos.sif", "registry://vsoch/tacos"], {
    env,
    cwd: home.path,
  });

  assert.equal(pulled.code, 0, pulled.stderr);
  const file = join(home.path, "tacos.sif");
  assert.equal(pulled.stdout, `${file}\n`);
  assert.deepEqual(Deno.readFileSync(file), TACOS);
  Deno.removeSync(file);
  assertUnchanged(before, await snapshot(home, env), "pull --name");
});

Deno.test("a host in the URI overrides the configured base, over http with SREGISTRY_REGISTRY_NOHTTPS", async () => {
  await using registry = await startFakeRegistry();
  await using configured = await startFakeRegistry();
  await using home = await tempHome();
  await registry.addImage("vsoch", "tacos", "latest", TACOS, { private: true });
  const env = registryEnv(home, configured, { SREGISTRY_REGISTRY_NOHTTPS: "true" });

  const pulled = await sregistry(["pull", `registry://${registry.host}/vsoch/tacos:latest`], {
    env,
  });

  assert.equal(pulled.code, 0, pulled.stderr);
  assert.deepEqual(configured.requests, [], "the configured base is not asked");
  assert.deepEqual(requestsTo(registry, "GET", "/api/container/").map((seen) => seen.path), [
    "/api/container/vsoch/tacos:latest",
    "/api/container/vsoch/tacos:latest",
  ]);
  const [record] = records(await sregistry(["images", "--json"], { env }));
  assert.equal(record.md5, TACOS_MD5);
  assert.equal(record.version, TACOS_MD5);
  assert.ok(record.image?.startsWith(home.storage), record.image ?? "no image");
  assert.deepEqual(Deno.readFileSync(record.image!), TACOS);
  assert.deepEqual(registry.unexpected, []);
});

Deno.test("a host in the URI is asked over https unless SREGISTRY_REGISTRY_NOHTTPS is truthy", async () => {
  await using registry = await startFakeRegistry();
  await registry.addImage("vsoch", "tacos", "latest", TACOS);
  for (const noHttps of [undefined, "false", "0"]) {
    await using home = await tempHome();
    const extra: Record<string, string> = { SREGISTRY_RETRIES: "0" };
    if (noHttps !== undefined) extra.SREGISTRY_REGISTRY_NOHTTPS = noHttps;
    const env = registryEnv(home, registry, extra);
    const pulled = await sregistry(["pull", `registry://${registry.host}/vsoch/tacos`], { env });
    // A TLS handshake with a plain http server fails: the request never reaches a route.
    assertFailure(pulled, 1, new RegExp(registry.host.replace(/\./g, "\\.")));
    assert.deepEqual(imageFiles(home.storage), [], `NOHTTPS=${noHttps}`);
  }
  assert.deepEqual(requestsTo(registry, "GET", "/api/"), [], "nothing was asked over http");
});

Deno.test("a truncated download is refused and nothing is recorded", async () => {
  await using registry = await startFakeRegistry();
  await using home = await tempHome();
  await registry.addImage("vsoch", "tacos", "latest", encoder.encode("x".repeat(64 * 1024)));
  const env = registryEnv(home, registry, { SREGISTRY_RETRIES: "0" });
  const before = await snapshot(home, env);
  registry.setMode("truncate");

  const pulled = await sregistry(["pull", "registry://vsoch/tacos"], { env });

  assert.equal(pulled.code, 1, pulled.stderr);
  assert.match(pulled.stderr, /^sregistry: .*(cut short|got \d+ of \d+ bytes)/m);
  assert.doesNotMatch(pulled.stderr, /unexpected error|\n\s+at /);
  assert.deepEqual(imageFiles(home.storage), []);
  assert.deepEqual((await snapshot(home, env)).images, before.images, "no record");
});

Deno.test("HTTP 200 with body 400 says the image may be private or the credentials wrong, records nothing", async () => {
  await using registry = await startFakeRegistry();
  await using home = await tempHome();
  await registry.addImage("vsoch", "tacos", "latest", TACOS);
  const env = registryEnv(home, registry);
  const before = await snapshot(home, env);
  registry.setMode("quirk-400");

  const pulled = await sregistry(["pull", "registry://vsoch/tacos"], { env });

  assertFailure(pulled, 1, /vsoch\/tacos:latest/);
  assert.match(pulled.stderr, /private/);
  assert.match(pulled.stderr, /SREGISTRY_REGISTRY_TOKEN|credentials/);
  assertUnchanged(before, await snapshot(home, env), "a pull answered 400");
  assert.equal(registry.requests.filter((seen) => seen.path.startsWith("/containers/")).length, 0);
  assert.deepEqual(registry.unexpected, []);
});

Deno.test("HTTP 200 with body 429 says the registry is rate limiting, records nothing", async () => {
  await using registry = await startFakeRegistry();
  await using home = await tempHome();
  await registry.addImage("vsoch", "tacos", "latest", TACOS);
  const env = registryEnv(home, registry);
  const before = await snapshot(home, env);
  registry.setMode("quirk-429");

  for (const args of [["pull", "registry://vsoch/tacos"], ["record", "registry://vsoch/tacos"]]) {
    const result = await sregistry(args, { env });
    assertFailure(result, 1, /rate limit/i);
    assert.match(result.stderr, /429/);
  }
  assertUnchanged(before, await snapshot(home, env), "a pull answered 429");
  assert.deepEqual(registry.unexpected, []);
});

Deno.test("an image the registry does not have is not found, exit 1, nothing recorded", async () => {
  await using registry = await startFakeRegistry();
  await using home = await tempHome();
  const env = registryEnv(home, registry);
  const before = await snapshot(home, env);

  const pulled = await sregistry(["pull", "registry://vsoch/missing:v9"], { env });

  assertFailure(pulled, 1, /vsoch\/missing:v9.*not found|not found.*vsoch\/missing:v9/i);
  assertUnchanged(before, await snapshot(home, env), "a pull of a missing image");
  assert.deepEqual(registry.unexpected, []);
});

Deno.test("a download whose MD5 is not the manifest's version is deleted and not recorded", async () => {
  await using registry = await startFakeRegistry();
  await using home = await tempHome();
  await registry.addImage("vsoch", "tacos", "latest", encoder.encode("tacos\n"));
  const env = registryEnv(home, registry);
  const before = await snapshot(home, env);
  registry.setMode("wrong-md5");

  const pulled = await sregistry(["pull", "registry://vsoch/tacos"], { env });

  assertTransferFailure(pulled, 1, new RegExp(`MD5 is ${md5("tacos\n")}, expected 0{32}`));
  assertUnchanged(before, await snapshot(home, env), "a pull that failed verification");
});

Deno.test("a registry that is down gives one clear line, exit 1, and records nothing", async () => {
  await using home = await tempHome();
  const { port, env } = downRegistryEnv(home);
  const before = await snapshot(home, env);

  for (const args of [["pull", "vsoch/tacos"], ["record", "vsoch/tacos"]]) {
    const result = await sregistry(args, { env });
    assertFailure(result, 1, new RegExp(`127\\.0\\.0\\.1:${port}`));
    assert.match(result.stderr, /could not reach|refused/i);
  }
  assertUnchanged(before, await snapshot(home, env), "a pull from a server that is down");
});
