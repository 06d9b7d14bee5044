/**
 * Image fixtures made by the tests: SIF files written byte by byte as reference/sif.md §5
 * describes, squashfs filesystems made by `mksquashfs` from a tree of files and links, Singularity
 * 2.x `.simg` files, and `siftool` runs. Tests that need a tool skip when it is missing.
 */
import { join } from "node:path";
import { installed } from "./state.ts";

/** True when squashfs-tools' mksquashfs (>= 4.4, for -mkfs-time and -all-time) runs here. */
export const hasMksquashfs = installed("mksquashfs", "-version");
/** True when siftool (the reference SIF implementation) runs here. */
export const hasSiftool = installed("siftool", "version");

/** The launch script SIF and .simg files start with. */
export const LAUNCH_SCRIPT = "#!/usr/bin/env run-singularity\n";
/** An OpenPGP fingerprint for signature fixtures. */
export const FINGERPRINT = "433FE984155206BD962725E20E8713472A879943";
/** Go's zero time, what deterministic builds store. */
export const ZERO_TIME = -62135596800n;

/** SIF data object types. */
export const DataType = {
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

/** One object of a SIF written by writeSif. */
export interface SifObjectSpec {
  /** DataType. */
  type: number;
  /** Its bytes (a string is UTF-8). */
  data: Uint8Array | string;
  /** Name (e.g. `inspect-metadata.json`). */
  name?: string;
  /** Group ID without the 0xF0000000 bit (default 1; 0 = none). */
  group?: number;
  /** LinkedID as stored (0xF0000000 | group for a group link). */
  link?: number;
  /** Extra field bytes (partition info, signature hash and fingerprint). */
  extra?: Uint8Array;
  /** Overrides the ID (default: slot index + 1). */
  id?: number;
}

/** Options of writeSif. */
export interface SifSpec {
  /** Objects, in slot order. */
  objects: SifObjectSpec[];
  /** Launch script (default: none, all zeros). */
  launchScript?: string;
  /** Header arch code, e.g. "02" (default "00"). */
  arch?: string;
  /** 16 ID bytes (default: all zero, a deterministic build). */
  id?: Uint8Array;
  /** Created and modified time (default: Go's zero time). */
  time?: bigint;
  /** Descriptor slots (default 48). */
  slots?: number;
}

const encoder = new TextEncoder();

/** A SIF written byte by byte, following sif.md §5's rules exactly. */
export function writeSif(spec: SifSpec): Uint8Array {
  const slots = spec.slots ?? 48;
  const descriptorsOffset = 4096;
  const descriptorsSize = slots * 585;
  const dataOffset = descriptorsOffset + descriptorsSize;
  const time = spec.time ?? ZERO_TIME;
  const placed = [];
  let position = dataOffset;
  for (const object of spec.objects) {
    const data = typeof object.data === "string" ? encoder.encode(object.data) : object.data;
    const start = object.type === DataType.partition ? Math.ceil(position / 4096) * 4096 : position;
    placed.push({ object, data, start, padding: start - position });
    position = start + data.length;
  }
  const file = new Uint8Array(position);
  const view = new DataView(file.buffer);
  file.set(encoder.encode(spec.launchScript ?? ""), 0);
  file.set(encoder.encode("SIF_MAGIC\0"), 32);
  file.set(encoder.encode("01\0"), 42);
  file.set(encoder.encode(`${spec.arch ?? "00"}\0`), 45);
  file.set(spec.id ?? new Uint8Array(16), 48);
  view.setBigInt64(64, time, true);
  view.setBigInt64(72, time, true);
  view.setBigInt64(80, BigInt(slots - spec.objects.length), true);
  view.setBigInt64(88, BigInt(slots), true);
  view.setBigInt64(96, BigInt(descriptorsOffset), true);
  view.setBigInt64(104, BigInt(descriptorsSize), true);
  view.setBigInt64(112, BigInt(dataOffset), true);
  view.setBigInt64(120, BigInt(position - dataOffset), true);
  placed.forEach(({ object, data, start, padding }, slot) => {
    const at = descriptorsOffset + slot * 585;
    view.setInt32(at, object.type, true);
    file[at + 4] = 1;
    view.setUint32(at + 5, object.id ?? slot + 1, true);
    view.setUint32(at + 9, (0xf0000000 | (object.group ?? 1)) >>> 0, true);
    view.setUint32(at + 13, object.link ?? 0, true);
    view.setBigInt64(at + 17, BigInt(start), true);
    view.setBigInt64(at + 25, BigInt(data.length), true);
    view.setBigInt64(at + 33, BigInt(padding + data.length), true);
    view.setBigInt64(at + 41, time, true);
    view.setBigInt64(at + 49, time, true);
    file.set(encoder.encode(object.name ?? ""), at + 73);
    if (object.extra) file.set(object.extra, at + 201);
    file.set(data, start);
  });
  return file;
}

/** A partition's Extra field: file system, partition type, arch code ("02"). */
export function partitionExtra(fsType: number, partType: number, arch: string): Uint8Array {
  const extra = new Uint8Array(11);
  const view = new DataView(extra.buffer);
  view.setInt32(0, fsType, true);
  view.setInt32(4, partType, true);
  extra.set(encoder.encode(arch), 8);
  return extra;
}

/** A signature's Extra field: hash type and a 40-hex-digit fingerprint. */
export function signatureExtra(hashType: number, fingerprint: string): Uint8Array {
  const extra = new Uint8Array(24);
  new DataView(extra.buffer).setInt32(0, hashType, true);
  for (let i = 0; i < 20; i++) extra[4 + i] = parseInt(fingerprint.slice(2 * i, 2 * i + 2), 16);
  return extra;
}

/** An OCI blob's Extra field: its digest. */
export function digestExtra(digest: string): Uint8Array {
  return encoder.encode(`${digest}\0`);
}

/** `sha256:<hex>` of some bytes. */
export async function sha256Digest(bytes: Uint8Array | string): Promise<string> {
  const data = typeof bytes === "string" ? encoder.encode(bytes) : bytes;
  const hash = new Uint8Array(
    await crypto.subtle.digest("SHA-256", data as Uint8Array<ArrayBuffer>),
  );
  return `sha256:${Array.from(hash, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/**
 * A file in a squashfs tree: text, bytes, a symbolic link, a hard link to an earlier path, a file
 * with a mode, or a sparse file of `size` zero bytes.
 */
export type TreeEntry =
  | string
  | Uint8Array
  | { link: string }
  | { hardlink: string }
  | { content: string; mode: number }
  | { sparse: number };

/**
 * A squashfs image (made by mksquashfs, gzip unless `compressor` says otherwise, root-owned,
 * fixed times, so it is reproducible) of a tree of paths; folders are made as needed.
 */
export async function makeSquashfs(
  tree: Record<string, TreeEntry>,
  options: { compressor?: string; extra?: readonly string[]; blockSize?: number } = {},
): Promise<Uint8Array> {
  const folder = await Deno.makeTempDir({ prefix: "sregistry-squashfs-" });
  try {
    const root = join(folder, "root");
    Deno.mkdirSync(root);
    for (const [path, entry] of Object.entries(tree)) {
      const target = join(root, path);
      Deno.mkdirSync(join(target, ".."), { recursive: true });
      if (typeof entry === "object" && "link" in entry) {
        Deno.symlinkSync(entry.link, target);
      } else if (typeof entry === "object" && "hardlink" in entry) {
        Deno.linkSync(join(root, entry.hardlink), target);
      } else if (typeof entry === "object" && "sparse" in entry) {
        using file = Deno.openSync(target, { write: true, create: true });
        file.truncateSync(entry.sparse);
      } else if (typeof entry === "object" && "mode" in entry) {
        Deno.writeTextFileSync(target, entry.content);
        Deno.chmodSync(target, entry.mode);
      } else {
        Deno.writeFileSync(target, typeof entry === "string" ? encoder.encode(entry) : entry);
      }
    }
    const output = join(folder, "image.sqfs");
    const args = [
      root,
      output,
      "-noappend",
      "-comp",
      options.compressor ?? "gzip",
      "-all-root",
      "-no-xattrs",
      "-mkfs-time",
      "1700000000",
      "-all-time",
      "1700000000",
      "-quiet",
      "-no-progress",
      ...(options.blockSize ? ["-b", String(options.blockSize)] : []),
      ...(options.extra ?? []),
    ];
    const made = await new Deno.Command("mksquashfs", { args, stdout: "piped", stderr: "piped" })
      .output();
    if (!made.success) {
      throw new Error(`mksquashfs failed: ${new TextDecoder().decode(made.stderr)}`);
    }
    return Deno.readFileSync(output);
  } finally {
    await Deno.remove(folder, { recursive: true });
  }
}

/** A Singularity 2.x image: the 31-byte launch script, then the squashfs. */
export function makeSimg(squashfs: Uint8Array): Uint8Array {
  const launch = encoder.encode(LAUNCH_SCRIPT);
  const file = new Uint8Array(launch.length + squashfs.length);
  file.set(launch);
  file.set(squashfs, launch.length);
  return file;
}

/** A /.singularity.d tree like an apptainer build leaves, with an app, for makeSquashfs. */
export function singularityTree(): Record<string, TreeEntry> {
  return {
    ".singularity.d/labels.json":
      '{\n\t"maintainer": "test",\n\t"org.label-schema.build-arch": "amd64",\n\t"version": "1.0"\n}',
    ".singularity.d/runscript": { content: "#!/bin/sh\n\necho hello\n", mode: 0o755 },
    ".singularity.d/startscript": { content: "#!/bin/sh\nexec sleep 100\n", mode: 0o755 },
    ".singularity.d/test": { content: "#!/bin/sh\ntrue\n", mode: 0o755 },
    ".singularity.d/runscript.help": "Says hello.\n",
    ".singularity.d/Singularity": "Bootstrap: docker\nFrom: busybox\n\n%runscript\n  echo hello\n",
    ".singularity.d/env/10-docker2singularity.sh": "export PATH=/usr/bin:/bin\n",
    ".singularity.d/env/90-environment.sh": "#!/bin/sh\nexport GREETING=hello\n",
    ".singularity.d/env/01-base.sh": "# not shown by inspect\n",
    ".singularity.d/env/99-runtimevars.sh": "# not shown either\n",
    "scif/apps/cowsay/scif/labels.json": '{"app": "cowsay"}',
    "scif/apps/cowsay/scif/runscript": "#!/bin/sh\ncowsay moo\n",
    "scif/apps/cowsay/scif/runscript.help": "Moos.\n",
    "scif/apps/cowsay/scif/env/90-environment.sh": "export COW=1\n",
    "scif/apps/notanapp": "a file, not an app folder\n",
  };
}

/** Runs siftool and returns its stdout; a failure throws with its stderr. */
export async function siftool(...args: string[]): Promise<string> {
  const output = await new Deno.Command("siftool", { args, stdout: "piped", stderr: "piped" })
    .output();
  const decoder = new TextDecoder();
  if (!output.success) {
    throw new Error(`siftool ${args.join(" ")}: ${decoder.decode(output.stderr)}`);
  }
  return decoder.decode(output.stdout);
}

/** The sha256 hex of some bytes. */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  return (await sha256Digest(bytes)).slice("sha256:".length);
}
