/**
 * Manifests: the exact artifact Apptainer pushes, every shape of oras.md §1.4 read back to its
 * SIF layer, indexes by platform, container images told apart, and hostile fields refused.
 */
import assert from "node:assert/strict";
import {
  type Manifest,
  parseManifest,
  platformEntry,
  sifLayer,
  sifManifest,
} from "../../../src/remotes/oci_manifest.ts";
import { RemoteError, UnsupportedError } from "../../../src/errors.ts";

const LAYER = `sha256:${"1f".repeat(32)}`;
const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

Deno.test("sifManifest writes Apptainer's artifact byte for byte (oras.md §1.1)", () => {
  const bytes = sifManifest({ digest: LAYER, size: 1234, title: "sif_v1.sif" });
  assert.equal(
    new TextDecoder().decode(bytes),
    '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",' +
      '"config":{"mediaType":"application/vnd.sylabs.sif.config.v1+json","size":2,' +
      '"digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"},' +
      '"layers":[{"mediaType":"application/vnd.sylabs.sif.layer.v1.sif","size":1234,' +
      `"digest":"${LAYER}","annotations":{"org.opencontainers.image.title":"sif_v1.sif"}}]}`,
  );
});

const layerOf = (type: string) => ({ mediaType: type, size: 10, digest: LAYER });
const config = { mediaType: "application/vnd.unknown.config.v1+json", size: 2, digest: LAYER };

for (
  const [shape, body, contentType] of [
    ["Singularity 3.3 (typo'd layer type)", {
      schemaVersion: 2,
      config,
      layers: [layerOf("appliciation/vnd.sylabs.sif.layer.tar")],
    }, "application/vnd.oci.image.manifest.v1+json"],
    ["Apptainer 1.0 (no mediaType in the body)", {
      schemaVersion: 2,
      config,
      layers: [layerOf("application/vnd.sylabs.sif.layer.v1.sif")],
    }, "application/vnd.oci.image.manifest.v1+json"],
    ["Apptainer 1.3.0 (Docker's type)", {
      schemaVersion: 2,
      mediaType: "application/vnd.docker.distribution.manifest.v2+json",
      config,
      layers: [layerOf("application/vnd.sylabs.sif.layer.v1.sif")],
    }, "application/vnd.docker.distribution.manifest.v2+json"],
    ["several layers (the first SIF one wins)", {
      schemaVersion: 2,
      config,
      layers: [
        { ...layerOf("text/plain"), digest: `sha256:${"00".repeat(32)}` },
        layerOf("application/vnd.sylabs.sif.layer.v1.sif"),
      ],
    }, null],
  ] as const
) {
  Deno.test(`parseManifest and sifLayer read ${shape}`, () => {
    const manifest = parseManifest(encode(body), contentType);
    assert.equal(manifest.kind, "image");
    assert.equal(sifLayer(manifest as Manifest & { kind: "image" }).digest, LAYER);
  });
}

Deno.test("sifLayer says a manifest of tar layers is a container image", () => {
  const manifest = parseManifest(
    encode({
      schemaVersion: 2,
      config,
      layers: [layerOf("application/vnd.oci.image.layer.v1.tar+gzip")],
    }),
    null,
  ) as Manifest & { kind: "image" };
  assert.throws(() => sifLayer(manifest), (error: unknown) => {
    assert.ok(error instanceof UnsupportedError);
    assert.match(error.message, /container image, not a SIF/);
    assert.match(error.hint ?? "", /docker:\/\//);
    return true;
  });
});

Deno.test("platformEntry picks linux/<this arch> from an index", () => {
  const index = parseManifest(
    encode({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: [
        {
          mediaType: "application/vnd.oci.image.manifest.v1+json",
          size: 1,
          digest: `sha256:${"aa".repeat(32)}`,
          platform: { os: "linux", architecture: "arm64" },
        },
        {
          mediaType: "application/vnd.oci.image.manifest.v1+json",
          size: 1,
          digest: `sha256:${"bb".repeat(32)}`,
          platform: { os: "linux", architecture: "amd64" },
        },
      ],
    }),
    null,
  ) as Manifest & { kind: "index" };
  assert.equal(platformEntry(index, "x86_64").digest, `sha256:${"bb".repeat(32)}`);
  assert.equal(platformEntry(index, "aarch64").digest, `sha256:${"aa".repeat(32)}`);
  assert.throws(() => platformEntry(index, "riscv64"), /no image for linux\/riscv64/);
});

Deno.test("parseManifest refuses hostile fields before they are used", () => {
  const bad = [
    { schemaVersion: 1, layers: [] },
    { schemaVersion: 2, config, layers: [{ ...layerOf("x/y"), size: -1 }] },
    { schemaVersion: 2, config, layers: [{ ...layerOf("x/y"), size: 2 ** 60 }] },
    { schemaVersion: 2, config, layers: [{ ...layerOf("x/y"), digest: "../../etc" }] },
    { schemaVersion: 2, config, layers: [layerOf("not a type")] },
    { schemaVersion: 2, config },
    [1, 2],
  ];
  for (const body of bad) {
    assert.throws(
      () => parseManifest(encode(body), null),
      (error: unknown) => error instanceof RemoteError || error instanceof UnsupportedError,
      JSON.stringify(body),
    );
  }
  assert.throws(() => parseManifest(new TextEncoder().encode("{not json"), null), /not JSON/);
});
