/**
 * `push --name oras://…` against Debian's docker-registry: exactly Apptainer's artifact, read from
 * plain HTTP; one PATCH with an exact Content-Length; blobs the registry has not sent again;
 * chunks when the whole file is refused; clear errors for refusals; and a file over 2 GiB
 * streamed with flat memory.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { sregistry, startSregistry } from "../support/cli.ts";
import {
  REGISTRY_PASSWORD,
  REGISTRY_USER,
  registryTest,
  startDockerRegistry,
  startProxy,
} from "../support/docker_registry.ts";
import { tempHome } from "../support/home.ts";
import { samplePeakRss } from "../support/memory.ts";
import { digestOf, rawBlob, rawManifest, sifBytes, TYPES } from "../support/oci_artifacts.ts";
import { assertTransferFailure } from "../support/pulls.ts";
import { assertFailure } from "../support/state.ts";

const CREDENTIALS = {
  SREGISTRY_ORAS_USERNAME: REGISTRY_USER,
  SREGISTRY_ORAS_PASSWORD: REGISTRY_PASSWORD,
};

registryTest(
  "push stores exactly Apptainer's artifact: manifest, config blob and layer",
  async () => {
    await using registry = await startDockerRegistry({ auth: "basic" });
    await using home = await tempHome();
    const bytes = sifBytes(3 * 1024 * 1024 + 5, 21);
    const file = home.file("any-name.sif", bytes);
    const result = await sregistry(
      ["push", file, "--name", `oras://${registry.host}/lab/sif:v1`, "--json"],
      { env: { ...home.env, ...CREDENTIALS } },
    );
    assert.equal(result.code, 0, result.stderr);
    const manifest = await rawManifest(registry, "lab/sif", "v1");
    const layer = digestOf(bytes);
    const expected =
      '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",' +
      '"config":{"mediaType":"application/vnd.sylabs.sif.config.v1+json","size":2,' +
      '"digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"},' +
      '"layers":[{"mediaType":"application/vnd.sylabs.sif.layer.v1.sif",' +
      `"size":${bytes.byteLength},"digest":"${layer}",` +
      '"annotations":{"org.opencontainers.image.title":"sif_v1.sif"}}]}';
    assert.equal(new TextDecoder().decode(manifest.bytes), expected);
    assert.equal(manifest.contentType, TYPES.oci);
    const printed = JSON.parse(result.stdout);
    assert.equal(printed.digest, digestOf(manifest.bytes));
    assert.equal(printed.uri, `oras://${registry.host}/lab/sif:v1@${printed.digest}`);
    assert.match(result.stderr, new RegExp(`Digest: ${printed.digest}`));
    assert.equal(
      new TextDecoder().decode(
        await rawBlob(registry, "lab/sif", JSON.parse(expected).config.digest),
      ),
      "{}",
    );
    assert.deepEqual(await rawBlob(registry, "lab/sif", layer), bytes);
  },
);

registryTest(
  "the layer goes in one PATCH with an exact Content-Length; known blobs are not sent again",
  async () => {
    await using registry = await startDockerRegistry({ relativeUrls: true });
    await using proxy = startProxy(registry);
    await using home = await tempHome();
    const bytes = sifBytes(2 * 1024 * 1024, 22);
    const file = home.file("a.sif", bytes);
    const uri = `oras://${proxy.host}/t/sif:1`;
    assert.equal((await sregistry(["push", file, "--name", uri], { env: home.env })).code, 0);
    const patches = proxy.requests.filter((seen) => seen.method === "PATCH");
    assert.equal(patches.length, 1);
    assert.equal(patches[0].headers["content-length"], String(bytes.byteLength));
    assert.equal(patches[0].headers["transfer-encoding"], undefined);
    assert.equal(patches[0].headers["content-range"], undefined);
    const uploads = () => proxy.requests.filter((seen) => seen.method === "POST").length;
    assert.equal(uploads(), 2, "config and layer");

    // Again under another tag: the config blob is there already.
    assert.equal(
      (await sregistry(["push", file, "--name", `${uri}-again`], { env: home.env })).code,
      0,
    );
    assert.equal(uploads(), 3, "only the layer, whose digest is unknown before it is read");

    // A file sregistry pulled carries its layer digest: nothing is uploaded at all.
    const pulled = await sregistry(["pull", "--json", uri], { env: home.env });
    assert.equal(pulled.code, 0, pulled.stderr);
    const stored = JSON.parse(pulled.stdout).image;
    const pushed = await sregistry(["push", stored, "--name", `oras://${proxy.host}/t/sif:2`], {
      env: home.env,
    });
    assert.equal(pushed.code, 0, pushed.stderr);
    assert.match(pushed.stderr, /the registry had the layer already/);
    assert.equal(uploads(), 3);
    assert.deepEqual(await rawBlob(registry, "t/sif", digestOf(bytes)), bytes);
  },
);

registryTest(
  "a registry that refuses the whole file in one request gets it in chunks",
  async () => {
    await using registry = await startDockerRegistry({ relativeUrls: true });
    await using proxy = startProxy(
      registry,
      (req) =>
        req.method === "PATCH" && !req.headers.has("content-range")
          ? new Response("Request Entity Too Large", { status: 413 })
          : null,
    );
    await using home = await tempHome();
    const bytes = sifBytes(9 * 1024 * 1024 + 3, 23);
    const result = await sregistry(
      ["push", home.file("c.sif", bytes), "--name", `oras://${proxy.host}/t/chunks:1`],
      { env: home.env },
    );
    assert.equal(result.code, 0, result.stderr);
    const chunks = proxy.requests.filter((seen) => seen.headers["content-range"]);
    assert.deepEqual(chunks.map((seen) => seen.headers["content-range"]), [
      "0-4194303",
      "4194304-8388607",
      `8388608-${bytes.byteLength - 1}`,
    ]);
    assert.deepEqual(await rawBlob(registry, "t/chunks", digestOf(bytes)), bytes);
    assert.ok(
      proxy.requests.some((seen) => seen.method === "DELETE" && seen.path.includes("/uploads/")),
      "the refused session was cancelled",
    );
  },
);

registryTest(
  "SREGISTRY_ORAS_CHUNK_SIZE chunks from the start; refused chunks are a clear error",
  async () => {
    await using registry = await startDockerRegistry({ relativeUrls: true });
    let limit = Infinity;
    await using proxy = startProxy(
      registry,
      (req) =>
        req.method === "PATCH" && Number(req.headers.get("content-length")) > limit
          ? new Response(null, { status: 413 })
          : null,
    );
    await using home = await tempHome();
    const bytes = sifBytes(300_000, 24);
    const file = home.file("s.sif", bytes);
    const chunked = await sregistry(["push", file, "--name", `oras://${proxy.host}/t/small:1`], {
      env: { ...home.env, SREGISTRY_ORAS_CHUNK_SIZE: "64K" },
    });
    assert.equal(chunked.code, 0, chunked.stderr);
    const patches = proxy.requests.filter((seen) => seen.method === "PATCH");
    assert.equal(patches.length, 5);
    assert.ok(patches.every((seen) => Number(seen.headers["content-length"]) <= 65536));
    assert.deepEqual(await rawBlob(registry, "t/small", digestOf(bytes)), bytes);

    limit = 1000;
    const refused = await sregistry(["push", file, "--name", `oras://${proxy.host}/t/small:2`], {
      env: home.env,
    });
    assertTransferFailure(
      refused,
      1,
      /refused a 300000-byte chunk of the upload: HTTP 413.*; set SREGISTRY_ORAS_CHUNK_SIZE/,
    );
    assertFailure(
      await sregistry(["push", file, "--name", `oras://${proxy.host}/t/small:3`], {
        env: { ...home.env, SREGISTRY_ORAS_CHUNK_SIZE: "lots" },
      }),
      2,
      /SREGISTRY_ORAS_CHUNK_SIZE must be between 1K and 64M/,
    );
  },
);

registryTest(
  "push refusals: 401, 403, 413 on the manifest, a file that is not SIF, a digest",
  async () => {
    await using registry = await startDockerRegistry({ auth: "basic", relativeUrls: true });
    await using home = await tempHome();
    const file = home.file("p.sif", sifBytes(100_000, 25));
    assertTransferFailure(
      await sregistry(["push", file, "--name", `oras://${registry.host}/t/p:1`], { env: home.env }),
      1,
      /needs credentials .*; log in with 'sregistry login/,
    );

    await using denied = startProxy(
      registry,
      (req, url) =>
        req.method === "POST" && url.pathname.includes("/denied/")
          ? Response.json({
            errors: [{ code: "DENIED", message: "requested access to the resource is denied" }],
          }, {
            status: 403,
          })
          : req.method === "PUT" && url.pathname.includes("/manifests/")
          ? Response.json({ errors: [{ code: "SIZE_INVALID", message: "too big" }] }, {
            status: 413,
          })
          : null,
    );
    const env = {
      ...home.env,
      SREGISTRY_ORAS_USERNAME: REGISTRY_USER,
      SREGISTRY_ORAS_PASSWORD: REGISTRY_PASSWORD,
    };
    assertTransferFailure(
      await sregistry(["push", file, "--name", `oras://${denied.host}/denied/p:1`], { env }),
      1,
      /may not push it .*DENIED/,
    );
    assertTransferFailure(
      await sregistry(["push", file, "--name", `oras://${denied.host}/t/p:1`], { env }),
      1,
      /too large/,
    );

    const requests = denied.requests.length;
    const text = home.file("notes.txt", "not an image\n".repeat(100));
    assertFailure(
      await sregistry(["push", text, "--name", `oras://${denied.host}/t/p:1`], { env }),
      2,
      /is not a SIF image/,
    );
    assertFailure(
      await sregistry([
        "push",
        file,
        "--name",
        `oras://${denied.host}/t/p@sha256:${"a".repeat(64)}`,
      ], {
        env,
      }),
      2,
      /push names a tag, not a digest/,
    );
    assert.equal(denied.requests.length, requests, "no request for refused input");
  },
);

registryTest("a file over 2 GiB is pushed streamed, with flat memory", async () => {
  await using registry = await startDockerRegistry();
  await using home = await tempHome();
  const size = 2 * 1024 ** 3 + 4097;
  const path = join(home.path, "huge.sif");
  // Sparse: a SIF header, then holes that read as zeros.
  Deno.writeFileSync(path, sifBytes(4096, 26));
  Deno.truncateSync(path, size);
  const hash = createHash("sha256");
  {
    using file = Deno.openSync(path);
    const buffer = new Uint8Array(4 * 1024 * 1024);
    for (let read = file.readSync(buffer); read !== null; read = file.readSync(buffer)) {
      hash.update(buffer.subarray(0, read));
    }
  }
  const digest = `sha256:${hash.digest("hex")}`;

  const child = startSregistry(["push", path, "--name", `oras://${registry.host}/t/huge:1`], {
    env: home.env,
  });
  let finished = false;
  const peak = samplePeakRss(child.pid, () => finished);
  const output = await child.output();
  finished = true;
  const peakMb = await peak;
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  const manifest = JSON.parse(
    new TextDecoder().decode((await rawManifest(registry, "t/huge", "1")).bytes),
  );
  assert.equal(manifest.layers[0].digest, digest);
  assert.equal(manifest.layers[0].size, size);
  const head = await fetch(`${registry.url}/v2/t/huge/blobs/${digest}`, { method: "HEAD" });
  assert.equal(head.headers.get("content-length"), String(size));
  if (peakMb !== null) assert.ok(peakMb < 150, `peak RSS ${peakMb.toFixed(1)} MB`);
});

registryTest(
  "behind HTTP_PROXY every request of a push, the upload included, goes through it",
  async () => {
    await using registry = await startDockerRegistry();
    const seen: string[] = [];
    // A forward proxy receives absolute URLs and fetches them itself.
    await using proxy = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      async (req) => {
        seen.push(
          `${req.method} ${new URL(req.url).pathname} ${req.headers.get("content-range") ?? ""}`,
        );
        const upstream = await fetch(req.url, {
          method: req.method,
          headers: req.headers,
          body: req.body,
          redirect: "manual",
        });
        return new Response(upstream.body, { status: upstream.status, headers: upstream.headers });
      },
    );
    await using home = await tempHome();
    const bytes = sifBytes(5 * 1024 * 1024, 27);
    const result = await sregistry(
      ["push", home.file("p.sif", bytes), "--name", `oras://${registry.host}/t/proxied:1`],
      { env: { ...home.env, HTTP_PROXY: `http://127.0.0.1:${proxy.addr.port}` } },
    );
    assert.equal(result.code, 0, result.stderr);
    const patches = seen.filter((line) => line.startsWith("PATCH"));
    assert.deepEqual(patches.map((line) => line.split(" ")[2]), [
      "0-4194303",
      `4194304-${bytes.byteLength - 1}`,
    ]);
    assert.ok(seen.some((line) => line.startsWith("PUT /v2/t/proxied/manifests/1")));
    assert.deepEqual(await rawBlob(registry, "t/proxied", digestOf(bytes)), bytes);
  },
);
