/**
 * oras:// against registries and token services that misbehave, as small servers of the tests on
 * 127.0.0.1 (hosts elsewhere are reached through a proxy on 127.0.0.1): layer bodies longer than
 * their manifest says, tokens that expire or are revoked during a download, a token service on
 * plain http, tag lists and catalogs holding names outside the OCI grammar, and a registry that
 * speaks plain http where https was asked.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { sregistry } from "../support/cli.ts";
import { registryTest, startDockerRegistry, startProxy } from "../support/docker_registry.ts";
import { tempHome } from "../support/home.ts";
import { digestOf, pushShape, sifBytes, TYPES } from "../support/oci_artifacts.ts";
import { startConnectProxy } from "../support/proxy.ts";
import { assertTransferFailure, filesUnder, imageFiles, leftovers } from "../support/pulls.ts";
import { assertFailure, exists, lines, records } from "../support/state.ts";

const USER = "hostile-user";
const PASSWORD = "pw-Hq3-distinct-6620";
const WRONG = "wrong-Ks8-distinct-1174";

/** The manifest of a SIF artifact whose layer is `layer` (its size and digest, as claimed). */
function manifestOf(layer: Uint8Array): string {
  return JSON.stringify({
    schemaVersion: 2,
    mediaType: TYPES.oci,
    config: {
      mediaType: TYPES.sifConfig,
      size: 2,
      digest: digestOf(new TextEncoder().encode("{}")),
    },
    layers: [{ mediaType: TYPES.sifLayer, size: layer.byteLength, digest: digestOf(layer) }],
  });
}

function manifestResponse(layer: Uint8Array): Response {
  return new Response(manifestOf(layer), { headers: { "content-type": TYPES.oci } });
}

Deno.test("a layer body longer than its manifest says is stopped at that size; nothing is kept", async () => {
  await using home = await tempHome();
  const layer = sifBytes(1024 * 1024, 31);
  let served = 0;
  await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/v2/") return Response.json({});
    if (/^\/v2\/t\/(endless|announced)\/manifests\/1$/.test(path)) return manifestResponse(layer);
    if (path === `/v2/t/endless/blobs/${digestOf(layer)}`) {
      // The layer, then more, without a length: up to 256 MiB (a disk filler, if never stopped).
      const chunk = 64 * 1024;
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (served >= 256 * 1024 * 1024) return controller.close();
          const start = served;
          served += chunk;
          controller.enqueue(
            start < layer.byteLength
              ? layer.subarray(start, start + chunk)
              : new Uint8Array(chunk).fill(7),
          );
        },
      });
      return new Response(body);
    }
    if (path === `/v2/t/announced/blobs/${digestOf(layer)}`) {
      const longer = new Uint8Array(layer.byteLength + 1);
      longer.set(layer);
      return new Response(longer, { headers: { "content-length": String(longer.byteLength) } });
    }
    return new Response("not here", { status: 500 });
  });
  const host = `127.0.0.1:${server.addr.port}`;

  const endless = await sregistry(["pull", `oras://${host}/t/endless:1`], { env: home.env });
  assertTransferFailure(endless, 1, /sent more than the 1048576 bytes expected; .*deleted/);
  assert.ok(served < 64 * 1024 * 1024, `the server sent ${served} bytes`);
  const target = join(home.path, "endless.sif");
  const toFile = await sregistry(["pull", "--name", target, `oras://${host}/t/endless:1`], {
    env: home.env,
  });
  assertTransferFailure(toFile, 1, /sent more than the 1048576 bytes expected/);
  assert.equal(exists(target), false);

  const announced = await sregistry(["pull", `oras://${host}/t/announced:1`], { env: home.env });
  assertTransferFailure(
    announced,
    1,
    /announces 1048577 bytes, more than the 1048576 bytes expected/,
  );
  assert.deepEqual(imageFiles(home.storage), []);
  assert.deepEqual(leftovers(home.storage), []);
  assert.deepEqual(filesUnder(home.path).filter((file) => file.endsWith(".sif")), []);
});

