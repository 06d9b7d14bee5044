/** Tests of downloads and per-target locks against the fake hub on 127.0.0.1. */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  IntegrityError,
  InterruptedError,
  NotFoundError,
  RemoteError,
} from "../../../src/errors.ts";
import { downloadIfChanged, downloadToFile } from "../../../src/transfer/download.ts";
import { withDownloadLock } from "../../../src/transfer/lock.ts";
import type { HttpOptions } from "../../../src/transfer/http.ts";
import type { Progress } from "../../../src/transfer/progress.ts";
import {
  type FakeHub,
  type FakeImage,
  generatedBytes,
  generatedMd5,
  startFakeHub,
} from "../../support/fake_hub.ts";
import { exists } from "../../support/state.ts";
import { tempHome } from "../../support/home.ts";

const HTTP: HttpOptions = {
  userAgent: "sregistry-test/1.0",
  backoffMs: 1,
  stallTimeoutMs: 300,
  connectTimeoutMs: 5000,
};
// Not a multiple of the generator's 1 MiB block nor of the fake hub's 64 KiB chunk.
const SIZE = 3 * 1024 * 1024 + 12_345;
const SEED = 7;

async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function downloads(hub: FakeHub, image: FakeImage) {
  return hub.requests.filter((seen) => seen.path.endsWith(`/${image.id}`));
}

/**
 * Leaves the first `bytes` of the image in `part` with a sidecar naming the hub's ETag and the
 * length it first announced.
 */
async function leavePart(part: string, image: FakeImage, bytes: number, etag: string | null) {
  const head = (await readAll(generatedBytes(SIZE, SEED))).slice(0, bytes);
  await Deno.writeFile(part, head);
  await Deno.writeTextFile(
    `${part}.json`,
    JSON.stringify({ url: image.downloadUrl, etag, lastModified: null, total: SIZE }),
  );
}

async function etagOf(image: FakeImage): Promise<string> {
  const response = await fetch(image.downloadUrl, { method: "HEAD" });
  await response.body?.cancel();
  return response.headers.get("etag")!;
}

Deno.test("downloadToFile streams, hashes and reports progress", async () => {
  await using dir = await tempHome();
  await using hub = await startFakeHub();
  const image = hub.addImage("vsoch", "hello", "latest", { size: SIZE, seed: SEED });
  const part = join(dir.path, "hello.sif.part");
  const events: Progress[] = [];
  const result = await downloadToFile(image.downloadUrl, part, {
    http: HTTP,
    expectedMd5: await generatedMd5(SIZE, SEED),
    onProgress: (progress) => events.push({ ...progress }),
  });
  assert.deepEqual(result, {
    size: SIZE,
    md5: await generatedMd5(SIZE, SEED),
    checked: "md5",
    validator: { etag: await etagOf(image), lastModified: "Mon, 01 Jan 2024 00:00:00 GMT" },
    contentType: "application/octet-stream",
  });
  assert.equal((await Deno.stat(part)).size, SIZE);
  assert.equal(exists(`${part}.json`), false);
  assert.equal(events[0].done, 0);
  assert.equal(events.at(-1)!.done, SIZE);
  for (const event of events) {
    assert.equal(event.total, SIZE);
    assert.equal(event.resumedFrom, 0);
  }
  for (let i = 1; i < events.length; i++) assert.ok(events[i].done >= events[i - 1].done);
  const [seen] = downloads(hub, image);
  assert.equal(seen.headers["user-agent"], "sregistry-test/1.0");
  assert.equal(seen.headers["range"], undefined);
  assert.deepEqual(hub.unexpected, []);
});

