/**
 * The session's token handling against a small registry and token server on 127.0.0.1 that,
 * unlike distribution's `silly` auth, check the scopes a token carries: a second challenge with
 * more scopes gets a token for the union and one retry, tokens are cached per scope set, and a
 * 401 after the retry is final.
 */
import assert from "node:assert/strict";
import { OciSession } from "../../../src/remotes/oci_session.ts";

interface Fake extends AsyncDisposable {
  host: string;
  tokenScopes: string[][];
  attempts: string[];
}

// Tokens are "T<n>|<scopes>"; the registry wants push for uploads and pull for the rest.
function startFake(options: { neverEnough?: boolean } = {}): Fake {
  const tokenScopes: string[][] = [];
  const attempts: string[] = [];
  const tokens = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const scopes = new URL(req.url).searchParams.getAll("scope");
    tokenScopes.push(scopes);
    return Response.json({ token: `T${tokenScopes.length}|${scopes.join("|")}` });
  });
  const realm = `http://127.0.0.1:${tokens.addr.port}/token`;
  const challenge = (scope: string) =>
    new Response(null, {
      status: 401,
      headers: { "www-authenticate": `Bearer realm="${realm}",service="fake",scope="${scope}"` },
    });
  const registry = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const path = new URL(req.url).pathname;
    const auth = req.headers.get("authorization") ?? "";
    attempts.push(`${req.method} ${path} ${auth}`);
    if (path === "/v2/") return auth ? Response.json({}) : challenge("");
    const needed = req.method === "POST" ? "push" : "pull";
    if (options.neverEnough || !auth.includes(needed)) {
      return challenge(`repository:x:pull repository:x:${needed}`);
    }
    return new Response(null, { status: req.method === "POST" ? 202 : 200 });
  });
  return {
    host: `127.0.0.1:${registry.addr.port}`,
    tokenScopes,
    attempts,
    async [Symbol.asyncDispose]() {
      await registry.shutdown();
      await tokens.shutdown();
    },
  };
}

function session(fake: Fake): OciSession {
  return new OciSession({
    registry: fake.host,
    http: { userAgent: "test", retries: 0 },
    insecure: false,
    insecureHost: () => false,
    credential: () => null,
  });
}

Deno.test("a challenge naming more scopes gets a token for the union and one retry", async () => {
  await using fake = startFake();
  const client = session(fake);
  const response = await client.send("/v2/x/blobs/uploads/", {
    method: "POST",
    scopes: ["repository:x:pull"],
  });
  assert.equal(response.status, 202);
  assert.deepEqual(fake.tokenScopes, [["repository:x:pull"], ["repository:x:pull,push"]]);
  assert.deepEqual(fake.attempts.filter((line) => line.startsWith("POST")).length, 2);
});

Deno.test("tokens are cached per scope set for the run", async () => {
  await using fake = startFake();
  const client = session(fake);
  for (let i = 0; i < 3; i++) {
    const response = await client.send("/v2/x/manifests/a", { scopes: ["repository:x:pull"] });
    await response.body?.cancel();
    assert.equal(response.status, 200);
  }
  assert.deepEqual(fake.tokenScopes, [["repository:x:pull"]]);
});

Deno.test("a 401 after the retry is final and returned as it is", async () => {
  await using fake = startFake({ neverEnough: true });
  const client = session(fake);
  const response = await client.send("/v2/x/manifests/a", { scopes: ["repository:x:pull"] });
  await response.body?.cancel();
  assert.equal(response.status, 401);
  assert.equal(fake.attempts.filter((line) => line.startsWith("GET /v2/x")).length, 2);
});
