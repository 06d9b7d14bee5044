/**
 * `pull` through the transfer layer, black-box against the fake hub's fault modes: what the user
 * sees (message, exit code) and what storage and the database hold afterwards. Progress is
 * checked in-process where a terminal has to be pretended.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { sregistry, sregistryInProcess } from "../support/cli.ts";
import { type FakeHub, type FakeImage, generatedMd5, startFakeHub } from "../support/fake_hub.ts";
import { type TempHome, tempHome } from "../support/home.ts";
import { assertFailure, assertUnchanged, md5, records, snapshot } from "../support/state.ts";
import {
  assertTransferFailure,
  downloadRequests,
  hubEnv,
  imageFiles,
  leftovers,
  manifestRequests,
  partFiles,
  spawnSregistry,
} from "../support/pulls.ts";

// Not a multiple of the generator's 1 MiB blocks nor of the writer's 128 KiB blocks.
const SIZE = 5 * 1024 * 1024 + 4321;

/** A hub with one generated image, and the path it lands at once pulled. */
async function setup(home: TempHome, hub: FakeHub, seed = 1) {
  const image = hub.addImage("lab", "big", "latest", { size: SIZE, seed });
  const digest = await generatedMd5(SIZE, seed);
  const path = join(home.storage, "lab", "big", `latest@${digest}.sif`);
  return { image, digest, path };
}

/** Asserts that exactly one record and one file hold the image, and nothing else is left. */
async function assertPulled(
  home: TempHome,
  env: Record<string, string>,
  expected: { image: FakeImage; digest: string; path: string },
) {
  assert.deepEqual(imageFiles(home.storage), [`lab/big/latest@${expected.digest}.sif`]);
  assert.equal(md5(Deno.readFileSync(expected.path)), expected.digest, "MD5 of the stored file");
  assert.deepEqual(leftovers(home.storage), [], "no temporary, part, sidecar or lock file");
  const listed = records(await sregistry(["images", "--json"], { env }));
  assert.equal(listed.length, 1, "one record");
  assert.equal(listed[0].md5, expected.digest);
  assert.equal(listed[0].version, expected.digest);
  assert.equal(listed[0].size, SIZE);
  assert.equal(listed[0].url, expected.image.downloadUrl);
}

async function assertNothingRecorded(env: Record<string, string>) {
  assert.deepEqual(records(await sregistry(["images", "--json"], { env })), []);
}

Deno.test("a successful pull streams into a part file and leaves only the image behind", async () => {
  await using hub = await startFakeHub();
  await using home = await tempHome();
  const expected = await setup(home, hub);
  const env = hubEnv(home, hub);

  const pulled = await sregistry(["pull", "hub://lab/big"], { env });

  assert.equal(pulled.code, 0, pulled.stderr);
  assert.equal(pulled.stdout, `${expected.path}\n`);
  await assertPulled(home, env, expected);
  assert.deepEqual(hub.unexpected, []);
});

Deno.test("truncate: a body cut short fails with exit 1, records nothing, and the next pull resumes", async () => {
  await using hub = await startFakeHub({ mode: "truncate" });
  await using home = await tempHome();
  const expected = await setup(home, hub);
  const env = hubEnv(home, hub, { SREGISTRY_RETRIES: "1" });

  const cut = await sregistry(["pull", "hub://lab/big"], { env });

  assertTransferFailure(cut, 1, /download of .* was cut short: got \d+ of 5247201 bytes/);
  assert.match(cut.stderr, /run the command again to resume it/);
  assert.deepEqual(imageFiles(home.storage), [], "no image file");
  await assertNothingRecorded(env);
  const [part] = partFiles(home.storage);
  assert.ok(part && part.size > 0 && part.size < SIZE, "the bytes received are kept to resume");

  hub.setMode("ok");
  const resumed = await sregistry(["pull", "hub://lab/big"], { env });
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.equal(downloadRequests(hub, expected.image).at(-1)?.headers.range, `bytes=${part.size}-`);
  await assertPulled(home, env, expected);
});

