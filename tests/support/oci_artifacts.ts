/**
 * Making and reading OCI artifacts by hand with plain HTTP requests, independent of sregistry's
 * client: SIF-looking files, blobs, manifests of every shape Apptainer and Singularity pushed
 * (oras.md §1.4), indexes, and the registry's own view of what was pushed.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import type { DockerRegistry } from "./docker_registry.ts";

/** Media types used by the shapes. */
export const TYPES = {
  oci: "application/vnd.oci.image.manifest.v1+json",
  index: "application/vnd.oci.image.index.v1+json",
  docker: "application/vnd.docker.distribution.manifest.v2+json",
  sifConfig: "application/vnd.sylabs.sif.config.v1+json",
  sifLayer: "application/vnd.sylabs.sif.layer.v1.sif",
} as const;

/** The artifact shapes of oras.md §1.4, by who pushed them. */
export type Shape =
  | "singularity-3.3"
  | "singularity-3.7"
  | "singularity-3.8"
  | "apptainer-1.0"
  | "apptainer-1.3.0"
  | "apptainer-1.3.1"
  | "oras-cli";

/** Every shape. */
export const SHAPES: Shape[] = [
  "singularity-3.3",
  "singularity-3.7",
  "singularity-3.8",
  "apptainer-1.0",
  "apptainer-1.3.0",
  "apptainer-1.3.1",
  "oras-cli",
];

/** Bytes that start like a SIF file (`SIF_MAGIC` at byte 32), then pseudo-random data. */
export function sifBytes(size: number, seed = 1): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(Math.max(size, 64));
  let state = seed >>> 0 || 1;
  for (let i = 64; i < bytes.length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    bytes[i] = state & 0xff;
  }
  bytes.set(new TextEncoder().encode("#!/usr/bin/env run-singularity\n"), 0);
  bytes.set(new TextEncoder().encode("SIF_MAGIC\u000001\u000002\u0000"), 32);
  return bytes;
}

/** `sha256:<hex>` of bytes. */
export function digestOf(bytes: Uint8Array): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

/** A request to the registry with the test's own credentials. */
export async function registryFetch(
  registry: DockerRegistry,
  path: string,
  init: RequestInit = {},
): Promise<Response> {
  const headers = new Headers(init.headers);
  if (registry.authorization !== null) headers.set("authorization", registry.authorization);
  return await fetch(new URL(path, registry.url), { ...init, headers, redirect: "manual" });
}

/** Uploads a blob (POST, then a monolithic PUT); returns its digest. */
export async function putBlob(
  registry: DockerRegistry,
  repository: string,
  bytes: Uint8Array<ArrayBuffer>,
): Promise<string> {
  const digest = digestOf(bytes);
  const started = await registryFetch(registry, `/v2/${repository}/blobs/uploads/`, {
    method: "POST",
  });
  await started.body?.cancel();
  assert.equal(started.status, 202, "upload session started");
  const location = new URL(started.headers.get("location")!, registry.url);
  location.searchParams.set("digest", digest);
  const put = await registryFetch(registry, location.href, {
    method: "PUT",
    body: bytes,
    headers: { "content-type": "application/octet-stream" },
  });
  await put.body?.cancel();
  assert.equal(put.status, 201, `blob ${digest} stored`);
  return digest;
}

/** Stores a manifest under a tag (or digest); returns its digest. */
export async function putManifest(
  registry: DockerRegistry,
  repository: string,
  reference: string,
  manifest: unknown,
  mediaType: string,
): Promise<string> {
  const bytes = new TextEncoder().encode(JSON.stringify(manifest));
  const response = await registryFetch(registry, `/v2/${repository}/manifests/${reference}`, {
    method: "PUT",
    body: bytes,
    headers: { "content-type": mediaType },
  });
  const text = await response.text();
  assert.equal(response.status, 201, `manifest stored: ${text}`);
  return digestOf(bytes);
}

/** What a shape put in the registry. */
export interface PushedArtifact {
  /** The manifest's digest. */
  manifestDigest: string;
  /** The SIF layer's digest. */
  layerDigest: string;
  /** The manifest's media type. */
  mediaType: string;
}