/** A Bearer registry whose tokens lapse: after `lifetimeMs`, or once used for a blob. */
function startExpiringRegistry(
  layer: Uint8Array,
  expiry: { lifetimeMs: number | null; revokeAfterBlob: boolean },
) {
  const issued = new Map<string, number>();
  const revoked = new Set<string>();
  const blobRequests: { token: string | null; range: string | null; status: number }[] = [];
  let blobs = 0;
  let serial = 0;
  let realm = "";
  const challenge = () =>
    new Response(JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: "token" }] }), {
      status: 401,
      headers: {
        "content-type": "application/json",
        "www-authenticate":
          `Bearer realm="${realm}",service="expiring",scope="repository:t/tok:pull"`,
      },
    });
  const valid = (token: string | null) => {
    const at = token === null ? undefined : issued.get(token);
    if (at === undefined || revoked.has(token!)) return false;
    return expiry.lifetimeMs === null || Date.now() - at < expiry.lifetimeMs;
  };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const url = new URL(req.url);
    if (url.pathname === "/token") {
      const token = `tok-${++serial}`;
      issued.set(token, Date.now());
      const seconds = expiry.lifetimeMs === null ? 300 : expiry.lifetimeMs / 1000;
      return Response.json({ token, expires_in: seconds });
    }
    const token = req.headers.get("authorization")?.replace(/^Bearer /, "") ?? null;
    const range = req.headers.get("range");
    const isBlob = url.pathname === `/v2/t/tok/blobs/${digestOf(layer)}`;
    if (!valid(token)) {
      if (isBlob) blobRequests.push({ token, range, status: 401 });
      return challenge();
    }
    if (url.pathname === "/v2/") return Response.json({});
    if (url.pathname === "/v2/t/tok/manifests/1") return manifestResponse(layer);
    if (!isBlob) return new Response("not here", { status: 500 });
    if (expiry.revokeAfterBlob) revoked.add(token!);
    const start = Number(/^bytes=(\d+)-$/.exec(range ?? "")?.[1] ?? 0);
    const headers: Record<string, string> = {
      etag: '"layer"',
      "content-length": String(layer.byteLength - start),
    };
    if (range !== null) {
      headers["content-range"] = `bytes ${start}-${layer.byteLength - 1}/${layer.byteLength}`;
    }
    blobRequests.push({ token, range, status: range === null ? 200 : 206 });
    if (++blobs > 1) {
      return new Response(layer.slice(start), { status: range === null ? 200 : 206, headers });
    }
    // The first answer sends half the layer, then ends short once the token has lapsed.
    let sent = false;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (!sent) {
          sent = true;
          return controller.enqueue(layer.slice(0, layer.byteLength / 2));
        }
        while (!expiry.revokeAfterBlob && valid(token)) {
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        // Fewer bytes than Content-Length says: the connection is cut.
        controller.close();
      },
    });
    return new Response(body, { headers });
  });
  realm = `http://127.0.0.1:${server.addr.port}/token`;
  return { server, host: `127.0.0.1:${server.addr.port}`, blobRequests };
}

for (
  const [why, expiry] of [
    ["expires during the download", { lifetimeMs: 1500, revokeAfterBlob: false }],
    ["is revoked during the download", { lifetimeMs: null, revokeAfterBlob: true }],
  ] as const
) {
  Deno.test(`a layer download whose token ${why} gets a new token and resumes`, async () => {
    await using home = await tempHome();
    const layer = sifBytes(2 * 1024 * 1024, 32);
    const fake = startExpiringRegistry(layer, expiry);
    await using _server = fake.server;
    const pulled = await sregistry(["pull", "--json", `oras://${fake.host}/t/tok:1`], {
      env: home.env,
    });
    assert.equal(pulled.code, 0, pulled.stderr);
    assert.deepEqual(Deno.readFileSync(JSON.parse(pulled.stdout).image), layer);
    const served = fake.blobRequests.filter((seen) => seen.status !== 401);
    assert.equal(served.length, 2, JSON.stringify(fake.blobRequests));
    assert.notEqual(served[0].token, served[1].token, "the resumed request has a new token");
    assert.match(served[1].range ?? "", /^bytes=[1-9]\d*-$/, "and resumes");
    const refused = fake.blobRequests.filter((seen) => seen.status === 401).length;
    // An expiring token is renewed before it is refused; a revoked one after one refusal.
    assert.equal(refused, expiry.revokeAfterBlob ? 1 : 0, JSON.stringify(fake.blobRequests));
  });
}

/**
 * A Bearer registry on 127.0.0.1 whose token service is `http://auth.cluster.invalid/token`,
 * served by a forward proxy on 127.0.0.1 (HTTP_PROXY). The service gives `tok-user` for the
 * right credentials, `tok-anon` without any, and refuses wrong ones unless `lenient` (then wrong
 * ones get `tok-anon` too); the registry takes `tok-anon` for pulls only.
 */