Deno.test("wrong-md5: a file that differs from the manifest's MD5 is deleted and not recorded", async () => {
  await using hub = await startFakeHub({ mode: "wrong-md5" });
  await using home = await tempHome();
  const expected = await setup(home, hub);
  const env = hubEnv(home, hub);
  assert.equal((await sregistry(["images"], { env })).code, 0);
  const before = await snapshot(home, env);

  const result = await sregistry(["pull", "hub://lab/big"], { env });

  assertTransferFailure(
    result,
    1,
    new RegExp(`MD5 is ${expected.digest}, expected [0-9a-f]{32}; the download was deleted`),
  );
  assert.equal(downloadRequests(hub, expected.image).length, 1);
  assertUnchanged(before, await snapshot(home, env), "a pull with the wrong MD5");
  assert.deepEqual(leftovers(home.storage), []);
  assert.deepEqual(imageFiles(home.storage), []);
});

Deno.test("no-length: a body without Content-Length is accepted when its MD5 is right", async () => {
  await using hub = await startFakeHub({ mode: "no-length" });
  await using home = await tempHome();
  const expected = await setup(home, hub);
  const env = hubEnv(home, hub);

  const pulled = await sregistry(["pull", "hub://lab/big"], { env });

  assert.equal(pulled.code, 0, pulled.stderr);
  assert.doesNotMatch(pulled.stderr, /%/, "no percentage without a total");
  await assertPulled(home, env, expected);
});

for (const mode of ["fail-once", "429-once"] as const) {
  Deno.test(`${mode}: the manifest and the download are retried with backoff and succeed`, async () => {
    await using hub = await startFakeHub({ mode });
    await using home = await tempHome();
    const expected = await setup(home, hub);
    const env = hubEnv(home, hub);

    const pulled = await sregistry(["pull", "hub://lab/big"], { env });

    assert.equal(pulled.code, 0, pulled.stderr);
    const status = mode === "fail-once" ? "HTTP 500" : "HTTP 429";
    assert.match(
      pulled.stderr,
      new RegExp(`GET .*/api/container/lab/big:latest: ${status}.*; retrying in`),
    );
    assert.match(
      pulled.stderr,
      new RegExp(`GET .*/download/${expected.image.id}: ${status}.*; retrying in`),
    );
    assert.equal(manifestRequests(hub).length, 2);
    assert.equal(downloadRequests(hub, expected.image).length, 2);
    await assertPulled(home, env, expected);
  });
}

Deno.test("retries that never succeed end in exit 1 with the last status, and nothing stored", async () => {
  await using hub = await startFakeHub({ mode: "fail-once" });
  await using home = await tempHome();
  await setup(home, hub);
  const env = hubEnv(home, hub, { SREGISTRY_RETRIES: "0" });
  assert.equal((await sregistry(["images"], { env })).code, 0);
  const before = await snapshot(home, env);

  const result = await sregistry(["pull", "hub://lab/big"], { env });

  assertFailure(result, 1, /GET .*\/api\/container\/lab\/big:latest: HTTP 500/);
  assertUnchanged(before, await snapshot(home, env), "a failed pull");
});

Deno.test("404: a hub that answers not found fails with exit 1 and stores nothing", async () => {
  await using hub = await startFakeHub({ mode: "404" });
  await using home = await tempHome();
  await setup(home, hub);
  const env = hubEnv(home, hub);
  assert.equal((await sregistry(["images"], { env })).code, 0);
  const before = await snapshot(home, env);

  const result = await sregistry(["pull", "hub://lab/big"], { env });

  assertFailure(result, 1, /has no image lab\/big:latest/);
  assertUnchanged(before, await snapshot(home, env), "a pull that was not found");
});

Deno.test("404 on the download itself says not found and leaves nothing behind", async () => {
  await using hub = await startFakeHub();
  await using home = await tempHome();
  // The manifest points at an image the hub does not serve.
  hub.addImage("lab", "gone", "latest", new TextEncoder().encode("x"), {
    imageUrl: `${hub.url}/download/999`,
  });
  const env = hubEnv(home, hub);
  assert.equal((await sregistry(["images"], { env })).code, 0);
  const before = await snapshot(home, env);

  const result = await sregistry(["pull", "hub://lab/gone"], { env });

  assertFailure(result, 1, /GET .*\/download\/999: HTTP 404 Not Found/);
  assertUnchanged(before, await snapshot(home, env), "a download that was not found");
});

