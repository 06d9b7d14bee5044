/** Tests of the shared HTTP layer against real servers on 127.0.0.1. */
import assert from "node:assert/strict";
import { InterruptedError, RemoteError } from "../../../src/errors.ts";
import {
  bodyReader,
  getJson,
  type HttpOptions,
  redactUrl,
  request,
} from "../../../src/transfer/http.ts";
import { startFakeHub } from "../../support/fake_hub.ts";
import { closedPort } from "../../support/registry_env.ts";

const FAST: HttpOptions = {
  userAgent: "sregistry-test/1.0",
  backoffMs: 1,
  stallTimeoutMs: 300,
  connectTimeoutMs: 5000,
};

interface Seen {
  method: string;
  path: string;
  headers: Headers;
}

/** A tiny server whose handler the test writes; records every request. */
function serve(handler: (req: Request, url: URL) => Response | Promise<Response>) {
  const seen: Seen[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const url = new URL(req.url);
    seen.push({ method: req.method, path: url.pathname, headers: req.headers });
    return handler(req, url);
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    seen,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

Deno.test("request sends the User-Agent and returns non-retryable statuses as they are", async () => {
  await using server = serve(() => new Response("nope", { status: 403 }));
  const response = await request(`${server.url}/x`, {}, FAST);
  assert.equal(response.status, 403);
  assert.equal(await response.text(), "nope");
  assert.equal(server.seen[0].headers.get("user-agent"), "sregistry-test/1.0");
});

Deno.test("request keeps a User-Agent the caller set", async () => {
  await using server = serve(() => new Response("ok"));
  const response = await request(`${server.url}/x`, { headers: { "User-Agent": "mine" } }, FAST);
  await response.body?.cancel();
  assert.equal(server.seen[0].headers.get("user-agent"), "mine");
});

Deno.test("request retries 500 and 429 for GET, telling onRetry each time", async () => {
  await using hub = await startFakeHub({ mode: "fail-once" });
  const messages: string[] = [];
  const first = await request(`${hub.base}/collections/`, {}, {
    ...FAST,
    onRetry: (message) => messages.push(message),
  });
  assert.equal(first.status, 200);
  await first.body?.cancel();
  hub.setMode("429-once");
  const second = await request(`${hub.base}/collections/`, {}, {
    ...FAST,
    onRetry: (message) => messages.push(message),
  });
  assert.equal(second.status, 200);
  await second.body?.cancel();
  assert.equal(hub.requests.length, 4);
  assert.equal(messages.length, 2);
  assert.match(messages[0], /HTTP 500/);
  assert.match(messages[1], /HTTP 429/);
  assert.deepEqual(hub.unexpected, []);
});

Deno.test("request throws RemoteError with the status once retries are used up", async () => {
  await using server = serve(() => new Response("down", { status: 503 }));
  await assert.rejects(
    request(`${server.url}/x?token=secret`, {}, { ...FAST, retries: 2 }),
    (error: unknown) => {
      assert.ok(error instanceof RemoteError);
      assert.equal(error.status, 503);
      assert.equal(
        error.message,
        `GET ${server.url}/x?token=REDACTED: HTTP 503 Service Unavailable`,
      );
      return true;
    },
  );
  assert.equal(server.seen.length, 3);
});

Deno.test("request retries a POST answered 5xx: the server says it did not do the work", async () => {
  let answers = 0;
  await using server = serve(() =>
    ++answers === 1 ? new Response("down", { status: 503 }) : Response.json({ cid: 1 })
  );
  const response = await request(`${server.url}/x`, { method: "POST", body: "{}" }, FAST);
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), { cid: 1 });
  assert.equal(server.seen.length, 2);
});

Deno.test("request never sends a stream body twice, whatever the answer", async () => {
  await using server = serve(async (req) => {
    await req.body?.cancel();
    return new Response("down", { status: 503 });
  });
  const body = ReadableStream.from([new TextEncoder().encode("{}")]);
  const response = await request(`${server.url}/x`, { method: "PUT", body }, FAST);
  await response.body?.cancel();
  assert.equal(response.status, 503);
  assert.equal(server.seen.length, 1);
});

/** A server that reads each request and hangs up without answering; counts connections. */
function hangUp() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let connections = 0;
  const accepting = (async () => {
    for await (const connection of listener) {
      connections++;
      await connection.read(new Uint8Array(65536)).catch(() => null);
      connection.close();
    }
  })();
  return {
    url: `http://127.0.0.1:${listener.addr.port}`,
    connections: () => connections,
    async [Symbol.asyncDispose]() {
      listener.close();
      await accepting.catch(() => {});
    },
  };
}

