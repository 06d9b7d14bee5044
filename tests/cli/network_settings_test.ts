/**
 * Site network settings a cluster needs: HTTP_PROXY is honoured (a proxy on 127.0.0.1 serves a
 * URL whose host does not resolve), HTTPS_PROXY tunnels https with CONNECT, NO_PROXY bypasses
 * them, and DENO_CERT trusts a site's own CA.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { sregistry } from "../support/cli.ts";
import { tempHome } from "../support/home.ts";
import { installed, md5, records } from "../support/state.ts";
import { siteCertificates } from "../support/tls.ts";
import { startConnectProxy } from "../support/proxy.ts";

const IMAGE = new TextEncoder().encode("an image behind the site's network\n");

Deno.test("pull goes through HTTP_PROXY, and NO_PROXY bypasses it", async () => {
  await using home = await tempHome();
  const seen: string[] = [];
  // A forward proxy receives the absolute URL; this one serves the image itself.
  await using proxy = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    seen.push(request.url);
    return new Response(IMAGE, { headers: { "content-length": String(IMAGE.length) } });
  });
  const env = {
    ...home.env,
    HTTP_PROXY: `http://127.0.0.1:${proxy.addr.port}`,
    SREGISTRY_RETRIES: "0",
  };

  const pulled = await sregistry(
    ["pull", "http://images.cluster.invalid/lab/tool.sif", "--name", "lab/tool"],
    { env },
  );
  assert.equal(pulled.code, 0, pulled.stderr);
  assert.deepEqual(seen, ["http://images.cluster.invalid/lab/tool.sif"]);
  const [record] = records(await sregistry(["images", "--json"], { env }));
  assert.equal(record.version, md5(IMAGE));

  // NO_PROXY: a host listed there is reached directly (both on 127.0.0.1: no traffic leaves).
  await using direct = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response(IMAGE, { headers: { "content-length": String(IMAGE.length) } }),
  );
  const bypassed = await sregistry(
    ["pull", `http://127.0.0.1:${direct.addr.port}/lab/other.sif`, "--name", "lab/other"],
    { env: { ...env, NO_PROXY: "127.0.0.1" } },
  );
  assert.equal(bypassed.code, 0, bypassed.stderr);
  assert.equal(seen.length, 1, "the proxy saw only the first pull");
});

Deno.test({
  name: "an https server signed by the site's own CA works with DENO_CERT, also through " +
    "HTTPS_PROXY, and fails clearly without",
  ignore: !installed("openssl", "version"),
  async fn() {
    await using home = await tempHome();
    const pki = siteCertificates(join(home.path, "pki"));
    await using server = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      cert: Deno.readTextFileSync(pki.cert),
      key: Deno.readTextFileSync(pki.key),
      onListen() {},
    }, () => new Response(IMAGE, { headers: { "content-length": String(IMAGE.length) } }));
    const url = `https://127.0.0.1:${server.addr.port}/lab/tool.sif`;
    const env = { ...home.env, SREGISTRY_RETRIES: "0" };

    const untrusted = await sregistry(["pull", url, "--name", "lab/tool"], { env });
    assert.equal(untrusted.code, 1);
    assert.match(untrusted.stderr, /DENO_CERT/);
    assert.equal(records(await sregistry(["images", "--json"], { env })).length, 0);

    const trusted = await sregistry(["pull", url, "--name", "lab/tool"], {
      env: { ...env, DENO_CERT: pki.ca },
    });
    assert.equal(trusted.code, 0, trusted.stderr);
    assert.equal(records(await sregistry(["images", "--json"], { env })).length, 1);

    await using proxy = startConnectProxy();
    const proxied = await sregistry(["pull", url, "--name", "lab/proxied"], {
      env: {
        ...env,
        DENO_CERT: pki.ca,
        HTTPS_PROXY: `http://127.0.0.1:${proxy.port}`,
      },
    });
    assert.equal(proxied.code, 0, proxied.stderr);
    assert.deepEqual(proxy.targets, [`127.0.0.1:${server.addr.port}`], "tunnelled via the proxy");
    assert.equal(records(await sregistry(["images", "--json"], { env })).length, 2);
  },
});