/** Pushes `sif` as the artifact one Apptainer/Singularity version made, by hand. */
export async function pushShape(
  registry: DockerRegistry,
  repository: string,
  tag: string,
  sif: Uint8Array<ArrayBuffer>,
  shape: Shape,
): Promise<PushedArtifact> {
  const empty = new Uint8Array(0);
  const braces = new TextEncoder().encode("{}");
  const config: Record<Shape, [string, Uint8Array<ArrayBuffer>]> = {
    "singularity-3.3": [TYPES.sifConfig, empty],
    "singularity-3.7": [TYPES.sifConfig, empty],
    "singularity-3.8": ["application/vnd.sylabs.sif.config.v1", empty],
    "apptainer-1.0": ["application/vnd.unknown.config.v1+json", braces],
    "apptainer-1.3.0": [TYPES.sifConfig, braces],
    "apptainer-1.3.1": [TYPES.sifConfig, braces],
    "oras-cli": ["application/vnd.oci.empty.v1+json", braces],
  };
  const [configType, configBytes] = config[shape];
  const configDigest = await putBlob(registry, repository, configBytes);
  const layerDigest = await putBlob(registry, repository, sif);
  const layerType = shape === "singularity-3.3"
    ? "appliciation/vnd.sylabs.sif.layer.tar"
    : TYPES.sifLayer;
  const mediaType = shape === "apptainer-1.3.0" ? TYPES.docker : TYPES.oci;
  const manifest: Record<string, unknown> = {
    schemaVersion: 2,
    ...(shape === "apptainer-1.0" ? {} : { mediaType }),
    ...(shape === "oras-cli" ? { artifactType: "application/vnd.sylabs.sif.config.v1+json" } : {}),
    config: { mediaType: configType, size: configBytes.byteLength, digest: configDigest },
    layers: [{
      mediaType: layerType,
      size: sif.byteLength,
      digest: layerDigest,
      annotations: { "org.opencontainers.image.title": `${tag}.sif` },
    }],
  };
  const manifestDigest = await putManifest(registry, repository, tag, manifest, mediaType);
  return { manifestDigest, layerDigest, mediaType };
}

/** Stores an OCI index whose entries are `[platform, manifest digest, size]`. */
export async function putIndex(
  registry: DockerRegistry,
  repository: string,
  tag: string,
  entries: [platform: string, digest: string, size: number][],
): Promise<string> {
  const index = {
    schemaVersion: 2,
    mediaType: TYPES.index,
    manifests: entries.map(([platform, digest, size]) => ({
      mediaType: TYPES.oci,
      digest,
      size,
      platform: { os: platform.split("/")[0], architecture: platform.split("/")[1] },
    })),
  };
  return await putManifest(registry, repository, tag, index, TYPES.index);
}

/** A manifest as the registry serves it: bytes, type and digest header. */
export async function rawManifest(
  registry: DockerRegistry,
  repository: string,
  reference: string,
): Promise<{ bytes: Uint8Array; contentType: string | null; digest: string | null }> {
  const response = await registryFetch(registry, `/v2/${repository}/manifests/${reference}`, {
    headers: { accept: `${TYPES.oci}, ${TYPES.index}, ${TYPES.docker}` },
  });
  const bytes = new Uint8Array(await response.arrayBuffer());
  assert.equal(response.status, 200, `manifest ${repository}:${reference}`);
  return {
    bytes,
    contentType: response.headers.get("content-type"),
    digest: response.headers.get("docker-content-digest"),
  };
}

/** A blob as the registry serves it (following a redirect without credentials). */
export async function rawBlob(
  registry: DockerRegistry,
  repository: string,
  digest: string,
): Promise<Uint8Array> {
  let response = await registryFetch(registry, `/v2/${repository}/blobs/${digest}`);
  if (response.status === 307) {
    await response.body?.cancel();
    response = await fetch(response.headers.get("location")!);
  }
  assert.equal(response.status, 200, `blob ${digest}`);
  return new Uint8Array(await response.arrayBuffer());
}

/** Where the registry keeps a blob's bytes on disk. */
export function blobFile(registry: DockerRegistry, digest: string): string {
  const hex = digest.replace(/^sha256:/, "");
  return `${registry.root}/docker/registry/v2/blobs/sha256/${hex.slice(0, 2)}/${hex}/data`;
}
