/**
 * The SIF container format (reference/sif.md §1-2, §6): the 128-byte global header and the
 * descriptor table, parsed from two bounded reads, and data objects read lazily under a size cap.
 * Every 64-bit field is checked to be a safe, non-negative integer and every range to lie inside
 * the file before it is used; unknown enums are named, never used as indexes.
 */
import { InvalidImageError } from "../errors.ts";
import { sifArchitecture } from "./architecture.ts";
import type { ImageFile } from "./image_file.ts";

const HEADER_BYTES = 128;
const DESCRIPTOR_BYTES = 585;
/** More descriptor slots than any real file has (48), fewer than a table worth refusing. */
const MAX_DESCRIPTORS = 65536;
/** Go's zero time: what deterministic builds store for "unset". */
const ZERO_TIME = -62135596800n;
const GROUP_MASK = 0xf0000000;

/** SIF data object types (sif.md §2.1). */
export const SifType = {
  deffile: 0x4001,
  envVar: 0x4002,
  labels: 0x4003,
  partition: 0x4004,
  signature: 0x4005,
  genericJson: 0x4006,
  generic: 0x4007,
  cryptoMessage: 0x4008,
  sbom: 0x4009,
  ociRootIndex: 0x400a,
  ociBlob: 0x400b,
} as const;

const TYPE_NAMES: Record<number, string> = {
  0x4001: "Def.FILE",
  0x4002: "Env.Vars",
  0x4003: "JSON.Labels",
  0x4004: "FS",
  0x4005: "Signature",
  0x4006: "JSON.Generic",
  0x4007: "Generic/Raw",
  0x4008: "Cryptographic Message",
  0x4009: "SBOM",
  0x400a: "OCI.RootIndex",
  0x400b: "OCI.Blob",
};
const FS_TYPES: Record<number, string> = {
  1: "Squashfs",
  2: "Ext3",
  3: "Archive",
  4: "Raw",
  5: "Encrypted squashfs",
  6: "Gocryptfs squashfs",
};
const PART_TYPES: Record<number, string> = { 1: "System", 2: "*System", 3: "Data", 4: "Overlay" };
const HASH_TYPES: Record<number, string> = {
  1: "SHA-256",
  2: "SHA-384",
  3: "SHA-512",
  4: "BLAKE2s-256",
  5: "BLAKE2b-256",
};
const CRYPTO_FORMATS: Record<number, string> = { 1: "OpenPGP", 2: "PEM" };
const CRYPTO_MESSAGES: Record<number, string> = { 0x100: "Clear Signature", 0x200: "RSA-OAEP" };
const SBOM_FORMATS: Record<number, string> = {
  1: "cyclonedx-json",
  2: "cyclonedx-xml",
  3: "github-json",
  4: "spdx-json",
  5: "spdx-rdf",
  6: "spdx-tag-value",
  7: "spdx-yaml",
  8: "syft-json",
};

/** PartType of the primary system partition (the container's root filesystem). */
export const PRIMARY_SYSTEM = 2;
/** FsType values whose contents are encrypted. */
const ENCRYPTED_FS = new Set([5, 6]);

/** The global header. */
export interface SifHeader {
  /** The launch script (`#!/usr/bin/env run-singularity`), or "". */
  launchScript: string;
  /** Format version, `01`. */
  version: string;
  /** Primary architecture (`amd64`), or null when unset or unknown. */
  arch: string | null;
  /** The raw two-character architecture code. */
  archCode: string;
  /** The image's UUID, or null for a deterministic build (all zeros). */
  id: string | null;
  /** Creation time in Unix seconds, or null when unset. */
  createdAt: number | null;
  /** Modification time in Unix seconds, or null when unset. */
  modifiedAt: number | null;
  /** Descriptor slots the header says are free (a counter; not trusted). */
  descriptorsFree: number;
  /** Descriptor slots in the table. */
  descriptorsTotal: number;
  /** Where the descriptor table starts. */
  descriptorsOffset: number;
  /** Bytes the table occupies. */
  descriptorsSize: number;
  /** Where the data objects start. */
  dataOffset: number;
  /** Bytes of data objects. */
  dataSize: number;
}

/** Where a descriptor points: another object or a group. */
export type SifLink = { object: number } | { group: number } | null;

