/**
 * How a plain URL's answer is read by refresh's check (remotes/freshness.ts), against a server on
 * 127.0.0.1 that answers with the headers each case sets: servers that ignore conditional
 * requests, weak ETags, Last-Modified alone, another length, nothing to compare.
 */
import assert from "node:assert/strict";
import { byValidators, savedValidator } from "../../../src/remotes/freshness.ts";
import type { RecordedImage } from "../../../src/remotes/client.ts";
import type { HttpOptions } from "../../../src/transfer/http.ts";
import { parseImageName } from "../../../src/core/names.ts";
import { RemoteError } from "../../../src/errors.ts";

const HTTP: HttpOptions = { userAgent: "sregistry-test/1.0", retries: 0 };

// A server whose every answer is `status` with `headers`; it records the requests.
function serve(status: number, headers: Record<string, string>) {
  const seen: { method: string; headers: Headers }[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    seen.push({ method: req.method, headers: req.headers });
    return new Response(null, { status, headers });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/image.sif`,
    seen,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

function record(url: string, saved: Record<string, string> | null, size = 100): RecordedImage {
  return {
    name: parseImageName("web/image:1@0123456789abcdef0123456789abcdef"),
    url,
    metadata: saved === null ? null : { sregistry: { verified: false, ...saved } },
    size,
    md5: "0123456789abcdef0123456789abcdef",
  };
}

Deno.test("a server that ignores If-None-Match but answers the same ETag is current", async () => {
  await using server = serve(200, { etag: '"abc"', "content-length": "100" });
  const check = await byValidators(record(server.url, { etag: '"abc"' }), HTTP);
  assert.equal(check.state, "current");
  assert.equal(server.seen[0].method, "HEAD");
  assert.equal(server.seen[0].headers.get("if-none-match"), '"abc"');
});

Deno.test("a weak ETag names the same version as its strong form", async () => {
  await using server = serve(200, { etag: 'W/"abc"' });
  assert.equal((await byValidators(record(server.url, { etag: '"abc"' }), HTTP)).state, "current");
});

Deno.test("another ETag is out of date, even with the same length", async () => {
  await using server = serve(200, { etag: '"def"', "content-length": "100" });
  const check = await byValidators(record(server.url, { etag: '"abc"' }), HTTP);
  assert.equal(check.state, "outdated");
  assert.equal(check.remoteVersion, '"def"');
});

Deno.test("Last-Modified alone decides when no ETag was kept", async () => {
  const then = "Mon, 01 Jan 2024 00:00:00 GMT";
  await using same = serve(200, { "last-modified": then });
  const kept = { last_modified: then };
  assert.equal((await byValidators(record(same.url, kept), HTTP)).state, "current");
  assert.equal(same.seen[0].headers.get("if-modified-since"), then);
  assert.equal(same.seen[0].headers.get("if-none-match"), null);
  await using later = serve(200, { "last-modified": "Tue, 02 Jan 2024 00:00:00 GMT" });
  assert.equal((await byValidators(record(later.url, kept), HTTP)).state, "outdated");
});

Deno.test("with nothing kept, another length is out of date and the same length unknown", async () => {
  await using longer = serve(200, { "content-length": "101" });
  const check = await byValidators(record(longer.url, null), HTTP);
  assert.equal(check.state, "outdated");
  assert.match(check.reason ?? "", /101 bytes, the stored one 100/);
  await using same = serve(200, { "content-length": "100" });
  assert.equal((await byValidators(record(same.url, null), HTTP)).state, "unknown");
  assert.equal(same.seen[0].headers.get("if-none-match"), null, "nothing conditional to send");
});

Deno.test("a 304 to a request that was not conditional proves nothing", async () => {
  await using server = serve(304, {});
  await assert.rejects(() => byValidators(record(server.url, null), HTTP), RemoteError);
});

Deno.test("a URL that now asks for credentials fails and says they were not kept", async () => {
  await using server = serve(401, {});
  await assert.rejects(
    () => byValidators(record(server.url, { etag: '"abc"' }), HTTP),
    (error: RemoteError) =>
      error.status === 401 && /credentials in a URL are not kept/.test(error.hint!),
  );
});

Deno.test("only the validators pull saved under `sregistry` are used", () => {
  assert.equal(savedValidator(null), null);
  assert.equal(savedValidator({ etag: '"top-level"' }), null);
  assert.equal(savedValidator({ sregistry: { etag: 5, last_modified: null } }), null);
  assert.deepEqual(savedValidator({ sregistry: { etag: '"a"', last_modified: null } }), {
    etag: '"a"',
    lastModified: null,
  });
});