Deno.test("downloadToFile resumes a part file with Range and If-Range", async () => {
  await using dir = await tempHome();
  await using hub = await startFakeHub();
  const image = hub.addImage("vsoch", "hello", "latest", { size: SIZE, seed: SEED });
  const part = join(dir.path, "hello.sif.part");
  const half = Math.floor(SIZE / 2);
  const etag = await etagOf(image);
  await leavePart(part, image, half, etag);
  const events: Progress[] = [];
  const result = await downloadToFile(image.downloadUrl, part, {
    http: HTTP,
    expectedMd5: await generatedMd5(SIZE, SEED),
    onProgress: (progress) => events.push({ ...progress }),
  });
  assert.equal(result.md5, await generatedMd5(SIZE, SEED));
  assert.equal(result.size, SIZE);
  const gets = downloads(hub, image).filter((seen) => seen.method === "GET");
  assert.equal(gets.length, 1);
  assert.equal(gets[0].headers["range"], `bytes=${half}-`);
  assert.equal(gets[0].headers["if-range"], etag);
  assert.equal(events[0].done, half);
  assert.equal(events[0].resumedFrom, half);
  assert.equal(events.at(-1)!.total, SIZE);
  assert.equal(exists(`${part}.json`), false);
});

Deno.test("downloadToFile starts over when the part file has no saved validator", async () => {
  await using dir = await tempHome();
  await using hub = await startFakeHub();
  const image = hub.addImage("vsoch", "hello", "latest", { size: SIZE, seed: SEED });
  const part = join(dir.path, "hello.sif.part");
  await leavePart(part, image, 1000, null);
  const result = await downloadToFile(image.downloadUrl, part, { http: HTTP });
  assert.equal(result.md5, await generatedMd5(SIZE, SEED));
  assert.equal(downloads(hub, image)[0].headers["range"], undefined);
});

Deno.test("downloadToFile starts over when the server ignores the Range", async () => {
  await using dir = await tempHome();
  await using hub = await startFakeHub({ mode: "ignore-range" });
  const image = hub.addImage("vsoch", "hello", "latest", { size: SIZE, seed: SEED });
  const part = join(dir.path, "hello.sif.part");
  await leavePart(part, image, 5000, await etagOf(image));
  // Garbage where the resumed bytes would go proves the file was truncated, not appended to.
  await Deno.writeFile(part, new Uint8Array(5000).fill(0xff));
  const result = await downloadToFile(image.downloadUrl, part, {
    http: HTTP,
    expectedMd5: await generatedMd5(SIZE, SEED),
  });
  assert.equal(result.size, SIZE);
  assert.equal(result.md5, await generatedMd5(SIZE, SEED));
  const gets = downloads(hub, image).filter((seen) => seen.method === "GET");
  assert.equal(gets.length, 1);
  assert.equal(gets[0].headers["range"], "bytes=5000-");
});

Deno.test("downloadToFile starts over when the ETag changed (If-Range fails)", async () => {
  await using dir = await tempHome();
  await using hub = await startFakeHub();
  const image = hub.addImage("vsoch", "hello", "latest", { size: SIZE, seed: SEED });
  const part = join(dir.path, "hello.sif.part");
  await leavePart(part, image, 5000, '"an-older-file"');
  const result = await downloadToFile(image.downloadUrl, part, { http: HTTP });
  assert.equal(result.md5, await generatedMd5(SIZE, SEED));
  assert.equal(downloads(hub, image).length, 1);
});

Deno.test("downloadToFile answers a 416 by starting over without Range", async () => {
  await using dir = await tempHome();
  await using hub = await startFakeHub();
  const bytes = new TextEncoder().encode("a small image");
  const image = hub.addImage("vsoch", "small", "latest", bytes);
  const part = join(dir.path, "small.sif.part");
  await Deno.writeFile(part, new Uint8Array(100));
  await Deno.writeTextFile(`${part}.json`, JSON.stringify({ etag: await etagOf(image) }));
  const result = await downloadToFile(image.downloadUrl, part, { http: HTTP });
  assert.equal(result.size, bytes.byteLength);
  assert.deepEqual(await Deno.readFile(part), bytes);
  const gets = downloads(hub, image).filter((seen) => seen.method === "GET");
  assert.deepEqual(gets.map((seen) => seen.headers["range"]), ["bytes=100-", undefined]);
});