/** Partition details from a Partition descriptor's Extra field. */
export interface SifPartition {
  /** File system type code. */
  fsType: number;
  /** File system name (`Squashfs`), or `unknown(n)`. */
  fs: string;
  /** Partition type code. */
  partType: number;
  /** Partition type name (`*System` for the primary one), or `unknown(n)`. */
  type: string;
  /** Architecture name, or null. */
  arch: string | null;
  /** True for encrypted file systems (dm-crypt, gocryptfs). */
  encrypted: boolean;
}

/** Signature details from a Signature descriptor's Extra field. */
export interface SifSignature {
  /** Hash type code. */
  hashType: number;
  /** Hash name (`SHA-256`), or `unknown(n)`. */
  hash: string;
  /** OpenPGP key fingerprint (40 upper-case hex digits), or null when zero. */
  fingerprint: string | null;
  /** `pgp`, `pgp-legacy` (Singularity < 3.6), `dsse` or `unknown`, once classified. */
  format?: string;
}

/** One used descriptor: a data object. */
export interface SifObject {
  /** Object ID (1-based). */
  id: number;
  /** DataType code. */
  dataType: number;
  /** The type as siftool names it (`Def.FILE`, `FS`), or `unknown (0x....)`. */
  typeName: string;
  /** Group ID, or null for none. */
  group: number | null;
  /** What it is linked to. */
  link: SifLink;
  /** Absolute offset of its data. */
  offset: number;
  /** Length of its data. */
  size: number;
  /** Creation time in Unix seconds, or null. */
  createdAt: number | null;
  /** Modification time in Unix seconds, or null. */
  modifiedAt: number | null;
  /** Its name (meaningful for JSON.Generic objects), cut at the first NUL. */
  name: string;
  /** True when its data runs past the end of the file (an incomplete download). */
  truncated: boolean;
  /** Partition details. */
  partition?: SifPartition;
  /** Signature details. */
  signature?: SifSignature;
  /** Cryptographic message format and type. */
  cryptoMessage?: { format: string; messageType: string };
  /** SBOM format. */
  sbom?: { format: string };
  /** OCI blob or index digest (`sha256:...`). */
  digest?: string | null;
}

/** A parsed SIF: its header, its objects in slot order, and what looked wrong. */
export interface Sif {
  /** The global header. */
  header: SifHeader;
  /** The used descriptors, in table order. */
  objects: SifObject[];
  /** Problems that did not stop the reading (sif.md §6). */
  warnings: string[];
}