Deno.test("stall: a silent body fails after SREGISTRY_TIMEOUT, keeps the part file, and the next pull resumes it", async () => {
  await using hub = await startFakeHub({ mode: "stall" });
  await using home = await tempHome();
  const expected = await setup(home, hub);
  const env = hubEnv(home, hub, { SREGISTRY_TIMEOUT: "1" });

  const stalled = await sregistry(["pull", "hub://lab/big"], { env });

  assertTransferFailure(
    stalled,
    1,
    /download of .* stalled: .* sent no data for 1s; run the command again to resume it/,
  );
  assert.deepEqual(imageFiles(home.storage), []);
  await assertNothingRecorded(env);
  const [part] = partFiles(home.storage);
  assert.ok(part, "the part file is kept");
  assert.equal(part.size, Math.floor(SIZE / 2), "every byte received is kept");

  hub.setMode("ok");
  const resumed = await sregistry(["pull", "hub://lab/big"], { env });
  assert.equal(resumed.code, 0, resumed.stderr);
  const last = downloadRequests(hub, expected.image).at(-1)!;
  assert.equal(last.headers.range, `bytes=${part.size}-`, "resumed with a Range request");
  assert.ok(last.headers["if-range"], "the Range is conditional on the same file");
  await assertPulled(home, env, expected);
});

Deno.test("ignore-range: when the server ignores Range, the pull starts over and ends right", async () => {
  await using hub = await startFakeHub({ mode: "stall" });
  await using home = await tempHome();
  const expected = await setup(home, hub);
  const env = hubEnv(home, hub, { SREGISTRY_TIMEOUT: "1" });
  assert.equal((await sregistry(["pull", "hub://lab/big"], { env })).code, 1);
  const [part] = partFiles(home.storage);
  assert.ok(part && part.size > 0, "a partial file to resume");

  hub.setMode("ignore-range");
  const pulled = await sregistry(["pull", "hub://lab/big"], { env });

  assert.equal(pulled.code, 0, pulled.stderr);
  assert.equal(
    downloadRequests(hub, expected.image).at(-1)?.headers.range,
    `bytes=${part.size}-`,
    "it asked to resume",
  );
  await assertPulled(home, env, expected);
});