function startPlainRealm(options: { lenient: boolean }) {
  const seen: { authorization: string | null }[] = [];
  const layer = sifBytes(50_000, 33);
  const proxy = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const url = new URL(req.url);
    if (url.host !== "auth.cluster.invalid" || url.pathname !== "/token") {
      return new Response("not here", { status: 500 });
    }
    const authorization = req.headers.get("authorization");
    seen.push({ authorization });
    if (authorization === null) return Response.json({ token: "tok-anon" });
    if (authorization === `Basic ${btoa(`${USER}:${PASSWORD}`)}`) {
      return Response.json({ token: "tok-user" });
    }
    return options.lenient
      ? Response.json({ token: "tok-anon" })
      : Response.json({ errors: [{ code: "UNAUTHORIZED", message: "bad" }] }, { status: 401 });
  });
  const registry = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const url = new URL(req.url);
    const token = req.headers.get("authorization");
    const user = token === "Bearer tok-user";
    const anonymous = token === "Bearer tok-anon";
    if ((url.pathname === "/v2/" && !user) || (!user && !anonymous)) {
      return new Response(null, {
        status: 401,
        headers: {
          "www-authenticate": 'Bearer realm="http://auth.cluster.invalid/token",service="plain"',
        },
      });
    }
    if (url.pathname === "/v2/") return Response.json({});
    if (url.pathname === "/v2/t/plain/manifests/1") return manifestResponse(layer);
    if (url.pathname === `/v2/t/plain/blobs/${digestOf(layer)}`) return new Response(layer);
    return new Response("not here", { status: 500 });
  });
  return {
    host: `127.0.0.1:${registry.addr.port}`,
    proxy: `http://127.0.0.1:${proxy.addr.port}`,
    seen,
    async [Symbol.asyncDispose]() {
      await proxy.shutdown();
      await registry.shutdown();
    },
  };
}

Deno.test("credentials are never withheld in silence from a token service on plain http", async () => {
  await using home = await tempHome();
  await using fake = startPlainRealm({ lenient: false });
  const env = { ...home.env, HTTP_PROXY: fake.proxy, NO_PROXY: "127.0.0.1" };
  const login = (password: string, extra: Record<string, string> = {}) =>
    sregistry(["login", fake.host, "-u", USER, "--password-stdin"], {
      env: { ...env, ...extra },
      stdin: `${password}\n`,
    });
  const refusal =
    /credentials \(from the login\) are not sent to http:\/\/auth\.cluster\.invalid over plain http, where 127\.0\.0\.1:\d+ asks for them; .*SREGISTRY_ORAS_NOHTTPS=auth\.cluster\.invalid/;

  assertTransferFailure(await login(WRONG), 1, refusal);
  assertTransferFailure(await login(PASSWORD), 1, refusal);
  assert.equal(fake.seen.length, 0, "the token service was not even asked anonymously");
  assert.equal(exists(join(home.path, ".sregistry")), false, "nothing saved");

  const pulled = await sregistry(["pull", `oras://${fake.host}/t/plain:1`], {
    env: { ...env, SREGISTRY_ORAS_USERNAME: USER, SREGISTRY_ORAS_PASSWORD: PASSWORD },
  });
  assertTransferFailure(
    pulled,
    1,
    /credentials \(from SREGISTRY_ORAS_USERNAME\S*\) are not sent to http:\/\/auth\.cluster\.invalid/,
  );
  const anonymous = await sregistry(["pull", `oras://${fake.host}/t/plain:1`], { env });
  assert.equal(anonymous.code, 0, "without credentials there is nothing to withhold");

  const trusted = { SREGISTRY_ORAS_NOHTTPS: "auth.cluster.invalid" };
  assertTransferFailure(await login(WRONG, trusted), 1, /refused the credentials from the login/);
  const accepted = await login(PASSWORD, trusted);
  assert.equal(accepted.code, 0, accepted.stderr);
  assert.match(accepted.stderr, new RegExp(`${fake.host} accepted ${USER}`));
  assert.equal(fake.seen.at(-1)?.authorization, `Basic ${btoa(`${USER}:${PASSWORD}`)}`);
});

Deno.test("login fails when the token the credentials got is not accepted by the registry", async () => {
  await using home = await tempHome();
  await using fake = startPlainRealm({ lenient: true });
  const env = {
    ...home.env,
    HTTP_PROXY: fake.proxy,
    NO_PROXY: "127.0.0.1",
    SREGISTRY_ORAS_NOHTTPS: "auth.cluster.invalid",
  };
  const wrong = await sregistry(["login", fake.host, "-u", USER, "--password-stdin"], {
    env,
    stdin: `${WRONG}\n`,
  });
  assertTransferFailure(wrong, 1, /refused the username and password/);
  assert.equal(exists(join(home.path, ".sregistry")), false, "nothing saved");
  assert.ok(!wrong.stderr.includes(WRONG));
});