Deno.test("downloadToFile accepts a part file that is already complete", async () => {
  await using dir = await tempHome();
  await using hub = await startFakeHub();
  const image = hub.addImage("vsoch", "hello", "latest", { size: SIZE, seed: SEED });
  const part = join(dir.path, "hello.sif.part");
  await leavePart(part, image, SIZE, await etagOf(image));
  const result = await downloadToFile(image.downloadUrl, part, {
    http: HTTP,
    expectedMd5: await generatedMd5(SIZE, SEED),
  });
  assert.equal(result.md5, await generatedMd5(SIZE, SEED));
  assert.equal(exists(`${part}.json`), false);
});

Deno.test("downloadToFile deletes a download whose MD5 differs from the manifest", async () => {
  await using dir = await tempHome();
  await using hub = await startFakeHub({ mode: "wrong-md5" });
  const image = hub.addImage("vsoch", "hello", "latest", new TextEncoder().encode("sif bytes"));
  const actual = await image.md5();
  const manifest = await (await fetch(`${hub.base}/container/vsoch/hello:latest`)).json();
  const part = join(dir.path, "hello.sif.part");
  await assert.rejects(
    downloadToFile(manifest.image, part, { http: HTTP, expectedMd5: manifest.version }),
    (error: unknown) => {
      assert.ok(error instanceof IntegrityError);
      assert.match(
        error.message,
        new RegExp(
          `MD5 is ${actual}, expected ${manifest.version}; the download was deleted`,
        ),
      );
      return true;
    },
  );
  assert.equal(exists(part), false);
  assert.equal(exists(`${part}.json`), false);
});

Deno.test("downloadToFile retries a body cut short by resuming, then reports it", async () => {
  await using dir = await tempHome();
  await using hub = await startFakeHub({ mode: "truncate" });
  const image = hub.addImage("vsoch", "hello", "latest", { size: SIZE, seed: SEED });
  const part = join(dir.path, "hello.sif.part");
  const retries: string[] = [];
  await assert.rejects(
    downloadToFile(image.downloadUrl, part, {
      http: { ...HTTP, retries: 2, onRetry: (message) => retries.push(message) },
    }),
    (error: unknown) => {
      assert.ok(error instanceof IntegrityError);
      assert.match(error.message, new RegExp(`was cut short: got \\d+ of ${SIZE} bytes`));
      return true;
    },
  );
  assert.equal(retries.length, 2);
  const gets = downloads(hub, image).filter((seen) => seen.method === "GET");
  assert.equal(gets.length, 3);
  assert.equal(gets[0].headers["range"], undefined);
  assert.match(gets[1].headers["range"], /^bytes=\d+-$/);
  // What arrived is a valid prefix and stays for the next run, together with its validator.
  const kept = await Deno.readFile(part);
  assert.ok(kept.byteLength > SIZE / 2 && kept.byteLength < SIZE);
  const head = (await readAll(generatedBytes(SIZE, SEED))).slice(0, kept.byteLength);
  assert.deepEqual(kept, head);
  assert.equal(exists(`${part}.json`), true);
});

Deno.test("downloadToFile completes after a cut when the next attempt succeeds", async () => {
  await using dir = await tempHome();
  await using hub = await startFakeHub({ mode: "truncate" });
  const image = hub.addImage("vsoch", "hello", "latest", { size: SIZE, seed: SEED });
  const part = join(dir.path, "hello.sif.part");
  const result = await downloadToFile(image.downloadUrl, part, {
    http: { ...HTTP, onRetry: () => hub.setMode("ok") },
    expectedMd5: await generatedMd5(SIZE, SEED),
  });
  assert.equal(result.md5, await generatedMd5(SIZE, SEED));
  const gets = downloads(hub, image).filter((seen) => seen.method === "GET");
  assert.deepEqual(gets.map((seen) => seen.headers["range"]), [
    undefined,
    `bytes=${Math.floor(SIZE / 2)}-`,
  ]);
});

