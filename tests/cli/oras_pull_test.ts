/**
 * `pull` and `record` of oras:// images against Debian's docker-registry 2.8.2: round trips in
 * every set-up (no auth, htpasswd Basic, Bearer tokens; absolute and relative Locations), every
 * artifact shape Apptainer and Singularity pushed, digests and indexes, blobs redirected to
 * another origin, and the failures that must leave nothing behind.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { sregistry } from "../support/cli.ts";
import {
  type DockerRegistryOptions,
  REGISTRY_PASSWORD,
  REGISTRY_USER,
  registryTest,
  startDockerRegistry,
  TOKEN_PREFIX,
} from "../support/docker_registry.ts";
import { type TempHome, tempHome } from "../support/home.ts";
import {
  blobFile,
  digestOf,
  pushShape,
  putBlob,
  putIndex,
  putManifest,
  SHAPES,
  sifBytes,
  TYPES,
} from "../support/oci_artifacts.ts";
import {
  assertTransferFailure,
  filesUnder,
  imageFiles,
  leftovers,
  partFiles,
  spawnSregistry,
  waitFor,
} from "../support/pulls.ts";
import { assertFailure, type ImageRecord, md5, records } from "../support/state.ts";

const CREDENTIALS = {
  SREGISTRY_ORAS_USERNAME: REGISTRY_USER,
  SREGISTRY_ORAS_PASSWORD: REGISTRY_PASSWORD,
};

function env(home: TempHome, extra: Record<string, string> = {}): Record<string, string> {
  return { ...home.env, ...CREDENTIALS, ...extra };
}

async function listed(home: TempHome): Promise<ImageRecord[]> {
  return records(await sregistry(["images", "--json"], { env: home.env }));
}

function assertNoSecrets(text: string): void {
  for (
    const secret of [REGISTRY_PASSWORD, TOKEN_PREFIX, btoa(`${REGISTRY_USER}:${REGISTRY_PASSWORD}`)]
  ) {
    assert.ok(!text.includes(secret), `output shows a secret:\n${text}`);
  }
}

const SETUPS: DockerRegistryOptions[] = [];
for (const auth of ["none", "basic", "bearer"] as const) {
  for (const relativeUrls of [false, true]) SETUPS.push({ auth, relativeUrls });
}

for (const setup of SETUPS) {
  registryTest(
    `push then pull round trip (${setup.auth}, ${
      setup.relativeUrls ? "relative" : "absolute"
    } Locations): bytes and digests equal`,
    async () => {
      await using registry = await startDockerRegistry(setup);
      await using home = await tempHome();
      const bytes = sifBytes(5 * 1024 * 1024 + 321, 7);
      const file = home.file("lolcow.sif", bytes);
      const uri = `oras://${registry.host}/lab/lolcow:v1`;
      const pushed = await sregistry(["push", file, "--name", uri], { env: env(home) });
      assert.equal(pushed.code, 0, pushed.stderr);
      const pulled = await sregistry(["pull", uri, "--json"], { env: env(home) });
      assert.equal(pulled.code, 0, pulled.stderr);
      assertNoSecrets(pushed.stdout + pushed.stderr + pulled.stdout + pulled.stderr);

      const record = JSON.parse(pulled.stdout) as ImageRecord;
      assert.equal(record.uri, `${registry.host}/lab/lolcow:v1@${md5(bytes)}`);
      assert.equal(record.md5, md5(bytes));
      assert.equal(record.client, "oras");
      assert.deepEqual(Deno.readFileSync(record.image!), bytes);
      const metadata = record.metadata as Record<string, unknown>;
      assert.equal(metadata.registry, registry.host);
      assert.equal(metadata.repository, "lab/lolcow");
      assert.equal(metadata.tag, "v1");
      assert.equal(metadata.layer_digest, digestOf(bytes));
      assert.equal(metadata.size, bytes.byteLength);
      assert.equal(metadata.layer_media_type, TYPES.sifLayer);
      assert.equal(metadata.manifest_media_type, TYPES.oci);
      assert.equal(`${metadata.manifest_digest}`, pushed.stdout.trim().split("@")[1]);
      assert.equal(record.url, `oras://${registry.host}/lab/lolcow:v1@${metadata.manifest_digest}`);
      if (setup.auth === "bearer") {
        assert.ok(registry.tokenRequests.length > 0);
        assert.ok(registry.tokenRequests.every((seen) => seen.user === REGISTRY_USER));
        assert.ok(
          registry.tokenRequests.some((seen) =>
            seen.scopes.join(" ") === "repository:lab/lolcow:pull,push"
          ),
          "one push scope, actions merged",
        );
      }
    },
  );
}

registryTest("every artifact shape of oras.md §1.4 pulls to the same bytes", async () => {
  await using registry = await startDockerRegistry();
  await using home = await tempHome();
  for (const [index, shape] of SHAPES.entries()) {
    const bytes = sifBytes(200_000 + index, 100 + index);
    const pushed = await pushShape(
      registry,
      "shapes/sif",
      shape.replaceAll(".", "_"),
      bytes,
      shape,
    );
    const result = await sregistry(
      ["pull", "--json", `oras://${registry.host}/shapes/sif:${shape.replaceAll(".", "_")}`],
      { env: home.env },
    );
    assert.equal(result.code, 0, `${shape}: ${result.stderr}`);
    const record = JSON.parse(result.stdout) as ImageRecord;
    assert.deepEqual(Deno.readFileSync(record.image!), bytes, shape);
    const metadata = record.metadata as Record<string, unknown>;
    assert.equal(metadata.manifest_digest, pushed.manifestDigest, shape);
    assert.equal(metadata.manifest_media_type, pushed.mediaType, shape);
    assert.equal(metadata.layer_digest, pushed.layerDigest, shape);
  }
});

registryTest(
  "pull by digest, and through an index that picks this machine's platform",
  async () => {
    await using registry = await startDockerRegistry();
    await using home = await tempHome();
    const mine = sifBytes(100_000, 1);
    const other = sifBytes(100_000, 2);
    const ours = await pushShape(registry, "t/multi", "mine", mine, "apptainer-1.3.1");
    const theirs = await pushShape(registry, "t/multi", "other", other, "apptainer-1.3.1");
    const arch = Deno.build.arch === "aarch64" ? "arm64" : "amd64";
    const foreign = arch === "amd64" ? "arm64" : "amd64";
    const size = (await (await fetch(`${registry.url}/v2/t/multi/manifests/mine`, {
      headers: { accept: TYPES.oci },
    })).arrayBuffer()).byteLength;
    await putIndex(registry, "t/multi", "both", [
      [`linux/${foreign}`, theirs.manifestDigest, size],
      [`linux/${arch}`, ours.manifestDigest, size],
    ]);

    const indexed = await sregistry(["pull", "--json", `oras://${registry.host}/t/multi:both`], {
      env: home.env,
    });
    assert.equal(indexed.code, 0, indexed.stderr);
    const record = JSON.parse(indexed.stdout) as ImageRecord;
    assert.deepEqual(Deno.readFileSync(record.image!), mine);
    assert.equal((record.metadata as Record<string, unknown>).manifest_digest, ours.manifestDigest);
    assert.ok((record.metadata as Record<string, unknown>).index_digest);

    const byDigest = await sregistry(
      ["pull", "--json", `oras://${registry.host}/t/multi@${theirs.manifestDigest}`],
      { env: home.env },
    );
    assert.equal(byDigest.code, 0, byDigest.stderr);
    const pinned = JSON.parse(byDigest.stdout) as ImageRecord;
    assert.equal(pinned.tag, theirs.manifestDigest.replace(":", "-"));
    assert.deepEqual(Deno.readFileSync(pinned.image!), other);

    const missing = await sregistry(
      ["pull", `oras://${registry.host}/t/multi@sha256:${"0".repeat(64)}`],
      { env: home.env },
    );
    assertTransferFailure(missing, 1, /was not found/);
  },
);

for (const auth of ["basic", "bearer"] as const) {
  registryTest(
    `a blob redirected to another origin is fetched without credentials (${auth})`,
    async () => {
      await using registry = await startDockerRegistry({ auth, redirectBlobs: true });
      await using home = await tempHome();
      const bytes = sifBytes(2 * 1024 * 1024, 3);
      const uri = `oras://${registry.host}/t/redirected:1`;
      assert.equal(
        (await sregistry(["push", home.file("r.sif", bytes), "--name", uri], {
          env: env(home),
        })).code,
        0,
      );
      const pulled = await sregistry(["pull", "--json", uri, "--debug"], { env: env(home) });
      assert.equal(pulled.code, 0, pulled.stderr);
      assertNoSecrets(pulled.stdout + pulled.stderr);
      assert.ok(
        registry.blobRequests.some((seen) => seen.method === "GET"),
        "the blob was redirected",
      );
      assert.deepEqual(registry.blobRequests.filter((seen) => seen.authorized), []);
      const record = JSON.parse(pulled.stdout) as ImageRecord;
      assert.deepEqual(Deno.readFileSync(record.image!), bytes);
    },
  );
}

registryTest("a corrupted blob (digest mismatch) is deleted and nothing is recorded", async () => {
  await using registry = await startDockerRegistry();
  await using home = await tempHome();
  const bytes = sifBytes(1024 * 1024, 4);
  const pushed = await pushShape(registry, "t/corrupt", "1", bytes, "apptainer-1.3.1");
  const tampered = bytes.slice();
  tampered[tampered.length - 1] ^= 0xff;
  Deno.writeFileSync(blobFile(registry, pushed.layerDigest), tampered);
  assert.deepEqual(await listed(home), []);

  const result = await sregistry(["pull", `oras://${registry.host}/t/corrupt:1`], {
    env: home.env,
  });
  assertTransferFailure(result, 1, /its digest is sha256:[0-9a-f]{64}, the manifest says sha256:/);
  assert.deepEqual(await listed(home), []);
  assert.deepEqual(imageFiles(home.storage), []);
  assert.deepEqual(leftovers(home.storage), []);
});

registryTest("a layer that is not a SIF file, and a container image, are refused", async () => {
  await using registry = await startDockerRegistry();
  await using home = await tempHome();
  const text = new TextEncoder().encode("not a SIF file at all, just text\n".repeat(10));
  await pushShape(registry, "t/text", "1", text, "apptainer-1.3.1");
  const notSif = await sregistry(["pull", `oras://${registry.host}/t/text:1`], { env: home.env });
  assertTransferFailure(notSif, 1, /not a SIF file/);

  const layer = await putBlob(registry, "t/docker", new TextEncoder().encode("tar bytes"));
  const config = await putBlob(registry, "t/docker", new TextEncoder().encode("{}"));
  await putManifest(registry, "t/docker", "1", {
    schemaVersion: 2,
    mediaType: TYPES.oci,
    config: { mediaType: "application/vnd.oci.image.config.v1+json", size: 2, digest: config },
    layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", size: 9, digest: layer }],
  }, TYPES.oci);
  const image = await sregistry(["pull", `oras://${registry.host}/t/docker:1`], { env: home.env });
  assertTransferFailure(
    image,
    1,
    /container image, not a SIF artifact; .*apptainer pull docker:\/\//,
  );
  assert.deepEqual(await listed(home), []);
  assert.deepEqual(imageFiles(home.storage), []);
  assert.deepEqual(leftovers(home.storage), []);
});

registryTest("a manifest over the 4 MiB cap is refused without being read whole", async () => {
  await using home = await tempHome();
  let served = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/v2/") return Response.json({});
    if (path === "/v2/t/huge/manifests/1") {
      // Chunked, no Content-Length: the cap must stop the read itself.
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          served += 64 * 1024;
          if (served > 64 * 1024 * 1024) controller.close();
          else controller.enqueue(new Uint8Array(64 * 1024).fill(0x20));
        },
      });
      return new Response(body, { headers: { "content-type": TYPES.oci } });
    }
    return new Response("no", { status: 500 });
  });
  try {
    const result = await sregistry(["pull", `oras://127.0.0.1:${server.addr.port}/t/huge:1`], {
      env: home.env,
    });
    assertTransferFailure(result, 1, /more than 4 MiB/);
    assert.ok(served < 16 * 1024 * 1024, `read ${served} bytes`);
  } finally {
    await server.shutdown();
  }
});

registryTest("an interrupted pull keeps its part file and the next pull resumes it", async () => {
  await using registry = await startDockerRegistry({ redirectBlobs: true });
  await using home = await tempHome();
  const bytes = sifBytes(8 * 1024 * 1024, 9);
  const uri = `oras://${registry.host}/t/slow:1`;
  await pushShape(registry, "t/slow", "1", bytes, "apptainer-1.3.1");
  registry.throttleBlobs(1024 * 1024);
  const running = spawnSregistry(["pull", uri], home.env);
  await waitFor(
    () => partFiles(home.storage).some((part) => part.size >= 1024 * 1024),
    "a part file of 1 MiB",
  );
  running.child.kill("SIGINT");
  const stopped = await running.result;
  assert.equal(stopped.code, 130, stopped.stderr);
  const kept = partFiles(home.storage);
  assert.equal(kept.length, 1);
  assert.ok(kept[0].size < bytes.byteLength);

  registry.throttleBlobs(null);
  const resumed = await sregistry(["pull", "--json", uri], { env: home.env });
  assert.equal(resumed.code, 0, resumed.stderr);
  const ranges = registry.blobRequests.map((seen) => seen.range).filter((range) => range !== null);
  assert.ok(ranges.some((range) => /^bytes=[1-9]\d*-$/.test(range!)), `ranges: ${ranges}`);
  const record = JSON.parse(resumed.stdout) as ImageRecord;
  assert.deepEqual(Deno.readFileSync(record.image!), bytes);
  assert.deepEqual(leftovers(home.storage), []);
});

registryTest(
  "a layer already in storage, or in Apptainer's cache, is not downloaded again",
  async () => {
    await using registry = await startDockerRegistry({ redirectBlobs: true });
    await using home = await tempHome();
    const bytes = sifBytes(1024 * 1024, 11);
    const first = await pushShape(registry, "t/one", "1", bytes, "apptainer-1.3.1");
    await pushShape(registry, "t/two", "1", bytes, "apptainer-1.3.1");
    assert.equal(
      (await sregistry(["pull", `oras://${registry.host}/t/one:1`], { env: home.env }))
        .code,
      0,
    );
    const downloads = () => registry.blobRequests.filter((seen) => seen.method === "GET").length;
    assert.equal(downloads(), 1);

    const again = await sregistry(["pull", `oras://${registry.host}/t/one:1`], { env: home.env });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /already in storage/);
    const copied = await sregistry(["pull", "--json", `oras://${registry.host}/t/two:1`], {
      env: home.env,
    });
    assert.equal(copied.code, 0, copied.stderr);
    assert.equal(downloads(), 1, "the second repository's layer came from storage");
    const record = JSON.parse(copied.stdout) as ImageRecord;
    assert.deepEqual(Deno.readFileSync(record.image!), bytes);

    // A fresh home with the layer in Apptainer's cache; a wrong entry in Singularity's is skipped.
    await using other = await tempHome();
    const cached = other.file(`.apptainer/cache/oras/${first.layerDigest}`, bytes);
    const wrong = bytes.slice();
    wrong[100] ^= 1;
    other.file(`.singularity/cache/oras/${first.layerDigest}`, wrong);
    const fromCache = await sregistry(["pull", "--json", `oras://${registry.host}/t/one:1`], {
      env: other.env,
    });
    assert.equal(fromCache.code, 0, fromCache.stderr);
    assert.equal(downloads(), 1, "the layer came from Apptainer's cache");
    assert.deepEqual(Deno.readFileSync(cached), bytes, "the cache is only read");

    await using third = await tempHome();
    third.file(`.singularity/cache/oras/${first.layerDigest}`, wrong);
    const verified = await sregistry(["pull", "--json", `oras://${registry.host}/t/one:1`], {
      env: third.env,
    });
    assert.equal(verified.code, 0, verified.stderr);
    assert.equal(downloads(), 2, "a cache entry that fails its digest is not used");
    const good = JSON.parse(verified.stdout) as ImageRecord;
    assert.deepEqual(Deno.readFileSync(good.image!), bytes);
  },
);

registryTest("record keeps the manifest only; get prints a URL that pull accepts", async () => {
  await using registry = await startDockerRegistry({ auth: "bearer" });
  await using home = await tempHome();
  const bytes = sifBytes(300_000, 12);
  const uri = `oras://${registry.host}/t/recorded:2.0`;
  assert.equal(
    (await sregistry(["push", home.file("r.sif", bytes), "--name", uri], {
      env: env(home),
    })).code,
    0,
  );
  const recorded = await sregistry(["record", uri, "--json"], { env: env(home) });
  assert.equal(recorded.code, 0, recorded.stderr);
  assert.deepEqual(imageFiles(home.storage), [], "no file for a record");
  const url = (await sregistry(["get", `${registry.host}/t/recorded:2.0`], { env: home.env }))
    .stdout.trim();
  assert.match(url, new RegExp(`^oras://${registry.host}/t/recorded:2\\.0@sha256:[0-9a-f]{64}$`));
  const pulled = await sregistry(["pull", "--json", url], { env: env(home) });
  assert.equal(pulled.code, 0, pulled.stderr);
  const record = JSON.parse(pulled.stdout) as ImageRecord;
  assert.equal(record.tag, "2.0");
  assert.deepEqual(Deno.readFileSync(record.image!), bytes);
});

registryTest("pull --name saves a verified file and records nothing", async () => {
  await using registry = await startDockerRegistry();
  await using home = await tempHome();
  const bytes = sifBytes(250_000, 13);
  await pushShape(registry, "t/file", "1", bytes, "apptainer-1.3.1");
  const target = join(home.path, "out.sif");
  const result = await sregistry(["pull", "--name", target, `oras://${registry.host}/t/file:1`], {
    env: home.env,
  });
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(Deno.readFileSync(target), bytes);
  assert.deepEqual(await listed(home), []);
});

registryTest(
  "pull --name, and a pull with SREGISTRY_DISABLE, check size, digest and SIF magic, and keep nothing that fails",
  async () => {
    await using registry = await startDockerRegistry();
    await using home = await tempHome();
    const bytes = sifBytes(300_000, 14);
    const pushed = await pushShape(registry, "t/checked", "1", bytes, "apptainer-1.3.1");
    const tampered = bytes.slice();
    tampered[tampered.length - 1] ^= 0xff;
    Deno.writeFileSync(blobFile(registry, pushed.layerDigest), tampered);
    const uri = `oras://${registry.host}/t/checked:1`;
    const folder = join(home.path, "out");
    Deno.mkdirSync(folder);
    const target = join(folder, "checked.sif");

    const named = await sregistry(["pull", "--name", target, uri], { env: home.env });
    assertTransferFailure(named, 1, /its digest is sha256:[0-9a-f]{64}, the manifest says sha256:/);
    assert.doesNotMatch(named.stderr, /no checksum|unverified/);
    const disabled = await sregistry(["pull", uri], {
      env: { ...home.env, SREGISTRY_DISABLE: "1" },
      cwd: folder,
    });
    assertTransferFailure(disabled, 1, /its digest is sha256:[0-9a-f]{64}, the manifest says/);
    assert.deepEqual(filesUnder(folder), [], "no file, no part file, no sidecar");

    const text = new TextEncoder().encode("a layer of the right digest, but no SIF\n".repeat(9));
    await pushShape(registry, "t/text", "1", text, "apptainer-1.3.1");
    const notSif = await sregistry(
      ["pull", "--name", target, `oras://${registry.host}/t/text:1`],
      { env: home.env },
    );
    assertTransferFailure(notSif, 1, /not a SIF file/);
    assert.deepEqual(filesUnder(folder), []);
    assert.deepEqual(await listed(home), []);
  },
);

registryTest(
  "OCI tags differing only in case are never confused: the second is refused as a conflict",
  async () => {
    await using registry = await startDockerRegistry();
    await using home = await tempHome();
    const upper = sifBytes(100_000, 21);
    const lower = sifBytes(100_000, 22);
    await pushShape(registry, "lab/case", "V1", upper, "apptainer-1.3.1");
    await pushShape(registry, "lab/case", "v1", lower, "apptainer-1.3.1");
    const base = `oras://${registry.host}/lab/case`;

    const first = await sregistry(["pull", "--json", `${base}:V1`], { env: home.env });
    assert.equal(first.code, 0, first.stderr);
    const record = JSON.parse(first.stdout) as ImageRecord;
    assert.equal(record.tag, "v1", "names are lower case");
    assert.equal((record.metadata as Record<string, unknown>).tag, "V1", "the tag as it is");

    for (const command of ["pull", "record"]) {
      const second = await sregistry([command, `${base}:v1`], { env: home.env });
      assertTransferFailure(
        second,
        1,
        new RegExp(
          `${registry.host}/lab/case:v1 holds the image of tag 'V1'; names ignore case, so tag ` +
            "'v1' cannot be recorded beside it; pull it with --name <file>",
        ),
      );
    }
    assert.deepEqual((await listed(home)).map((found) => found.md5), [md5(upper)]);
    const got = await sregistry(["get", `${registry.host}/lab/case:V1`], { env: home.env });
    assert.deepEqual(Deno.readFileSync(got.stdout.trim()), upper, "get names the V1 image");

    const again = await sregistry(["pull", `${base}:V1`], { env: home.env });
    assert.equal(again.code, 0, again.stderr);
    const file = join(home.path, "lower.sif");
    const saved = await sregistry(["pull", "--name", file, `${base}:v1`], { env: home.env });
    assert.equal(saved.code, 0, saved.stderr);
    assert.deepEqual(Deno.readFileSync(file), lower);
  },
);

registryTest(
  "a tag ending in .sif is pushed, pulled into a file and deleted; only a record is refused",
  async () => {
    await using registry = await startDockerRegistry();
    await using home = await tempHome();
    const bytes = sifBytes(120_000, 23);
    const uri = `oras://${registry.host}/lab/a:v1.sif`;
    const pushed = await sregistry(["push", home.file("a.sif", bytes), "--name", uri], {
      env: home.env,
    });
    assert.equal(pushed.code, 0, pushed.stderr);
    assert.match(pushed.stdout, new RegExp(`^oras://${registry.host}/lab/a:v1\\.sif@sha256:`));

    const file = join(home.path, "out.sif");
    const saved = await sregistry(["pull", "--json", "--name", file, uri], { env: home.env });
    assert.equal(saved.code, 0, saved.stderr);
    assert.deepEqual(Deno.readFileSync(file), bytes);
    assert.equal(JSON.parse(saved.stdout).uri, null, "no sregistry name");

    for (const command of ["pull", "record"]) {
      assertFailure(
        await sregistry([command, uri], { env: home.env }),
        2,
        /lab\/a:v1\.sif cannot be kept under an sregistry name .*; pull it with --name <file>/,
      );
    }
    assert.deepEqual(await listed(home), []);

    const deleted = await sregistry(["delete", "--force", uri], { env: home.env });
    assert.equal(deleted.code, 0, deleted.stderr);
    const gone = await fetch(`${registry.url}/v2/lab/a/manifests/v1.sif`, {
      headers: { accept: TYPES.oci },
    });
    await gone.body?.cancel();
    assert.equal(gone.status, 404);
  },
);