Deno.test("request never sends a POST again after the connection broke: the server may have acted", async () => {
  await using server = hangUp();
  await assert.rejects(
    request(`${server.url}/api/upload/chunked_upload`, { method: "POST", body: "{}" }, {
      ...FAST,
      retries: 3,
    }),
    (error: unknown) => {
      assert.ok(error instanceof RemoteError);
      assert.match(error.message, /^could not reach 127\.0\.0\.1:\d+: /);
      return true;
    },
  );
  assert.equal(server.connections(), 1, "the POST was sent once");
});

Deno.test("request sends a GET again after the connection broke", async () => {
  await using server = hangUp();
  await assert.rejects(request(`${server.url}/x`, {}, { ...FAST, retries: 2 }), RemoteError);
  assert.equal(server.connections(), 3);
});

Deno.test("request retries a POST whose connection never opened", async () => {
  const port = closedPort();
  const retries: string[] = [];
  await assert.rejects(
    request(`http://127.0.0.1:${port}/x`, { method: "POST", body: "{}" }, {
      ...FAST,
      retries: 2,
      onRetry: (message) => retries.push(message),
    }),
    /refused/i,
  );
  assert.equal(retries.length, 2);
});

Deno.test("request refuses every URL that is not http or https before sending anything", async () => {
  for (const url of ["file:///etc/passwd", "ftp://127.0.0.1/x", "data:,hello", "not a url"]) {
    await assert.rejects(request(url, {}, FAST), (error: unknown) => {
      assert.ok(error instanceof RemoteError, String(error));
      assert.match(error.message, /only http and https URLs are fetched|is not a valid URL/);
      return true;
    });
  }
});

Deno.test("request reports an unreachable host after retrying, without the URL's secrets", async () => {
  const port = closedPort();
  const retries: string[] = [];
  await assert.rejects(
    request(`http://user:pw@127.0.0.1:${port}/x?sig=abc`, {}, {
      ...FAST,
      retries: 1,
      onRetry: (message) => retries.push(message),
    }),
    (error: unknown) => {
      assert.ok(error instanceof RemoteError);
      assert.match(error.message, new RegExp(`^could not reach 127\\.0\\.0\\.1:${port}: `));
      assert.match(error.message, /refused/i);
      assert.doesNotMatch(error.message, /abc|pw/);
      return true;
    },
  );
  assert.equal(retries.length, 1);
});

Deno.test("request gives up on headers that do not come within the connect timeout", async () => {
  let release!: () => void;
  const held = new Promise<void>((resolve) => release = resolve);
  await using server = serve(async () => {
    await held;
    return new Response("late");
  });
  try {
    await assert.rejects(
      request(`${server.url}/slow`, {}, { ...FAST, connectTimeoutMs: 100, retries: 0 }),
      /could not reach 127\.0\.0\.1:\d+: no response within 100ms/,
    );
  } finally {
    release();
  }
});

Deno.test("request follows redirects and keeps Authorization on the same origin", async () => {
  await using server = serve((_req, url) => {
    if (url.pathname === "/a") return Response.redirect(`${url.origin}/b`, 302);
    if (url.pathname === "/b") {
      return new Response(null, { status: 307, headers: { location: "/c" } });
    }
    return new Response("final");
  });
  const response = await request(`${server.url}/a`, {
    headers: { authorization: "Bearer t0k3n" },
  }, FAST);
  assert.equal(await response.text(), "final");
  assert.equal(response.url, `${server.url}/c`);
  assert.deepEqual(server.seen.map((seen) => seen.path), ["/a", "/b", "/c"]);
  for (const seen of server.seen) assert.equal(seen.headers.get("authorization"), "Bearer t0k3n");
});

Deno.test("request drops Authorization when a redirect changes host:port", async () => {
  await using storage = serve(() => new Response("blob"));
  await using registry = serve(() => Response.redirect(`${storage.url}/blob?X-Amz-Signature=s`));
  const response = await request(`${registry.url}/download`, {
    headers: { Authorization: "Bearer t0k3n", "Private-Token": "p" },
  }, FAST);
  assert.equal(await response.text(), "blob");
  assert.equal(registry.seen[0].headers.get("authorization"), "Bearer t0k3n");
  assert.equal(storage.seen.length, 1);
  assert.equal(storage.seen[0].headers.get("authorization"), null);
  assert.equal(storage.seen[0].headers.get("private-token"), null);
  assert.equal(storage.seen[0].headers.get("user-agent"), "sregistry-test/1.0");
});