Deno.test("downloadToFile restarts a cut body from zero when there is no validator", async () => {
  await using dir = await tempHome();
  const bytes = new Uint8Array(300_000).map((_, i) => i % 251);
  let calls = 0;
  await using server = {
    server: Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => {
      const call = ++calls;
      let sent = false;
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (call === 1 && sent) return controller.close(); // cut after the first chunk
          controller.enqueue(call === 1 ? bytes.slice(0, 1000) : bytes);
          sent = true;
          if (call > 1) controller.close();
        },
      });
      return new Response(body, { headers: { "content-length": String(bytes.byteLength) } });
    }),
    [Symbol.asyncDispose]() {
      return this.server.shutdown();
    },
  };
  const part = join(dir.path, "x.part");
  const result = await downloadToFile(`http://127.0.0.1:${server.server.addr.port}/x`, part, {
    http: HTTP,
  });
  assert.equal(result.size, bytes.byteLength);
  assert.deepEqual(await Deno.readFile(part), bytes);
  assert.equal(calls, 2);
});

Deno.test("downloadToFile handles a body without Content-Length", async () => {
  await using dir = await tempHome();
  await using hub = await startFakeHub({ mode: "no-length" });
  const image = hub.addImage("vsoch", "hello", "latest", { size: SIZE, seed: SEED });
  const part = join(dir.path, "hello.sif.part");
  const totals = new Set<number | null>();
  const result = await downloadToFile(image.downloadUrl, part, {
    http: HTTP,
    onProgress: (progress) => totals.add(progress.total),
  });
  assert.equal(result.md5, await generatedMd5(SIZE, SEED));
  assert.deepEqual([...totals], [null]);
});

for (const mode of ["fail-once", "429-once"] as const) {
  Deno.test(`downloadToFile recovers from the hub's ${mode} mode`, async () => {
    await using dir = await tempHome();
    await using hub = await startFakeHub({ mode });
    const image = hub.addImage("vsoch", "hello", "latest", { size: SIZE, seed: SEED });
    const retries: string[] = [];
    const result = await downloadToFile(image.downloadUrl, join(dir.path, "p"), {
      http: { ...HTTP, onRetry: (message) => retries.push(message) },
    });
    assert.equal(result.md5, await generatedMd5(SIZE, SEED));
    assert.equal(retries.length, 1);
    assert.equal(downloads(hub, image).length, 2);
  });
}

Deno.test("downloadToFile turns 404 into NotFoundError and leaves no file", async () => {
  await using dir = await tempHome();
  await using hub = await startFakeHub({ mode: "404" });
  const image = hub.addImage("vsoch", "hello", "latest", new Uint8Array([1]));
  const part = join(dir.path, "p");
  await assert.rejects(
    downloadToFile(`${image.downloadUrl}?token=t`, part, { http: HTTP }),
    (error: unknown) => {
      assert.ok(error instanceof NotFoundError);
      assert.equal(error.message, `GET ${image.downloadUrl}?token=REDACTED: HTTP 404 Not Found`);
      return true;
    },
  );
  assert.equal(exists(part), false);
});

Deno.test("downloadToFile keeps the part file of a stalled body, and the next run resumes", async () => {
  await using dir = await tempHome();
  await using hub = await startFakeHub({ mode: "stall" });
  const image = hub.addImage("vsoch", "hello", "latest", { size: SIZE, seed: SEED });
  const part = join(dir.path, "hello.sif.part");
  await assert.rejects(
    downloadToFile(image.downloadUrl, part, { http: HTTP }),
    (error: unknown) => {
      assert.ok(error instanceof RemoteError);
      assert.match(error.message, /stalled/);
      assert.match(error.message, /sent no data for 300ms/);
      return true;
    },
  );
  const half = Math.floor(SIZE / 2);
  assert.equal((await Deno.stat(part)).size, half);
  assert.equal(exists(`${part}.json`), true);

  hub.setMode("ok");
  const result = await downloadToFile(image.downloadUrl, part, {
    http: HTTP,
    expectedMd5: await generatedMd5(SIZE, SEED),
  });
  assert.equal(result.md5, await generatedMd5(SIZE, SEED));
  const gets = downloads(hub, image).filter((seen) => seen.method === "GET");
  assert.equal(gets.at(-1)!.headers["range"], `bytes=${half}-`);
});

