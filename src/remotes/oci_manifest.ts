/**
 * OCI manifests as SIF artifacts use them (reference oras.md §1): parsing what a registry sends
 * (image manifests of every shape Apptainer and Singularity pushed, indexes, Docker's types),
 * choosing the SIF layer, and the exact manifest Apptainer pushes. Every field is checked before
 * it is used: digests, sizes and media types are claims from outside.
 */
import { NotFoundError, RemoteError, UnsupportedError } from "../errors.ts";
import { isObject } from "./oci_http.ts";

/** The OCI image manifest type, which SIF artifacts are pushed as. */
export const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
const DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json";
/** The config type Apptainer >= 1.3.1 pushes. */
const SIF_CONFIG = "application/vnd.sylabs.sif.config.v1+json";
/** The SIF layer type. */
const SIF_LAYER = "application/vnd.sylabs.sif.layer.v1.sif";
// Singularity 3.3 to 3.6 pushed this, typo included.
const SIF_LAYER_PROTOTYPE = "appliciation/vnd.sylabs.sif.layer.tar";
/** The config blob Apptainer uploads: `{}`. */
export const EMPTY_CONFIG = new TextEncoder().encode("{}");
/** The digest of `{}`. */
export const EMPTY_CONFIG_DIGEST =
  "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
const TITLE = "org.opencontainers.image.title";

/** The Accept header of a manifest request: both families, images and indexes. */
export const MANIFEST_ACCEPT = [
  OCI_MANIFEST,
  OCI_INDEX,
  DOCKER_MANIFEST,
  DOCKER_LIST,
  "application/vnd.docker.distribution.manifest.v1+prettyjws",
  "application/vnd.docker.distribution.manifest.v1+json",
].join(", ");

const SHA256 = /^sha256:[0-9a-f]{64}$/;
const DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
const MEDIA_TYPE =
  /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/;
const CONTAINER_LAYER = /^application\/vnd\.(oci\.image\.layer|docker\.image\.rootfs)\./;

/** A content descriptor. */
export interface Descriptor {
  /** Its media type. */
  mediaType: string;
  /** `algorithm:hex`. */
  digest: string;
  /** Bytes. */
  size: number;
  /** Annotations, strings only. */
  annotations: Record<string, string>;
  /** `os/architecture[/variant]` of an index entry, when given. */
  platform: string | null;
}

/** A parsed manifest: an index of platform manifests, or an image. */
export type Manifest =
  | { kind: "index"; mediaType: string; manifests: Descriptor[] }
  | {
    kind: "image";
    mediaType: string;
    config: Descriptor;
    layers: Descriptor[];
    artifactType: string | null;
  };

/** Parses manifest bytes; `contentType` is the answer's Content-Type without parameters. */
export function parseManifest(bytes: Uint8Array, contentType: string | null): Manifest {
  let body: unknown;
  try {
    body = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    throw new RemoteError("the registry sent a manifest that is not JSON");
  }
  if (!isObject(body)) throw new RemoteError("the registry sent a manifest that is not an object");
  const declared = typeof body.mediaType === "string" ? body.mediaType : null;
  const mediaType = declared ?? contentType ?? OCI_MANIFEST;
  if (body.schemaVersion !== 2) {
    throw new UnsupportedError(
      `the manifest has schema version ${JSON.stringify(body.schemaVersion)}; only 2 is supported`,
    );
  }
  if (Array.isArray(body.manifests) || mediaType === OCI_INDEX || mediaType === DOCKER_LIST) {
    if (!Array.isArray(body.manifests)) throw invalid("an index without manifests");
    return { kind: "index", mediaType, manifests: body.manifests.map(descriptor) };
  }
  if (!Array.isArray(body.layers)) throw invalid("no layers");
  return {
    kind: "image",
    mediaType,
    config: descriptor(body.config),
    layers: body.layers.map(descriptor),
    artifactType: typeof body.artifactType === "string" ? body.artifactType : null,
  };
}