/** Reads and checks the header and descriptor table of a file already sniffed as SIF. */
export function readSif(file: ImageFile): Sif {
  const bad = (what: string) => new InvalidImageError(`${file.name} is not a valid SIF: ${what}`);
  if (file.size < HEADER_BYTES) throw bad("truncated header");
  const bytes = file.read(0, HEADER_BYTES, "the SIF header");
  const view = viewOf(bytes);
  const text = (from: number, length: number) => cString(bytes.subarray(from, from + length));
  const version = text(42, 3);
  if (version !== "01") {
    throw new InvalidImageError(
      `${file.name} has SIF version '${printable(version)}', which sregistry cannot read`,
      { hint: "only version 01 exists; the file is damaged or not a SIF" },
    );
  }
  const field = (offset: number, name: string) => safeInteger(view, offset, () => bad(name));
  const archCode = text(45, 3);
  const header: SifHeader = {
    launchScript: text(0, 32).replace(/\n$/, ""),
    version,
    archCode,
    arch: sifArchitecture(archCode),
    id: uuid(bytes.subarray(48, 64)),
    createdAt: time(view, 64),
    modifiedAt: time(view, 72),
    descriptorsFree: field(80, "descriptors free is out of range"),
    descriptorsTotal: field(88, "descriptors total is out of range"),
    descriptorsOffset: field(96, "descriptors offset is out of range"),
    descriptorsSize: field(104, "descriptors size is out of range"),
    dataOffset: field(112, "data offset is out of range"),
    dataSize: field(120, "data size is out of range"),
  };
  const warnings: string[] = [];
  const total = header.descriptorsTotal;
  if (total > MAX_DESCRIPTORS) throw bad(`${total} descriptor slots (at most ${MAX_DESCRIPTORS})`);
  if (header.descriptorsOffset < HEADER_BYTES) {
    throw bad("the descriptor table overlaps the header");
  }
  if (total * DESCRIPTOR_BYTES > header.descriptorsSize) {
    throw bad("the descriptor table is smaller than its slots");
  }
  if (header.descriptorsOffset + total * DESCRIPTOR_BYTES > file.size) {
    throw bad("the descriptor table runs past the end of the file (truncated?)");
  }
  if (header.descriptorsFree > total) warnings.push("the header counts more free slots than exist");
  if (header.dataOffset + header.dataSize !== file.size) {
    warnings.push(
      `the header says the data ends at byte ${header.dataOffset + header.dataSize}, ` +
        `the file is ${file.size} bytes (truncated or extended)`,
    );
  }
  const table = file.read(header.descriptorsOffset, total * DESCRIPTOR_BYTES, "descriptors");
  const objects: SifObject[] = [];
  const seen = new Set<number>();
  const tableEnd = header.descriptorsOffset + header.descriptorsSize;
  for (let slot = 0; slot < total; slot++) {
    const descriptor = table.subarray(slot * DESCRIPTOR_BYTES, (slot + 1) * DESCRIPTOR_BYTES);
    if (descriptor[4] === 0) continue;
    const object = parseDescriptor(descriptor, slot, file.size, warnings);
    if (object === null) continue;
    if (seen.has(object.id)) {
      warnings.push(`descriptor ${slot + 1} repeats object ID ${object.id}; the first one is used`);
      continue;
    }
    seen.add(object.id);
    if (object.offset < tableEnd && object.size > 0) {
      warnings.push(`object ${object.id} overlaps the header or descriptor table`);
    }
    objects.push(object);
  }
  if (objects.filter(isPrimaryPartition).length > 1) {
    warnings.push("more than one primary system partition: none is used as the root filesystem");
  }
  return { header, objects, warnings };
}

/** True for a Partition object marked as the primary system partition. */
export function isPrimaryPartition(object: SifObject): boolean {
  return object.dataType === SifType.partition && object.partition?.partType === PRIMARY_SYSTEM;
}

/** The one primary system partition, or null when there is none or more than one. */
export function primaryPartition(sif: Sif): SifObject | null {
  const found = sif.objects.filter(isPrimaryPartition);
  return found.length === 1 ? found[0] : null;
}

/**
 * The data of an object, refused when it is larger than `cap` or runs past the end of the file;
 * `what` names it in the message.
 */
export function readObject(
  file: ImageFile,
  object: SifObject,
  cap: number,
  what: string,
): Uint8Array {
  if (object.truncated) {
    throw new InvalidImageError(`${file.name} is truncated: ${what} runs past the end of the file`);
  }
  if (object.size > cap) {
    throw new InvalidImageError(
      `${file.name}: ${what} is ${object.size} bytes, more than the ${cap} sregistry reads`,
    );
  }
  return file.read(object.offset, object.size, what);
}