Deno.test("downloadToFile follows redirects to the bytes", async () => {
  await using dir = await tempHome();
  await using hub = await startFakeHub({ mode: "redirect" });
  const image = hub.addImage("vsoch", "hello", "latest", { size: SIZE, seed: SEED });
  const result = await downloadToFile(image.downloadUrl, join(dir.path, "p"), { http: HTTP });
  assert.equal(result.md5, await generatedMd5(SIZE, SEED));
  assert.ok(hub.requests.some((seen) => seen.path === `/files/${image.id}`), "redirect followed");
});

Deno.test("downloadToFile drops Authorization when the download leaves the origin", async () => {
  await using dir = await tempHome();
  await using storage = await startFakeHub();
  const stored = storage.addImage("vsoch", "hello", "latest", new Uint8Array([1, 2, 3]));
  await using registry = {
    server: Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      () => Response.redirect(`${stored.downloadUrl}?X-Amz-Signature=abc`, 302),
    ),
    [Symbol.asyncDispose]() {
      return this.server.shutdown();
    },
  };
  const result = await downloadToFile(
    `http://127.0.0.1:${registry.server.addr.port}/blob`,
    join(dir.path, "p"),
    { http: HTTP, headers: { Authorization: "Bearer secret" } },
  );
  assert.equal(result.size, 3);
  assert.equal(storage.requests[0].headers["authorization"], undefined);
  assert.equal(storage.requests[0].path, `/download/${stored.id}?X-Amz-Signature=abc`);
});

Deno.test("downloadToFile keeps the part file when interrupted", async () => {
  await using dir = await tempHome();
  await using hub = await startFakeHub({ mode: "stall" });
  const image = hub.addImage("vsoch", "hello", "latest", { size: SIZE, seed: SEED });
  const part = join(dir.path, "hello.sif.part");
  const controller = new AbortController();
  await assert.rejects(
    downloadToFile(image.downloadUrl, part, {
      http: { ...HTTP, stallTimeoutMs: 60_000, signal: controller.signal },
      onProgress: (progress) => {
        if (progress.done > 0) controller.abort();
      },
    }),
    (error: unknown) => {
      assert.ok(error instanceof InterruptedError);
      assert.equal(error.exitCode, 130);
      return true;
    },
  );
  assert.ok((await Deno.stat(part)).size > 0);
  assert.equal(exists(`${part}.json`), true);
});

Deno.test("withDownloadLock runs two concurrent holders one after the other", async () => {
  await using dir = await tempHome();
  const part = join(dir.path, "image.sif.part");
  const events: string[] = [];
  let waits = 0;
  let releaseFirst!: () => void;
  const firstHeld = new Promise<void>((resolve) => releaseFirst = resolve);
  let firstStarted!: () => void;
  const started = new Promise<void>((resolve) => firstStarted = resolve);
  const first = withDownloadLock(part, async () => {
    events.push("first start");
    firstStarted();
    await firstHeld;
    events.push("first end");
    return 1;
  });
  await started;
  const second = withDownloadLock(part, () => {
    events.push("second start");
    return Promise.resolve(2);
  }, { onWait: () => waits++ });
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.deepEqual(events, ["first start"]);
  assert.ok(exists(`${part}.lock`));
  releaseFirst();
  assert.deepEqual(await Promise.all([first, second]), [1, 2]);
  assert.deepEqual(events, ["first start", "first end", "second start"]);
  assert.equal(waits, 1);
  assert.equal(exists(`${part}.lock`), false);
});

Deno.test("withDownloadLock removes the lock when fn throws", async () => {
  await using dir = await tempHome();
  const part = join(dir.path, "image.sif.part");
  await assert.rejects(withDownloadLock(part, () => Promise.reject(new Error("boom"))), /boom/);
  assert.equal(exists(`${part}.lock`), false);
});