registryTest(
  "tags and repositories outside the OCI grammar are skipped with a warning, never requested",
  async () => {
    await using registry = await startDockerRegistry({ relativeUrls: true });
    await using home = await tempHome();
    for (const tag of ["v1", "v2"]) {
      await pushShape(registry, "lab/x", tag, sifBytes(10_000, tag.length), "apptainer-1.3.1");
    }
    const hostile = ["v2", "../../x", "a\u001b[31mred", 5, "v1", "gone", "-dash"];
    await using proxy = startProxy(registry, (_req, url) => {
      if (url.pathname === "/v2/lab/x/tags/list") {
        return Response.json({ name: "lab/x", tags: hostile });
      }
      if (url.pathname === "/v2/_catalog") {
        return Response.json({ repositories: ["lab/x", "../etc", "Upper/case", null] });
      }
      return null;
    });
    const table = await sregistry(["search", `oras://${proxy.host}/lab/x`], { env: home.env });
    assert.equal(table.code, 0, table.stderr);
    assert.deepEqual(
      lines(table.stdout).slice(1),
      ["gone", "v1", "v2"].map((tag) => `oras://${proxy.host}/lab/x:${tag}`),
    );
    assert.match(
      table.stderr,
      /\[warning\] .*lab\/x lists 4 tags outside the OCI grammar \("\.\.\/\.\.\/x", "a\\u001b\[31mred", a number, \.\.\.\); skipped/,
    );
    assert.ok(!table.stderr.includes("\u001b"), "no control character reaches the terminal");

    const json = await sregistry(["search", "--json", `oras://${proxy.host}/lab/x`], {
      env: home.env,
    });
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(records(json).map((found) => found.tag), ["v1", "v2"]);
    assert.match(json.stderr, /lab\/x:gone is listed, but .*was not found.*; skipped/);
    const asked = proxy.requests.map((seen) => seen.path);
    assert.ok(
      asked.every((path) => path === "/v2/" || path.startsWith("/v2/lab/x/")),
      `a request left the repository: ${asked.join(" ")}`,
    );

    const catalog = await sregistry(["search", `oras://${proxy.host}`], { env: home.env });
    assert.equal(catalog.code, 0, catalog.stderr);
    assert.deepEqual(lines(catalog.stdout).slice(1), [`oras://${proxy.host}/lab/x`]);
    assert.match(catalog.stderr, /lists 3 repositories outside the OCI grammar/);
  },
);

Deno.test("an oras host that speaks plain http gets the hint for oras, SREGISTRY_ORAS_NOHTTPS", async () => {
  await using home = await tempHome();
  await using plain = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => Response.json({}),
  );
  // registry.cluster.invalid:5000 is not loopback: https is asked, through a tunnel to `plain`.
  await using proxy = startConnectProxy(() => ({ hostname: "127.0.0.1", port: plain.addr.port }));
  const result = await sregistry(["pull", "oras://registry.cluster.invalid:5000/lab/a:v1"], {
    env: { ...home.env, HTTPS_PROXY: `http://127.0.0.1:${proxy.port}`, SREGISTRY_RETRIES: "0" },
  });
  assertTransferFailure(
    result,
    1,
    /the server may speak plain http: only if you trust the network to it, set SREGISTRY_ORAS_NOHTTPS=registry\.cluster\.invalid:5000$/,
  );
  assert.doesNotMatch(result.stderr, /SREGISTRY_REGISTRY_NOHTTPS/);
  assert.deepEqual(proxy.targets, ["registry.cluster.invalid:5000"]);
});

Deno.test("a password in an oras:// (or registry://) reference is refused and never shown", async () => {
  await using home = await tempHome();
  const secret = "S3cretPW-distinct-4410";
  const uri = `oras://me:${secret}@registry.cluster.invalid/lab/a:v1`;
  const cases: string[][] = [
    ["pull", uri],
    ["pull", "--name", join(home.path, "a.sif"), uri],
    ["record", uri],
    ["delete", uri],
    ["delete", "--force", uri],
    ["search", `oras://me:${secret}@registry.cluster.invalid/lab/a`],
    ["search", `oras://me:${secret}@registry.cluster.invalid`],
    ["push", home.file("a.sif", sifBytes(1000)), "--name", uri],
    ["pull", `registry://me:${secret}@registry.cluster.invalid/lab/a:v1`],
  ];
  for (const args of cases) {
    const result = await sregistry(args, { env: home.env });
    assertFailure(result, 2, /cannot carry credentials|sregistry login/);
    assert.ok(!(result.stdout + result.stderr).includes(secret), `${args[0]}: ${result.stderr}`);
  }
  const login = await sregistry(["login", `oras://me:${secret}@h.io`, "-u", "me"], {
    env: home.env,
    stdin: "pw\n",
  });
  assertFailure(login, 2, /cannot carry credentials.*sregistry login h\.io/);
  assert.ok(!login.stderr.includes(secret));
});