Deno.test("request turns a POST into a GET on 303", async () => {
  await using server = serve((_req, url) =>
    url.pathname === "/form"
      ? new Response(null, { status: 303, headers: { location: "/done" } })
      : new Response("done")
  );
  const response = await request(`${server.url}/form`, { method: "POST", body: "x=1" }, FAST);
  assert.equal(await response.text(), "done");
  assert.deepEqual(server.seen.map((seen) => seen.method), ["POST", "GET"]);
});

Deno.test("request stops after maxRedirects", async () => {
  await using server = serve((_req, url) => Response.redirect(`${url.origin}/loop`, 302));
  await assert.rejects(
    request(`${server.url}/loop?token=t`, {}, { ...FAST, maxRedirects: 3 }),
    (error: unknown) => {
      assert.ok(error instanceof RemoteError);
      assert.match(error.message, /too many redirects/);
      assert.match(error.message, /token=REDACTED/);
      return true;
    },
  );
  assert.equal(server.seen.length, 4);
});

Deno.test("request follows the fake hub's redirect chain", async () => {
  await using hub = await startFakeHub({ mode: "redirect" });
  const image = hub.addImage("vsoch", "hello", "latest", new Uint8Array([1, 2, 3]));
  const response = await request(image.downloadUrl, {}, FAST);
  assert.deepEqual(new Uint8Array(await response.arrayBuffer()), new Uint8Array([1, 2, 3]));
  assert.equal(response.url, `${hub.url}/files/${image.id}`);
  assert.deepEqual(hub.requests.map((seen) => seen.path), [
    `/download/${image.id}`,
    `/hop/${image.id}`,
    `/files/${image.id}`,
  ]);
});

Deno.test("an aborted signal becomes InterruptedError, before and during a request", async () => {
  const aborted = new AbortController();
  aborted.abort();
  await assert.rejects(
    request("http://127.0.0.1:9/never", {}, { ...FAST, signal: aborted.signal }),
    InterruptedError,
  );

  let release!: () => void;
  const held = new Promise<void>((resolve) => release = resolve);
  await using server = serve(async () => {
    await held;
    return new Response("late");
  });
  const controller = new AbortController();
  const pending = request(`${server.url}/slow`, {}, { ...FAST, signal: controller.signal });
  setTimeout(() => controller.abort(), 50);
  try {
    await assert.rejects(pending, (error: unknown) => {
      assert.ok(error instanceof InterruptedError);
      assert.equal(error.exitCode, 130);
      return true;
    });
  } finally {
    release();
  }
});

Deno.test("getJson parses JSON and reports statuses and malformed bodies", async () => {
  await using server = serve((_req, url) => {
    if (url.pathname === "/ok") return Response.json({ hello: "world" });
    if (url.pathname === "/bad") return new Response("<html>", { status: 200 });
    return new Response("missing", { status: 404, statusText: "Not Found" });
  });
  assert.deepEqual((await getJson(`${server.url}/ok`, {}, FAST)).value, { hello: "world" });
  assert.equal(server.seen[0].headers.get("accept"), "application/json");
  await assert.rejects(
    getJson(`${server.url}/gone?access_token=abc`, {}, FAST),
    (error: unknown) => {
      assert.ok(error instanceof RemoteError);
      assert.equal(error.status, 404);
      assert.equal(
        error.message,
        `GET ${server.url}/gone?access_token=REDACTED: HTTP 404 Not Found`,
      );
      return true;
    },
  );
  await assert.rejects(
    getJson(`${server.url}/bad`, {}, FAST),
    new RegExp(
      `^RemoteError: ${server.url}/bad answered with a body that is not JSON \\(text/plain\\) \\(HTTP 200\\)$`,
    ),
  );
});

Deno.test("getJson against the fake hub's manifest and 404 mode", async () => {
  await using hub = await startFakeHub();
  const image = hub.addImage("vsoch", "hello-world", "latest", new TextEncoder().encode("sif"));
  const manifest = (await getJson(`${hub.base}/container/vsoch/hello-world:latest`, {}, FAST))
    .value;
  assert.deepEqual(manifest, {
    image: image.downloadUrl,
    name: "vsoch/hello-world",
    tag: "latest",
    version: await image.md5(),
    id: image.id,
    branch: "master",
    commit: (manifest as { commit: string }).commit,
    size_mb: "1",
  });
  assert.match((manifest as { commit: string }).commit, /^[0-9a-f]{40}$/, "a git commit id");
  hub.setMode("404");
  await assert.rejects(
    getJson(`${hub.base}/container/vsoch/hello-world:latest`, {}, FAST),
    /HTTP 404/,
  );
  assert.deepEqual(hub.unexpected, []);
});