/** The index entry for `linux/<arch>` (Deno's arch names mapped to OCI's). */
export function platformEntry(index: Manifest & { kind: "index" }, arch: string): Descriptor {
  const wanted = `linux/${arch === "x86_64" ? "amd64" : arch === "aarch64" ? "arm64" : arch}`;
  const images = index.manifests.filter((entry) =>
    entry.mediaType === OCI_MANIFEST || entry.mediaType === DOCKER_MANIFEST
  );
  const match = images.find((entry) => entry.platform?.startsWith(wanted) ?? false) ??
    (images.length === 1 && images[0].platform === null ? images[0] : undefined);
  if (match === undefined) {
    const offered = images.map((entry) => entry.platform ?? "unknown").join(", ");
    throw new NotFoundError(`the index has no image for ${wanted} (it has: ${offered || "none"})`);
  }
  if (!SHA256.test(match.digest)) throw invalid(`an index entry with digest ${match.digest}`);
  return match;
}

/**
 * The SIF layer of an image manifest: the first layer of a SIF type. A manifest of container
 * layers is a container image, which `oras://` does not pull.
 */
export function sifLayer(manifest: Manifest & { kind: "image" }): Descriptor {
  const layer = manifest.layers.find((candidate) =>
    candidate.mediaType === SIF_LAYER || candidate.mediaType === SIF_LAYER_PROTOTYPE
  );
  if (layer === undefined) {
    if (manifest.layers.some((candidate) => CONTAINER_LAYER.test(candidate.mediaType))) {
      throw new UnsupportedError("this is a container image, not a SIF artifact", {
        hint: "build a SIF from it with 'apptainer pull docker://<same reference>', then add it",
      });
    }
    const types = [...new Set(manifest.layers.map((candidate) => candidate.mediaType))];
    throw new UnsupportedError(
      `the manifest has no SIF layer (layer types: ${types.join(", ") || "none"})`,
    );
  }
  if (!SHA256.test(layer.digest)) {
    throw new UnsupportedError(`the SIF layer's digest ${layer.digest} is not sha256`);
  }
  return layer;
}

/** The manifest Apptainer (>= 1.3.1) pushes for a SIF file, as exact bytes. */
export function sifManifest(
  layer: { digest: string; size: number; title: string },
): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: SIF_CONFIG, size: EMPTY_CONFIG.byteLength, digest: EMPTY_CONFIG_DIGEST },
    layers: [{
      mediaType: SIF_LAYER,
      size: layer.size,
      digest: layer.digest,
      annotations: { [TITLE]: layer.title },
    }],
  }));
}

/** The media type of a Content-Type value, without parameters; null when absent. */
export function mediaTypeOf(contentType: string | null): string | null {
  const type = contentType?.split(";")[0].trim().toLowerCase();
  return type ? type : null;
}

function descriptor(value: unknown): Descriptor {
  if (!isObject(value)) throw invalid("a descriptor that is not an object");
  const { mediaType, digest, size } = value;
  if (typeof mediaType !== "string" || !MEDIA_TYPE.test(mediaType)) {
    throw invalid(`a descriptor with media type ${JSON.stringify(mediaType)}`);
  }
  if (typeof digest !== "string" || !DIGEST.test(digest) || digest.length > 200) {
    throw invalid("a descriptor with an invalid digest");
  }
  if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0) {
    throw invalid(`a descriptor with size ${JSON.stringify(size)}`);
  }
  const annotations: Record<string, string> = {};
  if (isObject(value.annotations)) {
    for (const [key, text] of Object.entries(value.annotations)) {
      if (typeof text === "string") annotations[key] = text;
    }
  }
  const platform = isObject(value.platform) && typeof value.platform.os === "string" &&
      typeof value.platform.architecture === "string"
    ? [value.platform.os, value.platform.architecture, value.platform.variant]
      .filter((part) => typeof part === "string" && part !== "").join("/")
    : null;
  return { mediaType, digest, size, annotations, platform };
}

function invalid(what: string): RemoteError {
  return new RemoteError(`the registry sent an invalid manifest: ${what}`);
}