/** Classifies each signature by its first bytes (sif.md §2.5); nothing is verified. */
export function classifySignatures(file: ImageFile, sif: Sif): void {
  const signatures = sif.objects.filter((object) => object.signature).slice(0, 64);
  for (const object of signatures) {
    let head = "";
    if (!object.truncated) {
      const bytes = file.read(object.offset, Math.min(64, object.size), "a signature");
      head = String.fromCharCode(...bytes);
    }
    object.signature!.format = head.startsWith("-----BEGIN PGP SIGNED MESSAGE-----")
      ? (object.signature!.hashType === 2 ? "pgp-legacy" : "pgp")
      : /^\{\s*"payloadType"/.test(head)
      ? "dsse"
      : "unknown";
  }
}

function parseDescriptor(
  bytes: Uint8Array,
  slot: number,
  fileSize: number,
  warnings: string[],
): SifObject | null {
  const view = viewOf(bytes);
  const id = view.getUint32(5, true);
  const where = `descriptor ${slot + 1}`;
  if (id === 0) {
    warnings.push(`${where} is in use but has object ID 0; skipped`);
    return null;
  }
  const number = (offset: number, name: string) => {
    const value = view.getBigInt64(offset, true);
    if (value < 0n || value > BigInt(Number.MAX_SAFE_INTEGER)) {
      warnings.push(`${where}: ${name} is out of range; skipped`);
      return null;
    }
    return Number(value);
  };
  const offset = number(17, "offset");
  const size = number(25, "size");
  const padded = number(33, "size with padding");
  if (offset === null || size === null || padded === null) return null;
  const dataType = view.getInt32(0, true);
  const group = view.getUint32(9, true) & ~GROUP_MASK;
  const linked = view.getUint32(13, true);
  const truncated = offset + size > fileSize;
  if (truncated) warnings.push(`object ${id} runs past the end of the file (truncated download?)`);
  if (padded < size) warnings.push(`object ${id} has less padding than data`);
  const object: SifObject = {
    id,
    dataType,
    typeName: TYPE_NAMES[dataType] ?? `unknown (0x${(dataType >>> 0).toString(16)})`,
    group: group === 0 ? null : group >>> 0,
    link: linked === 0
      ? null
      : (linked & GROUP_MASK) >>> 0 === GROUP_MASK
      ? { group: (linked & ~GROUP_MASK) >>> 0 }
      : { object: linked >>> 0 },
    offset,
    size,
    createdAt: time(view, 41),
    modifiedAt: time(view, 49),
    name: cString(bytes.subarray(73, 201)),
    truncated,
  };
  const extra = viewOf(bytes.subarray(201));
  switch (dataType) {
    case SifType.partition: {
      const fsType = extra.getInt32(0, true);
      const partType = extra.getInt32(4, true);
      object.partition = {
        fsType,
        fs: named(FS_TYPES, fsType),
        partType,
        type: named(PART_TYPES, partType),
        arch: sifArchitecture(cString(bytes.subarray(209, 212))),
        encrypted: ENCRYPTED_FS.has(fsType),
      };
      break;
    }
    case SifType.signature: {
      const hashType = extra.getInt32(0, true);
      const entity = bytes.subarray(205, 225);
      object.signature = {
        hashType,
        hash: named(HASH_TYPES, hashType),
        fingerprint: entity.every((byte) => byte === 0) ? null : hex(entity).toUpperCase(),
      };
      break;
    }
    case SifType.cryptoMessage:
      object.cryptoMessage = {
        format: named(CRYPTO_FORMATS, extra.getInt32(0, true)),
        messageType: named(CRYPTO_MESSAGES, extra.getInt32(4, true)),
      };
      break;
    case SifType.sbom:
      object.sbom = { format: named(SBOM_FORMATS, extra.getInt32(0, true)) };
      break;
    case SifType.ociRootIndex:
    case SifType.ociBlob: {
      const digest = cString(bytes.subarray(201, 201 + 80));
      object.digest = /^sha256:[0-9a-f]{64}$/.test(digest) ? digest : null;
      break;
    }
  }
  return object;
}

function named(names: Record<number, string>, code: number): string {
  return Object.hasOwn(names, code) ? names[code] : `unknown(${code})`;
}

function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function safeInteger(view: DataView, offset: number, fail: () => Error): number {
  const value = view.getBigInt64(offset, true);
  if (value < 0n || value > BigInt(Number.MAX_SAFE_INTEGER)) throw fail();
  return Number(value);
}

// Seconds, or null for Go's zero time and for values no date can show.
function time(view: DataView, offset: number): number | null {
  const value = view.getBigInt64(offset, true);
  if (value === ZERO_TIME || value < -8_640_000_000_000n || value > 8_640_000_000_000n) return null;
  return Number(value);
}

function uuid(bytes: Uint8Array): string | null {
  if (bytes.every((byte) => byte === 0)) return null;
  const digits = hex(bytes);
  return `${digits.slice(0, 8)}-${digits.slice(8, 12)}-${digits.slice(12, 16)}-` +
    `${digits.slice(16, 20)}-${digits.slice(20)}`;
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

const DECODER = new TextDecoder();

/** Text up to the first NUL, decoded as UTF-8 with replacement characters. */
export function cString(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return DECODER.decode(end === -1 ? bytes : bytes.subarray(0, end));
}

function printable(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, "?");
}
