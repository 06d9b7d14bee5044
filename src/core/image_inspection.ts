/**
 * What sregistry knows about an image file by reading it: its format, its SIF header and objects,
 * its root filesystem's superblock, its apptainer metadata, and the facts a record keeps (format,
 * architecture, SIF id, creation time, labels). Reads are positioned and bounded (image_file.ts):
 * the cost does not grow with the size of the image, and nothing is run.
 */
import { InvalidImageError, reason, SregistryError, UnsupportedError } from "../errors.ts";
import { elfArchitecture, normalArchitecture } from "./architecture.ts";
import { assembleAttributes, type ImageAttributes, type OciConfig } from "./image_attributes.ts";
import { ImageFile } from "./image_file.ts";
import { type ImageFormat, NOT_AN_IMAGE, sniffImage } from "./image_format.ts";
import { classifySignatures, primaryPartition, readSif, type Sif } from "./sif.ts";
import { readSuperblock, Squashfs, type SquashfsSuperblock } from "./squashfs.ts";

/** Everything read from an image file. */
export interface ImageInspection {
  /** The path read. */
  path: string;
  /** Its size in bytes. */
  size: number;
  /** Its format. */
  format: ImageFormat;
  /** The SIF header and objects, for a SIF whose header could be read. */
  sif: Sif | null;
  /** The root filesystem's superblock, when there is a squashfs one. */
  squashfs: SquashfsSuperblock | null;
  /** Architecture (`amd64`), from the first source of sif.md §3.3 that has it, or null. */
  arch: string | null;
  /** Creation time in Unix seconds, or null when no source has it. */
  created: number | null;
  /** The apptainer metadata. */
  attributes: ImageAttributes;
  /** The OCI config, when the image has one. */
  oci: OciConfig | null;
  /** What was skipped or looked wrong, one line each. */
  warnings: string[];
  /**
   * Why the image's metadata could not be read, or null: not an image, an ext3 image, a damaged
   * SIF header, or a root filesystem that is encrypted, compressed otherwise, or damaged.
   */
  problem: SregistryError | null;
}

/** Options of an inspection. */
export interface InspectOptions {
  /** `labels` reads only what a record keeps; `all` (the default) everything. */
  want?: "all" | "labels";
  /** How messages name the file (default: its path). */
  name?: string;
}

/**
 * Reads an image file's metadata. Only a file that cannot be opened throws; what the image
 * itself gets wrong is in `problem` and `warnings`.
 */
export function inspectImage(
  path: string,
  options: InspectOptions = {},
): ImageInspection {
  const want = options.want ?? "all";
  using file = ImageFile.open(path, options.name);
  const inspection: ImageInspection = {
    path,
    size: file.size,
    format: "unknown",
    sif: null,
    squashfs: null,
    arch: null,
    created: null,
    attributes: {},
    oci: null,
    warnings: [],
    problem: null,
  };
  try {
    readInto(inspection, file, want);
  } catch (error) {
    if (!(error instanceof SregistryError)) throw error;
    inspection.problem = error;
  }
  return inspection;
}

function readInto(
  inspection: ImageInspection,
  file: ImageFile,
  want: "all" | "labels",
): void {
  const sniffed = sniffImage(file);
  inspection.format = sniffed.format;
  if (sniffed.format === "unknown") throw new InvalidImageError(`${file.name} is ${NOT_AN_IMAGE}`);
  if (sniffed.format === "ext3") {
    throw new UnsupportedError(
      `${file.name} is a Singularity 2.x ext3 image; sregistry cannot read the files inside it`,
      { hint: "convert it with 'apptainer build new.sif old.img' to inspect it" },
    );
  }
  if (sniffed.format === "sif") {
    inspection.sif = readSif(file);
    inspection.warnings.push(...inspection.sif.warnings);
    if (want === "all") classifySignatures(file, inspection.sif);
  }
  let rootfs: Squashfs | null = null;
  let rootfsProblem: SregistryError | null = null;
  try {
    rootfs = openRootfs(inspection, file, sniffed.offset);
  } catch (error) {
    if (!(error instanceof SregistryError)) throw error;
    rootfsProblem = error;
  }
  const assembled = assembleAttributes({ file, sif: inspection.sif, rootfs }, want);
  inspection.attributes = assembled.attributes;
  inspection.oci = assembled.oci;
  inspection.warnings.push(...assembled.warnings);
  // Without inspect-metadata.json the files of the root filesystem are the metadata.
  if (!assembled.fromMetadata) inspection.problem = rootfsProblem ?? assembled.failure;
  else if (rootfsProblem) inspection.warnings.push(rootfsProblem.message);
  inspection.arch = architecture(inspection, rootfs);
  inspection.created = creationTime(inspection);
}