Deno.test("the fake hub paginates collections with absolute next links", async () => {
  await using hub = await startFakeHub({ pageSize: 2 });
  for (const collection of ["a", "b", "c", "d", "e"]) {
    hub.addImage(collection, "img", "latest", new Uint8Array([1]));
  }
  const names: string[] = [];
  let next: string | null = `${hub.base}/collections/`;
  while (next !== null) {
    const page = (await getJson(next, {}, FAST)).value as {
      count: number;
      next: string | null;
      results: { name: string; containers: { uri: string }[] }[];
    };
    assert.equal(page.count, 5);
    names.push(...page.results.map((result) => result.containers[0].uri));
    next = page.next;
    if (next !== null) assert.ok(next.startsWith(`${hub.base}/collections/`));
  }
  assert.deepEqual(names, [
    "a/img:latest",
    "b/img:latest",
    "c/img:latest",
    "d/img:latest",
    "e/img:latest",
  ]);
  assert.deepEqual(hub.unexpected, []);
});

Deno.test("the fake hub answers unknown routes with 500 and records them", async () => {
  await using hub = await startFakeHub();
  await assert.rejects(request(`${hub.url}/nowhere`, {}, { ...FAST, retries: 0 }), /HTTP 500/);
  await assert.rejects(
    request(`${hub.url}/download/1`, { method: "POST" }, { ...FAST, retries: 0 }),
    /HTTP 500/,
  );
  assert.deepEqual(hub.unexpected.map((seen) => `${seen.method} ${seen.path}`), [
    "GET /nowhere",
    "POST /download/1",
  ]);
});

Deno.test("bodyReader fails a body that stops sending", async () => {
  await using hub = await startFakeHub({ mode: "stall" });
  const image = hub.addImage("c", "n", "t", new Uint8Array(200_000));
  const response = await request(image.downloadUrl, {}, FAST);
  const body = bodyReader(response, FAST);
  let got = 0;
  await assert.rejects(
    (async () => {
      for (let chunk = await body.read(); chunk !== null; chunk = await body.read()) {
        got += chunk.byteLength;
      }
    })(),
    (error: unknown) => {
      assert.ok(error instanceof RemoteError);
      assert.match(error.message, /sent no data for 300ms/);
      return true;
    },
  );
  assert.equal(got, 100_000);
});

Deno.test("redactUrl hides userinfo and credential-like parameters only", () => {
  const cases: [string, string][] = [
    ["https://example.org/a/b.sif", "https://example.org/a/b.sif"],
    ["https://user:pass@example.org/x", "https://example.org/x"],
    ["https://example.org/x?token=abc&page=2", "https://example.org/x?token=REDACTED&page=2"],
    [
      "https://s3.example.org/b/k?X-Amz-Algorithm=AWS4&X-Amz-Credential=AK%2F1&X-Amz-Signature=ff&versionId=3",
      "https://s3.example.org/b/k?X-Amz-Algorithm=REDACTED&X-Amz-Credential=REDACTED" +
      "&X-Amz-Signature=REDACTED&versionId=3",
    ],
    [
      "https://storage.example.org/o?GoogleAccessId=a&Expires=1&Signature=zz",
      "https://storage.example.org/o?GoogleAccessId=a&Expires=1&Signature=REDACTED",
    ],
    ["https://blob.example.org/c?sv=1&sig=s3cr3t", "https://blob.example.org/c?sv=1&sig=REDACTED"],
    [
      "http://127.0.0.1:8000/api?access_token=a&api_key=b&secret=c&password=d&alt=media",
      "http://127.0.0.1:8000/api?access_token=REDACTED&api_key=REDACTED&secret=REDACTED" +
      "&password=REDACTED&alt=media",
    ],
    [
      "https://example.org/cb#access_token=abc&state=1",
      "https://example.org/cb#access_token=REDACTED&state=1",
    ],
    ["not a url, user:pw@host", "not a url, user:pw@host"],
    ["//user:pw@host/x", "//host/x"],
  ];
  for (const [input, expected] of cases) assert.equal(redactUrl(input), expected, input);
});
