/** uploadMultipart against small servers on 127.0.0.1: plain (not chunked) bodies, exact parts. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { InterruptedError, NotFoundError, RemoteError } from "../../../src/errors.ts";
import { uploadMultipart } from "../../../src/transfer/upload.ts";
import { closedPort } from "../../support/registry_env.ts";
import { gzipBomb } from "../../support/fake_hub.ts";
import { md5 } from "../../support/state.ts";

interface Received {
  headers: Headers;
  fields: [string, string][];
  file?: { field: string; name: string; type: string; md5: string; size: number };
}

// A server that parses the multipart body with Deno's own parser, independent of ours.
function startServer(
  answer?: (request: Request) => Response | undefined | Promise<Response | undefined>,
) {
  const received: Received[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const custom = await answer?.(request);
    if (custom !== undefined) return custom;
    const entry: Received = { headers: request.headers, fields: [] };
    for (const [field, value] of await request.formData()) {
      if (typeof value === "string") {
        entry.fields.push([field, value]);
      } else {
        const bytes = new Uint8Array(await value.arrayBuffer());
        entry.file = {
          field,
          name: value.name,
          type: value.type,
          md5: md5(bytes),
          size: bytes.byteLength,
        };
      }
    }
    received.push(entry);
    return Response.json({ message: "Upload Complete" });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/upload`,
    received,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

async function tempFile(bytes: Uint8Array): Promise<{ path: string } & AsyncDisposable> {
  const dir = await Deno.makeTempDir({ prefix: "sregistry-upload-test-" });
  const path = join(dir, "image.sif");
  await Deno.writeFile(path, bytes);
  return { path, [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }) };
}

function randomBytes(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let offset = 0; offset < size; offset += 65536) {
    crypto.getRandomValues(bytes.subarray(offset, Math.min(size, offset + 65536)));
  }
  return bytes;
}

const FILE = { field: "file1", filename: "tacos:latest.sif", contentType: "text/plain" };

Deno.test("uploadMultipart sends a plain body with an exact Content-Length and the parts in order", async () => {
  await using server = startServer();
  const content = randomBytes(3 * 1024 * 1024 + 17);
  await using file = await tempFile(content);
  const progress: [number, number][] = [];
  const response = await uploadMultipart(server.url, {
    fields: [["SREGISTRY_EVENT", "SREGISTRY-HMAC-SHA256 Credential=x"], ["name", "tacos"], [
      "collection",
      "3",
    ], ["tag", "latest"]],
    file: { ...FILE, path: file.path },
    headers: { Authorization: "SREGISTRY-HMAC-SHA256 Credential=x" },
    userAgent: "sregistry-test/1",
    onProgress: (sent, total) => progress.push([sent, total]),
  });

  assert.equal(response.status, 200);
  assert.equal(response.statusText, "OK");
  assert.equal(response.headers["content-type"], "application/json");
  assert.deepEqual(JSON.parse(response.body), { message: "Upload Complete" });
  assert.equal(server.received.length, 1);
  const [got] = server.received;
  assert.equal(got.headers.get("transfer-encoding"), null);
  assert.ok(got.headers.get("content-length") !== null);
  assert.equal(got.headers.get("authorization"), "SREGISTRY-HMAC-SHA256 Credential=x");
  assert.equal(got.headers.get("user-agent"), "sregistry-test/1");
  assert.match(
    got.headers.get("content-type") ?? "",
    /^multipart\/form-data; boundary=[0-9a-f]{32}$/,
  );
  assert.deepEqual(got.fields, [
    ["SREGISTRY_EVENT", "SREGISTRY-HMAC-SHA256 Credential=x"],
    ["name", "tacos"],
    ["collection", "3"],
    ["tag", "latest"],
  ]);
  assert.deepEqual(got.file, {
    field: "file1",
    name: "tacos:latest.sif",
    type: "text/plain",
    md5: md5(content),
    size: content.byteLength,
  });
  assert.deepEqual(progress.at(-1), [content.byteLength, content.byteLength]);
  assert.ok(progress.every(([, total]) => total === content.byteLength));
  assert.ok(progress.every(([sent], i) => i === 0 || sent >= progress[i - 1][0]));
});

Deno.test("uploadMultipart's Content-Length equals the bytes sent, for UTF-8 fields and an empty file", async () => {
  let lengths: [string | null, number] | undefined;
  await using server = startServer(async (request) => {
    const bytes = new Uint8Array(await request.arrayBuffer());
    lengths = [request.headers.get("content-length"), bytes.byteLength];
    const text = new TextDecoder().decode(bytes);
    return new Response(text, { status: 201 });
  });
  await using file = await tempFile(new Uint8Array(0));
  const response = await uploadMultipart(server.url, {
    fields: [["name", "tacos-ü-🌮"]],
    file: {
      field: "file1",
      path: file.path,
      filename: 'we"ird\nname.sif',
      contentType: "text/plain",
    },
    userAgent: "sregistry-test/1",
  });
  assert.equal(response.status, 201);
  assert.ok(lengths !== undefined);
  assert.equal(Number(lengths[0]), lengths[1]);
  const boundary = response.body.slice(2, 34);
  assert.equal(
    response.body,
    `--${boundary}\r\nContent-Disposition: form-data; name="name"\r\n\r\ntacos-ü-🌮\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="file1"; ` +
      `filename="we%22ird%0Aname.sif"\r\nContent-Type: text/plain\r\n\r\n\r\n--${boundary}--\r\n`,
  );
});

Deno.test("uploadMultipart returns an early 413 answer instead of a broken-pipe error", async () => {
  await using server = startServer((request) => {
    request.body?.cancel();
    return new Response("<html>413 Request Entity Too Large</html>", { status: 413 });
  });
  await using file = await tempFile(randomBytes(8 * 1024 * 1024));
  const response = await uploadMultipart(server.url, {
    fields: [["name", "tacos"]],
    file: { ...FILE, path: file.path },
    userAgent: "sregistry-test/1",
  });
  assert.equal(response.status, 413);
  assert.match(response.body, /413 Request Entity Too Large/);
});

Deno.test("uploadMultipart returns a redirect without following it", async () => {
  await using server = startServer(async (request) => {
    await request.arrayBuffer();
    return new Response(null, {
      status: 302,
      headers: { location: "http://127.0.0.1:1/elsewhere" },
    });
  });
  await using file = await tempFile(randomBytes(1024));
  const response = await uploadMultipart(server.url, {
    fields: [],
    file: { ...FILE, path: file.path },
    userAgent: "sregistry-test/1",
  });
  assert.equal(response.status, 302);
  assert.equal(response.headers.location, "http://127.0.0.1:1/elsewhere");
  assert.equal(response.body, "");
});

Deno.test("uploadMultipart reports an unreachable server as a RemoteError naming the host", async () => {
  const port = closedPort();
  await using file = await tempFile(randomBytes(1024));
  await assert.rejects(
    uploadMultipart(`http://127.0.0.1:${port}/upload`, {
      fields: [],
      file: { ...FILE, path: file.path },
      userAgent: "sregistry-test/1",
    }),
    (error) => {
      assert.ok(error instanceof RemoteError);
      assert.match(error.message, new RegExp(`^could not reach 127\\.0\\.0\\.1:${port}: `));
      return true;
    },
  );
});

Deno.test("uploadMultipart turns an abort into an InterruptedError", async () => {
  const stalled = Promise.withResolvers<void>();
  await using server = startServer(async () => {
    await stalled.promise; // never reads the body, so the upload stalls
    return new Response("late");
  });
  await using file = await tempFile(randomBytes(32 * 1024 * 1024));
  const controller = new AbortController();
  try {
    await assert.rejects(
      uploadMultipart(server.url, {
        fields: [],
        file: { ...FILE, path: file.path },
        userAgent: "sregistry-test/1",
        signal: controller.signal,
        onProgress: (sent) => {
          if (sent > 0) controller.abort();
        },
      }),
      InterruptedError,
    );
  } finally {
    stalled.resolve();
  }
});

Deno.test("uploadMultipart refuses an already aborted signal before connecting", async () => {
  await using file = await tempFile(randomBytes(16));
  await assert.rejects(
    uploadMultipart("http://127.0.0.1:1/upload", {
      fields: [],
      file: { ...FILE, path: file.path },
      userAgent: "sregistry-test/1",
      signal: AbortSignal.abort(),
    }),
    InterruptedError,
  );
});

Deno.test("uploadMultipart says which file is missing", async () => {
  await assert.rejects(
    uploadMultipart("http://127.0.0.1:1/upload", {
      fields: [],
      file: { ...FILE, path: "/nonexistent/sregistry/image.sif" },
      userAgent: "sregistry-test/1",
    }),
    (error) => {
      assert.ok(error instanceof NotFoundError);
      assert.equal(error.message, "no such file: /nonexistent/sregistry/image.sif");
      return true;
    },
  );
});

Deno.test("uploadMultipart gives up on an idle connection after timeoutMs", async () => {
  const stalled = Promise.withResolvers<void>();
  await using server = startServer(async () => {
    await stalled.promise;
    return new Response("late");
  });
  await using file = await tempFile(randomBytes(32 * 1024 * 1024));
  try {
    await assert.rejects(
      uploadMultipart(server.url, {
        fields: [],
        file: { ...FILE, path: file.path },
        userAgent: "sregistry-test/1",
        timeoutMs: 200,
      }),
      (error) => {
        assert.ok(error instanceof RemoteError);
        assert.match(
          error.message,
          /^upload to 127\.0\.0\.1:\d+ timed out: no activity for 0\.2 s$/,
        );
        return true;
      },
    );
  } finally {
    stalled.resolve();
  }
});

Deno.test("uploadMultipart says when the connection breaks during the upload", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = (async () => {
    const connection = await listener.accept();
    await connection.read(new Uint8Array(65536)); // some of the request, then hang up
    connection.close();
  })();
  await using file = await tempFile(randomBytes(32 * 1024 * 1024));
  try {
    await assert.rejects(
      uploadMultipart(`http://127.0.0.1:${listener.addr.port}/upload`, {
        fields: [],
        file: { ...FILE, path: file.path },
        userAgent: "sregistry-test/1",
      }),
      (error) => {
        assert.ok(error instanceof RemoteError);
        assert.match(
          error.message,
          /^connection to 127\.0\.0\.1:\d+ broke during the upload \(\d+ of 33554432 bytes sent\): /,
        );
        return true;
      },
    );
  } finally {
    await accepted;
    listener.close();
  }
});

Deno.test("uploadMultipart sends the file again, from its start, after a 503 or 429", async () => {
  let answers = 0;
  await using server = startServer(async (request) => {
    if (++answers > 2) return undefined;
    await request.body?.cancel();
    return new Response("busy", { status: answers === 1 ? 503 : 429 });
  });
  const bytes = randomBytes(300_000);
  await using file = await tempFile(bytes);
  const attempts: number[] = [];
  const retries: string[] = [];
  let seen = 0;
  const response = await uploadMultipart(server.url, {
    fields: [["name", "tacos"]],
    file: { ...FILE, path: file.path },
    userAgent: "sregistry-test/1",
    onAttempt: () => attempts.push(seen),
    onChunk: (chunk) => seen += chunk.byteLength,
    retry: { retries: 3, backoffMs: 1, onRetry: (message) => retries.push(message) },
  });
  assert.equal(response.status, 200);
  assert.equal(attempts.length, 3, "told before each attempt");
  assert.equal(server.received.length, 1);
  assert.equal(server.received[0].file?.md5, md5(bytes), "the last attempt sent the whole file");
  assert.equal(retries.length, 2);
  assert.match(retries[0], /HTTP 503.*retrying in \d+ms \(1\/3\)/);
});

Deno.test("uploadMultipart never sends the file again once the connection broke", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let connections = 0;
  const accepting = (async () => {
    for await (const connection of listener) {
      connections++;
      await connection.read(new Uint8Array(65536)).catch(() => null);
      connection.close();
    }
  })().catch(() => {});
  await using file = await tempFile(randomBytes(8 * 1024 * 1024));
  try {
    await assert.rejects(
      uploadMultipart(`http://127.0.0.1:${listener.addr.port}/upload`, {
        fields: [],
        file: { ...FILE, path: file.path },
        userAgent: "sregistry-test/1",
        retry: { retries: 3, backoffMs: 1 },
      }),
      /broke during the upload/,
    );
    assert.equal(connections, 1);
  } finally {
    listener.close();
    await accepting;
  }
});

Deno.test("uploadMultipart tries again when the connection never opened", async () => {
  const retries: string[] = [];
  await using file = await tempFile(randomBytes(10));
  await assert.rejects(
    uploadMultipart(`http://127.0.0.1:${closedPort()}/upload`, {
      fields: [],
      file: { ...FILE, path: file.path },
      userAgent: "sregistry-test/1",
      retry: { retries: 2, backoffMs: 1, onRetry: (message) => retries.push(message) },
    }),
    /could not reach/,
  );
  assert.equal(retries.length, 2);
});

Deno.test("uploadMultipart decodes a compressed answer, and stops one past the cap", async () => {
  const text = JSON.stringify({ message: "Upload Complete" });
  const small = new Uint8Array(
    await new Response(
      ReadableStream.from<BufferSource>([new TextEncoder().encode(text)])
        .pipeThrough(new CompressionStream("gzip")),
    ).arrayBuffer(),
  );
  const bomb = await gzipBomb(64);
  let answer = () => new Response(small, { headers: { "content-encoding": "gzip" } });
  await using server = startServer(async (request) => {
    await request.body?.cancel();
    return answer();
  });
  await using file = await tempFile(randomBytes(10));
  const options = { fields: [], file: { ...FILE, path: file.path }, userAgent: "t/1" };
  assert.equal((await uploadMultipart(server.url, options)).body, text);
  answer = bomb;
  await assert.rejects(
    uploadMultipart(server.url, options),
    /answered the upload with more than 16 MiB/,
  );
});