// The SIF's primary squashfs partition, or the squashfs of a .simg or bare squashfs file.
function openRootfs(inspection: ImageInspection, file: ImageFile, offset: number): Squashfs | null {
  let limit = file.size - offset;
  if (inspection.sif) {
    const partition = primaryPartition(inspection.sif);
    if (!partition) return null;
    if (partition.partition!.encrypted) {
      throw new UnsupportedError(
        `${file.name}: its root filesystem is encrypted (${partition.partition!.fs}); ` +
          "its files cannot be read without the key",
      );
    }
    if (partition.partition!.fsType !== 1) {
      throw new UnsupportedError(
        `${file.name}: its root filesystem is ${partition.partition!.fs}; ` +
          "sregistry reads files from squashfs only",
      );
    }
    if (partition.truncated) {
      throw new InvalidImageError(`${file.name} is truncated: its root filesystem is incomplete`);
    }
    offset = partition.offset;
    limit = partition.size;
  }
  const superblock = readSuperblock(file, offset, limit);
  inspection.squashfs = superblock;
  return new Squashfs(file, superblock);
}

// sif.md §3.3: the header, the primary partition, labels, the OCI config, then the ELF header
// of the image's /bin/sh.
function architecture(
  inspection: ImageInspection,
  rootfs: Squashfs | null,
): string | null {
  const labels = inspection.attributes.labels ?? {};
  const label = (key: string) => Object.hasOwn(labels, key) ? labels[key] : undefined;
  const named = inspection.sif?.header.arch ??
    (inspection.sif && primaryPartition(inspection.sif)?.partition?.arch) ??
    label("org.label-schema.build-arch") ??
    label("org.opencontainers.image.architecture") ??
    inspection.oci?.architecture;
  if (named) return normalArchitecture(named);
  if (!rootfs || inspection.problem) return null;
  try {
    const head = rootfs.readHead("/bin/sh", 20);
    return head ? elfArchitecture(head) : null;
  } catch (error) {
    if (!(error instanceof SregistryError)) throw error;
    inspection.warnings.push(error.message);
    return null;
  }
}

// sif.md §3.3: the header, the squashfs creation time, then RFC 3339 dates from OCI.
function creationTime(inspection: ImageInspection): number | null {
  const fromHeader = inspection.sif?.header.createdAt;
  if (fromHeader !== undefined && fromHeader !== null) return fromHeader;
  if (inspection.squashfs && inspection.squashfs.mkfsTime > 0) return inspection.squashfs.mkfsTime;
  const labels = inspection.attributes.labels ?? {};
  for (
    const text of [labels["org.opencontainers.image.created"], inspection.oci?.created]
  ) {
    if (typeof text !== "string" || !/^\d{4}-\d{2}-\d{2}T/.test(text)) continue;
    const ms = Date.parse(text);
    if (Number.isFinite(ms)) return Math.floor(ms / 1000);
  }
  return null;
}

/** What a record keeps about its image file (the `metrics` column). */
export interface ImageFacts {
  /** The format. */
  format: ImageFormat;
  /** Architecture, or null. */
  arch: string | null;
  /** The SIF's UUID, or null (not a SIF, or a deterministic build). */
  sif_id: string | null;
  /** Creation time, ISO 8601 UTC, or null. */
  created: string | null;
  /** Labels. */
  labels: Record<string, string>;
}

/** Labels a record keeps at most (bytes of JSON); a hostile image cannot bloat the database. */
const MAX_RECORD_LABELS = 64 * 1024;

/**
 * The facts a record keeps about an image file, and warnings for the user (not an image, damaged);
 * `name` is how warnings call the file. Never throws: an image sregistry cannot read is still
 * added, and a failure here must not leave a temporary file behind.
 */
export function readImageFacts(
  path: string,
  name: string,
): { facts: ImageFacts; warnings: string[] } {
  let inspection: ImageInspection;
  try {
    inspection = inspectImage(path, { want: "labels", name });
  } catch (error) {
    const facts: ImageFacts = {
      format: "unknown",
      arch: null,
      sif_id: null,
      created: null,
      labels: {},
    };
    return { facts, warnings: [`cannot read ${name}: ${reason(error)}`] };
  }
  const warnings = [...inspection.warnings];
  if (inspection.problem) warnings.unshift(inspection.problem.message);
  let labels = inspection.attributes.labels ?? {};
  if (JSON.stringify(labels).length > MAX_RECORD_LABELS) {
    warnings.push(`its labels are larger than ${MAX_RECORD_LABELS} bytes; none were recorded`);
    labels = {};
  }
  return {
    facts: {
      format: inspection.format,
      arch: inspection.arch,
      sif_id: inspection.sif?.header.id ?? null,
      created: isoTime(inspection.created),
      labels,
    },
    warnings,
  };
}

/** Unix seconds as ISO 8601 UTC without fractions (`2021-08-02T19:09:36Z`), or null. */
export function isoTime(seconds: number | null): string | null {
  if (seconds === null) return null;
  const date = new Date(seconds * 1000);
  return Number.isNaN(date.getTime()) ? null : date.toISOString().replace(".000Z", "Z");
}