Deno.test("redirect: a download that is redirected twice is followed and recorded under the manifest URL", async () => {
  await using hub = await startFakeHub({ mode: "redirect" });
  await using home = await tempHome();
  const expected = await setup(home, hub);
  const env = hubEnv(home, hub);

  const pulled = await sregistry(["pull", "hub://lab/big"], { env });

  assert.equal(pulled.code, 0, pulled.stderr);
  assert.deepEqual(
    downloadRequests(hub, expected.image).map((seen) => seen.path),
    [`/download/${expected.image.id}`, `/hop/${expected.image.id}`, `/files/${expected.image.id}`],
  );
  for (const seen of downloadRequests(hub, expected.image)) {
    assert.match(seen.headers["user-agent"], /^sregistry\//);
  }
  await assertPulled(home, env, expected);
});

Deno.test("progress is a redrawn bar on a terminal", async () => {
  await using hub = await startFakeHub();
  await using home = await tempHome();
  const expected = await setup(home, hub);

  const pulled = await sregistryInProcess(["pull", "hub://lab/big"], {
    env: hubEnv(home, hub),
    stderrTerminal: true,
  });

  assert.equal(pulled.code, 0, pulled.stderr);
  assert.match(pulled.stderr, /\rpull \[[= ]+\] +\d+%/);
  assert.match(pulled.stderr, /100% 5\.0 MiB \/ 5\.0 MiB/);
  assert.equal(pulled.stdout, `${expected.path}\n`);
});

Deno.test("a failed pull clears its progress bar, so the error starts its own line", async () => {
  await using hub = await startFakeHub({ mode: "wrong-md5" });
  await using home = await tempHome();
  hub.addImage("lab", "big", "latest", { size: SIZE, seed: 1 });

  const pulled = await sregistryInProcess(["pull", "hub://lab/big"], {
    env: hubEnv(home, hub),
    stderrTerminal: true,
  });

  assert.equal(pulled.code, 1);
  assert.match(pulled.stderr, /\rpull \[/, "the bar was drawn");
  const clear = "\r\x1b[K";
  assert.ok(pulled.stderr.includes(`${clear}sregistry: `), "then cleared before the error");
  assert.match(pulled.stderr.split(clear).at(-1)!, /^sregistry: .*MD5/);
});

Deno.test("progress is plain lines off a terminal, and nothing with --quiet or --json", async () => {
  await using hub = await startFakeHub();
  const image = hub.addImage("lab", "big", "latest", { size: SIZE, seed: 1 });

  {
    await using home = await tempHome();
    const plain = await sregistry(["pull", "hub://lab/big"], { env: hubEnv(home, hub) });
    assert.equal(plain.code, 0, plain.stderr);
    assert.ok(!plain.stderr.includes("\r") && !plain.stderr.includes("\x1b"), "no redrawing");
    assert.match(plain.stderr, /^pull: 100% 5\.0 MiB \/ 5\.0 MiB at .*, ETA /m);
  }
  for (const args of [["--quiet", "pull", "hub://lab/big"], ["pull", "--json", "hub://lab/big"]]) {
    await using home = await tempHome();
    const silent = await sregistry(args, { env: hubEnv(home, hub) });
    assert.equal(silent.code, 0, silent.stderr);
    assert.doesNotMatch(silent.stderr, /%|pull:|\[client\|/, args.join(" "));
  }
  {
    await using home = await tempHome();
    const silent = await sregistryInProcess(["--quiet", "pull", "hub://lab/big"], {
      env: hubEnv(home, hub),
      stderrTerminal: true,
    });
    assert.equal(silent.code, 0, silent.stderr);
    assert.doesNotMatch(silent.stderr, /\r|%/, "--quiet on a terminal");
  }
  assert.equal(downloadRequests(hub, image).length, 4);
});

Deno.test("two pulls of the same image at once both succeed with one file and one record", async () => {
  const size = 64 * 1024 * 1024;
  // Slow enough that the two processes overlap, so one of them has to wait for the other.
  await using hub = await startFakeHub({ throttle: 16 * 1024 * 1024 });
  await using home = await tempHome();
  const image = hub.addImage("lab", "big", "latest", { size, seed: 9 });
  const digest = await generatedMd5(size, 9);
  const env = hubEnv(home, hub);
  assert.equal((await sregistry(["images"], { env })).code, 0, "database created up front");

  const [first, second] = await Promise.all([
    spawnSregistry(["pull", "hub://lab/big"], env).result,
    spawnSregistry(["pull", "hub://lab/big"], env).result,
  ]);

  assert.equal(first.code, 0, first.stderr);
  assert.equal(second.code, 0, second.stderr);
  const path = join(home.storage, "lab", "big", `latest@${digest}.sif`);
  assert.equal(first.stdout, `${path}\n`);
  assert.equal(second.stdout, `${path}\n`);
  assert.deepEqual(imageFiles(home.storage), [`lab/big/latest@${digest}.sif`]);
  assert.equal(md5(Deno.readFileSync(path)), digest);
  assert.deepEqual(leftovers(home.storage), []);
  const listed = records(await sregistry(["images", "--json"], { env }));
  assert.equal(listed.length, 1);
  assert.equal(listed[0].md5, digest);
  assert.equal(downloadRequests(hub, image).length, 1, "the image was downloaded once");
  assert.match(
    first.stderr + second.stderr,
    /another sregistry is pulling this image; waiting for it/,
    "the pulls overlapped",
  );
});

Deno.test("with --json a failed pull writes its error as JSON on stderr", async () => {
  await using hub = await startFakeHub({ mode: "wrong-md5" });
  await using home = await tempHome();
  await setup(home, hub);

  const result = await sregistry(["pull", "--json", "hub://lab/big"], { env: hubEnv(home, hub) });

  assert.equal(result.code, 1);
  assert.equal(result.stdout, "");
  const error = JSON.parse(result.stderr.trim()).error;
  assert.equal(error.code, "integrity");
  assert.match(error.message, /MD5 is [0-9a-f]{32}, expected [0-9a-f]{32}/);
});

Deno.test("two pulls of a bad image at once both fail cleanly and leave storage empty", async () => {
  const size = 8 * 1024 * 1024;
  await using hub = await startFakeHub({ mode: "wrong-md5", throttle: 16 * 1024 * 1024 });
  await using home = await tempHome();
  hub.addImage("lab", "big", "latest", { size, seed: 3 });
  const env = hubEnv(home, hub);
  assert.equal((await sregistry(["images"], { env })).code, 0, "database created up front");
  const before = await snapshot(home, env);

  const results = await Promise.all([
    spawnSregistry(["pull", "hub://lab/big"], env).result,
    spawnSregistry(["pull", "hub://lab/big"], env).result,
  ]);

  for (const result of results) {
    assertTransferFailure(result, 1, /MD5 is [0-9a-f]{32}, expected [0-9a-f]{32}/);
  }
  assertUnchanged(before, await snapshot(home, env), "two failed pulls");
});