Deno.test("withDownloadLock takes over a lock whose holder stopped refreshing it", async () => {
  await using dir = await tempHome();
  const part = join(dir.path, "image.sif.part");
  await Deno.writeTextFile(`${part}.lock`, "12345 another-node\n");
  const anHourAgo = new Date(Date.now() - 60 * 60 * 1000);
  await Deno.utime(`${part}.lock`, anHourAgo, anHourAgo);
  let waited = false;
  const value = await withDownloadLock(part, () => Promise.resolve("ran"), {
    onWait: () => waited = true,
  });
  assert.equal(value, "ran");
  assert.equal(waited, false);
  assert.equal(exists(`${part}.lock`), false);
});

Deno.test("withDownloadLock writes its pid into the lock while fn runs", async () => {
  await using dir = await tempHome();
  const part = join(dir.path, "image.sif.part");
  const content = await withDownloadLock(part, () => Deno.readTextFile(`${part}.lock`));
  assert.match(content, new RegExp(`^${Deno.pid} \\S+\n$`));
});

Deno.test("withDownloadLock stops waiting when interrupted", async () => {
  await using dir = await tempHome();
  const part = join(dir.path, "image.sif.part");
  // A fresh lock of another process: alive, so withDownloadLock waits for it.
  await Deno.writeTextFile(`${part}.lock`, `${Deno.pid} elsewhere\n`);
  const controller = new AbortController();
  const waiting = withDownloadLock(part, () => Promise.resolve("never"), {
    signal: controller.signal,
    onWait: () => controller.abort(),
  });
  await assert.rejects(waiting, InterruptedError);
  // The other holder's lock is untouched.
  assert.equal(await Deno.readTextFile(`${part}.lock`), `${Deno.pid} elsewhere\n`);
});

Deno.test("downloadToFile refuses an HTML page, labelled or not, and keeps nothing", async () => {
  await using dir = await tempHome();
  await using hub = await startFakeHub();
  const image = hub.addImage("vsoch", "hello", "latest", { size: SIZE, seed: SEED });
  const part = join(dir.path, "hello.sif.part");
  for (const mode of ["html", "html-octet"] as const) {
    hub.setMode(mode);
    await assert.rejects(downloadToFile(image.downloadUrl, part, { http: HTTP }), (error) => {
      assert.ok(error instanceof RemoteError);
      assert.match(error.message, /answered with an HTML page \(HTTP 200\), not an image/);
      return true;
    });
    assert.equal(exists(part), false);
    assert.equal(exists(`${part}.json`), false);
  }
});

Deno.test("downloadIfChanged writes nothing when the server says the file has not changed", async () => {
  await using dir = await tempHome();
  await using hub = await startFakeHub();
  const image = hub.addImage("vsoch", "hello", "latest", { size: SIZE, seed: SEED });
  const part = join(dir.path, "hello.sif.part");
  const first = await downloadToFile(image.downloadUrl, part, { http: HTTP });
  await Deno.remove(part);
  assert.equal(
    await downloadIfChanged(image.downloadUrl, part, first.validator, { http: HTTP }),
    null,
  );
  assert.equal(exists(part), false);
  assert.equal(downloads(hub, image).at(-1)!.headers["if-none-match"], first.validator.etag);

  hub.replaceContent(image, { size: SIZE, seed: SEED + 1 });
  const changed = await downloadIfChanged(image.downloadUrl, part, first.validator, { http: HTTP });
  assert.equal(changed?.md5, await generatedMd5(SIZE, SEED + 1));
});

Deno.test("downloadToFile starts over when a 206 claims the file ends early", async () => {
  await using dir = await tempHome();
  await using hub = await startFakeHub({ mode: "short-206" });
  const image = hub.addImage("vsoch", "hello", "latest", { size: SIZE, seed: SEED });
  const part = join(dir.path, "hello.sif.part");
  await leavePart(part, image, 1000, await etagOf(image));
  const result = await downloadToFile(image.downloadUrl, part, { http: HTTP });
  assert.equal(result.md5, await generatedMd5(SIZE, SEED));
  assert.equal(result.checked, "length");
  const gets = downloads(hub, image).filter((seen) => seen.method === "GET");
  assert.deepEqual(gets.map((seen) => seen.headers["range"]), ["bytes=1000-", undefined]);
});
