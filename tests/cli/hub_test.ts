/**
 * `pull` from Singularity Hub, run as a user runs it against a fake hub on 127.0.0.1: how the
 * client is chosen, what is asked for, what lands in storage and in the record.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { sregistry } from "../support/cli.ts";
import { startFakeHub } from "../support/fake_hub.ts";
import { tempHome } from "../support/home.ts";
import {
  assertFailure,
  assertUnchanged,
  errorLines,
  lines,
  md5,
  records,
  snapshot,
} from "../support/state.ts";
import {
  assertTransferFailure,
  downloadRequests,
  filesUnder,
  hubEnv,
  imageFiles,
  leftovers,
  manifestRequests,
} from "../support/pulls.ts";
import { closedPort } from "../support/registry_env.ts";

const encoder = new TextEncoder();
const HELLO = encoder.encode("a Singularity image, version one\n");
const HELLO_MD5 = md5(HELLO);

Deno.test("pull hub:// asks for the manifest, downloads, verifies and records it with its metadata", async () => {
  await using hub = await startFakeHub();
  await using home = await tempHome();
  const image = hub.addImage("vsoch", "hello-world", "latest", HELLO);
  const env = hubEnv(home, hub);

  const pulled = await sregistry(["pull", "hub://vsoch/hello-world"], { env });

  assert.equal(pulled.code, 0, pulled.stderr);
  const path = join(home.storage, "vsoch", "hello-world", `latest@${HELLO_MD5}.sif`);
  assert.equal(pulled.stdout, `${path}\n`);
  assert.match(pulled.stderr, /^\[client\|hub\] \[database\|sqlite:\/\/\//);
  assert.match(
    pulled.stderr,
    new RegExp(`\\[container\\]\\[new\\] vsoch/hello-world:latest@${HELLO_MD5}`),
  );
  assert.deepEqual(Deno.readFileSync(path), HELLO);
  assert.deepEqual(leftovers(home.storage), []);

  assert.deepEqual(
    hub.requests.map((seen) => `${seen.method} ${seen.path}`),
    ["GET /api/container/vsoch/hello-world:latest", `GET /download/${image.id}`],
  );
  for (const seen of hub.requests) {
    assert.match(
      seen.headers["user-agent"],
      /^sregistry\/\d+\.\d+\.\d+/,
      "User-Agent names sregistry",
    );
  }
  assert.deepEqual(hub.unexpected, []);

  const [record] = records(await sregistry(["images", "--json"], { env }));
  assert.equal(record.uri, `vsoch/hello-world:latest@${HELLO_MD5}`);
  assert.equal(record.version, HELLO_MD5);
  assert.equal(record.md5, HELLO_MD5);
  assert.equal(record.size, HELLO.byteLength);
  assert.equal(record.url, image.downloadUrl);
  assert.equal(record.client, "hub");
  assert.equal(record.image, path);
  const metadata = record.metadata as Record<string, unknown>;
  assert.equal(metadata.image, image.downloadUrl);
  assert.equal(metadata.name, "vsoch/hello-world");
  assert.equal(metadata.version, HELLO_MD5);
  assert.equal(metadata.branch, "master");

  const inspected = await sregistry(["inspect", "vsoch/hello-world"], { env });
  assert.equal(inspected.code, 0, inspected.stderr);
  const shown = JSON.parse(inspected.stdout);
  assert.equal(shown.metadata.image, image.downloadUrl);
  assert.equal(shown.metadata.version, HELLO_MD5);
  assert.equal(shown.url, image.downloadUrl);
});

Deno.test("shub:// and a bare name (hub is the default client) pull from the hub too", async () => {
  await using hub = await startFakeHub();
  const one = hub.addImage("vsoch", "hello-world", "latest", HELLO);
  const other = encoder.encode("another image\n");
  hub.addImage("vsoch", "other", "latest", other);

  for (const uri of ["shub://vsoch/hello-world", "vsoch/hello-world"]) {
    await using home = await tempHome();
    const before = hub.requests.length;
    const pulled = await sregistry(["pull", uri], { env: hubEnv(home, hub) });
    assert.equal(pulled.code, 0, `${uri}: ${pulled.stderr}`);
    assert.match(pulled.stderr, /\[client\|hub\]/, uri);
    assert.deepEqual(
      hub.requests.slice(before).map((seen) => seen.path),
      ["/api/container/vsoch/hello-world:latest", `/download/${one.id}`],
      uri,
    );
    assert.deepEqual(imageFiles(home.storage), [`vsoch/hello-world/latest@${HELLO_MD5}.sif`], uri);
  }

  // SREGISTRY_CLIENT=shub is the hub under its other name.
  await using home = await tempHome();
  const pulled = await sregistry(["pull", "vsoch/other"], {
    env: hubEnv(home, hub, { SREGISTRY_CLIENT: "shub" }),
  });
  assert.equal(pulled.code, 0, pulled.stderr);
  assert.deepEqual(imageFiles(home.storage), [`vsoch/other/latest@${md5(other)}.sif`]);
  assert.deepEqual(hub.unexpected, []);
});

Deno.test("a tag and a version are asked for in the manifest path, and the version picks the file", async () => {
  await using hub = await startFakeHub();
  await using home = await tempHome();
  const first = encoder.encode("v1 build one\n");
  const second = encoder.encode("v1 build two\n");
  hub.addImage("lab", "tool", "v1", first);
  hub.addImage("lab", "tool", "v1", second);
  const env = hubEnv(home, hub);

  const older = await sregistry(["pull", `hub://lab/tool:v1@${md5(first)}`], { env });
  assert.equal(older.code, 0, older.stderr);
  assert.equal(manifestRequests(hub).at(-1)?.path, `/api/container/lab/tool:v1@${md5(first)}`);
  const newest = await sregistry(["pull", "hub://lab/tool:v1"], { env });
  assert.equal(newest.code, 0, newest.stderr);
  assert.equal(manifestRequests(hub).at(-1)?.path, "/api/container/lab/tool:v1");

  assert.deepEqual(
    imageFiles(home.storage),
    [
      `lab/tool/v1@${md5(first)}.sif`,
      `lab/tool/v1@${md5(second)}.sif`,
    ].sort(),
  );
  const recorded = records(await sregistry(["images", "--json"], { env }));
  assert.deepEqual(
    recorded.map((record) => record.version).sort(),
    [md5(first), md5(second)].sort(),
  );
  assert.equal(
    Deno.readTextFileSync(lines(newest.stdout)[0]),
    "v1 build two\n",
    "without @version the hub's newest is pulled",
  );
});

Deno.test("an image already in storage is kept without a download; --force downloads it again", async () => {
  await using hub = await startFakeHub();
  await using home = await tempHome();
  const image = hub.addImage("vsoch", "hello-world", "latest", HELLO);
  const env = hubEnv(home, hub);
  assert.equal((await sregistry(["pull", "hub://vsoch/hello-world"], { env })).code, 0);
  assert.equal(downloadRequests(hub, image).length, 1);
  const path = join(home.storage, "vsoch", "hello-world", `latest@${HELLO_MD5}.sif`);
  const before = await snapshot(home, env);

  const again = await sregistry(["pull", "hub://vsoch/hello-world"], { env });
  assert.equal(again.code, 0, again.stderr);
  assert.equal(again.stdout, `${path}\n`);
  assert.match(again.stderr, /already in storage; use --force to download it again/);
  assert.equal(downloadRequests(hub, image).length, 1, "no second download");
  assertUnchanged(before, await snapshot(home, env), "a second pull");

  const forced = await sregistry(["pull", "--force", "hub://vsoch/hello-world"], { env });
  assert.equal(forced.code, 0, forced.stderr);
  assert.equal(downloadRequests(hub, image).length, 2, "--force downloads again");
  assert.doesNotMatch(forced.stderr, /already in storage/);
  assert.deepEqual(Deno.readFileSync(path), HELLO);
  assert.equal(records(await sregistry(["images", "--json"], { env })).length, 1);
  assert.deepEqual(leftovers(home.storage), []);
});

Deno.test("pull --name saves the image to that file and records nothing", async () => {
  await using hub = await startFakeHub();
  await using home = await tempHome();
  const image = hub.addImage("vsoch", "hello-world", "latest", HELLO);
  const env = hubEnv(home, hub);

  const pulled = await sregistry(["pull", "--name", "hello.sif", "hub://vsoch/hello-world"], {
    env,
    cwd: home.path,
  });

  assert.equal(pulled.code, 0, pulled.stderr);
  const file = join(home.path, "hello.sif");
  assert.equal(pulled.stdout, `${file}\n`);
  assert.match(
    pulled.stderr,
    new RegExp(`saved .*hello\\.sif \\(${HELLO.byteLength} bytes, MD5 ${HELLO_MD5}\\)`),
  );
  assert.deepEqual(Deno.readFileSync(file), HELLO);
  assert.deepEqual(filesUnder(home.storage), [], "nothing in storage");
  assert.deepEqual(leftovers(home.path), []);
  assert.deepEqual(records(await sregistry(["images", "--json"], { env })), []);
  assert.equal(downloadRequests(hub, image).length, 1);
});

Deno.test("pull --name onto an existing file is refused without --force and replaces it with it", async () => {
  await using hub = await startFakeHub();
  await using home = await tempHome();
  const image = hub.addImage("vsoch", "hello-world", "latest", HELLO);
  const env = hubEnv(home, hub);
  const file = home.file("hello.sif", "my own file\n");

  const refused = await sregistry(["pull", "--name", "hello.sif", "hub://vsoch/hello-world"], {
    env,
    cwd: home.path,
  });
  assertFailure(refused, 1, /hello\.sif already exists; use --force to replace it/);
  assert.equal(Deno.readTextFileSync(file), "my own file\n");
  assert.equal(downloadRequests(hub, image).length, 0, "nothing downloaded");

  const forced = await sregistry(
    ["pull", "--force", "--name", "hello.sif", "hub://vsoch/hello-world"],
    { env, cwd: home.path },
  );
  assert.equal(forced.code, 0, forced.stderr);
  assert.deepEqual(Deno.readFileSync(file), HELLO);
  assert.deepEqual(leftovers(home.path), []);
});

Deno.test("pull --json prints the record on stdout, without banner or progress", async () => {
  await using hub = await startFakeHub();
  await using home = await tempHome();
  const image = hub.addImage("vsoch", "hello-world", "latest", HELLO);

  const pulled = await sregistry(["pull", "--json", "hub://vsoch/hello-world"], {
    env: hubEnv(home, hub),
  });

  assert.equal(pulled.code, 0, pulled.stderr);
  const record = JSON.parse(pulled.stdout);
  assert.equal(record.uri, `vsoch/hello-world:latest@${HELLO_MD5}`);
  assert.equal(record.url, image.downloadUrl);
  assert.equal(record.location, "local");
  assert.equal(record.metadata.version, HELLO_MD5);
  assert.doesNotMatch(pulled.stderr, /\[client\||%|pull:/);
});

Deno.test("an unknown scheme is a usage error that lists the known ones", async () => {
  await using hub = await startFakeHub();
  await using home = await tempHome();
  const env = hubEnv(home, hub);
  assert.equal((await sregistry(["images"], { env })).code, 0);
  const before = await snapshot(home, env);

  for (const command of [["pull", "ftp://example.org/x.sif"], ["search", "gopher://x"]]) {
    const result = await sregistry(command, { env });
    assertFailure(result, 2, /unknown scheme '(ftp|gopher):\/\/'; known schemes: .*hub:\/\//);
    assert.match(result.stderr, /shub:\/\//);
    assert.match(result.stderr, /https:\/\//);
    assert.match(result.stderr, /registry:\/\//);
  }
  assertUnchanged(before, await snapshot(home, env), "an unknown scheme");
  assert.deepEqual(hub.requests, []);
});

Deno.test("registry:// and SREGISTRY_CLIENT=registry choose the registry client, not the hub", async () => {
  await using hub = await startFakeHub();
  await using home = await tempHome();
  hub.addImage("lab", "tool", "latest", HELLO);
  // The registry client's own behaviour is covered by registry_*_test.ts; here only the choice.
  const port = closedPort();
  const env = hubEnv(home, hub, {
    SREGISTRY_REGISTRY_BASE: `http://127.0.0.1:${port}`,
    SREGISTRY_RETRIES: "0",
  });

  for (
    const [uri, extra] of [["registry://lab/tool", {}], ["lab/tool", {
      SREGISTRY_CLIENT: "registry",
    }]] as const
  ) {
    const result = await sregistry(["pull", uri], { env: { ...env, ...extra } });
    assert.match(result.stderr, /\[client\|registry\]/, uri);
    assertTransferFailure(result, 1, new RegExp(`could not reach 127\\.0\\.0\\.1:${port}`));
  }
  assert.deepEqual(hub.requests, [], "the hub was not asked");
});

Deno.test("a client asked for an operation it lacks says so, naming the client", async () => {
  await using hub = await startFakeHub();
  await using home = await tempHome();
  const env = hubEnv(home, hub);

  const search = await sregistry(["search", "https://example.org/images"], { env });
  assertFailure(search, 1, /the https client cannot search; clients that can: hub/);

  const record = await sregistry(["record", "http://127.0.0.1:9/image.sif"], { env });
  assertFailure(record, 1, /the http client cannot record/);

  assert.deepEqual(hub.requests, []);
  assert.deepEqual(records(await sregistry(["images", "--json"], { env })), []);
});

Deno.test("the active backend is the client for names without a scheme; a scheme overrides it", async () => {
  await using hub = await startFakeHub();
  await using home = await tempHome();
  const image = hub.addImage("vsoch", "hello-world", "latest", HELLO);
  // The hub's address comes from the secrets file here, not the environment.
  const env = { ...home.env };
  assert.equal((await sregistry(["backend", "add", "hub", "base", hub.base], { env })).code, 0);

  const unknown = await sregistry(["pull", "vsoch/hello-world"], {
    env: { ...env, SREGISTRY_CLIENT: "nope" },
  });
  assertFailure(unknown, 1, /'nope' is not a client sregistry knows/);

  // `backend activate nope` refuses; a hand-edited secrets file can still name it.
  assertFailure(
    await sregistry(["backend", "activate", "nope"], { env }),
    2,
    /'nope' is not a client sregistry knows; known clients: hub, registry/,
  );
  const secrets = join(home.path, ".sregistry");
  Deno.writeTextFileSync(
    secrets,
    JSON.stringify({ ...JSON.parse(Deno.readTextFileSync(secrets)), SREGISTRY_CLIENT: "nope" }),
  );
  const active = await sregistry(["pull", "vsoch/hello-world"], { env });
  assertFailure(active, 1, /'nope' is not a client sregistry knows/);
  assert.equal(downloadRequests(hub, image).length, 0);

  const bySchema = await sregistry(["pull", "hub://vsoch/hello-world"], { env });
  assert.equal(bySchema.code, 0, bySchema.stderr);
  assert.equal(downloadRequests(hub, image).length, 1);

  assert.equal((await sregistry(["backend", "activate", "hub"], { env })).code, 0);
  const forced = await sregistry(["pull", "--force", "vsoch/hello-world"], { env });
  assert.equal(forced.code, 0, forced.stderr);
  assert.equal(downloadRequests(hub, image).length, 2);
  assert.deepEqual(errorLines(forced.stderr).filter((line) => /sregistry:/.test(line)), []);
});

Deno.test("a name the hub does not have is reported as not found, and nothing is stored", async () => {
  await using hub = await startFakeHub();
  await using home = await tempHome();
  hub.addImage("vsoch", "hello-world", "latest", HELLO);
  const env = hubEnv(home, hub);
  assert.equal((await sregistry(["images"], { env })).code, 0);
  const before = await snapshot(home, env);

  const result = await sregistry(["pull", "hub://vsoch/missing:v9"], { env });

  assertFailure(result, 1, /Singularity Hub \(.*\) has no image vsoch\/missing:v9/);
  assertUnchanged(before, await snapshot(home, env), "a pull of a missing image");
});

Deno.test("pull --name --json prints what was saved, with the remote's name and URL", async () => {
  await using hub = await startFakeHub();
  await using home = await tempHome();
  const image = hub.addImage("vsoch", "hello-world", "latest", HELLO);

  const pulled = await sregistry(
    ["pull", "--json", "--name", "hello.sif", "hub://vsoch/hello-world"],
    { env: hubEnv(home, hub), cwd: home.path },
  );

  assert.equal(pulled.code, 0, pulled.stderr);
  const saved = JSON.parse(pulled.stdout);
  assert.deepEqual(Object.keys(saved).sort(), ["image", "md5", "metadata", "size", "uri", "url"]);
  assert.equal(saved.image, join(home.path, "hello.sif"));
  assert.equal(saved.uri, `vsoch/hello-world:latest@${HELLO_MD5}`);
  assert.equal(saved.url, image.downloadUrl);
  assert.equal(saved.md5, HELLO_MD5);
  assert.equal(saved.size, HELLO.byteLength);
  assert.equal(saved.metadata.version, HELLO_MD5);
});
