/**
 * Telling image formats apart from their first bytes, as apptainer does: SIF (magic at byte 32),
 * the Singularity 2.x `.simg` (a launch script, then squashfs), a bare squashfs, and the legacy
 * ext3 `.img`. Reads at most the first 2 KiB and one ext superblock.
 */
import { ImageFile } from "./image_file.ts";

/** The formats sregistry recognises; `unknown` is any other file. */
export type ImageFormat = "sif" | "simg" | "squashfs" | "ext3" | "unknown";

/** A recognised format and where its filesystem starts. */
export interface SniffedImage {
  /** The format. */
  format: ImageFormat;
  /** Byte offset of the squashfs or ext3 filesystem (0 for SIF and unknown files). */
  offset: number;
}

/** What a file that is none of the recognised formats is not, for warnings and errors. */
export const NOT_AN_IMAGE = "not a SIF, Singularity 2.x (.simg, ext3 .img) or squashfs image";

const SIF_MAGIC = "SIF_MAGIC\0";
const SQUASHFS_MAGIC = "hsqs";
// apptainer looks for this within the first 2 KiB; the filesystem starts after its newline.
const LAUNCH = " run-singularity";
const HEAD = 2048;
const EXT_MAGIC_AT = 1080;
const EXT_FEATURES = 1080 + 44 + 4;

/** Recognises the format of an open file from its first bytes. */
export function sniffImage(file: ImageFile): SniffedImage {
  const head = file.readUpTo(0, HEAD, "the first bytes");
  const text = latin1(head);
  if (head.length >= 128 && text.slice(32, 42) === SIF_MAGIC) return { format: "sif", offset: 0 };
  if (text.startsWith(SQUASHFS_MAGIC)) return { format: "squashfs", offset: 0 };
  const launch = text.startsWith("#!") ? text.indexOf(LAUNCH) : -1;
  if (launch > 0 && text[launch + LAUNCH.length] === "\n") {
    const offset = launch + LAUNCH.length + 1;
    if (text.slice(offset, offset + 4) === SQUASHFS_MAGIC) return { format: "simg", offset };
    if (isExt3(file, offset)) return { format: "ext3", offset };
  }
  if (isExt3(file, 0)) return { format: "ext3", offset: 0 };
  return { format: "unknown", offset: 0 };
}

/** How a format is named in messages and in `inspect`. */
export function formatName(format: ImageFormat): string {
  switch (format) {
    case "sif":
      return "SIF image";
    case "simg":
      return "Singularity 2.x squashfs image (.simg)";
    case "squashfs":
      return "squashfs image";
    case "ext3":
      return "Singularity 2.x ext3 image (.img)";
    case "unknown":
      return "file of unknown format";
  }
}

// The checks apptainer makes: the ext magic, a journal, and no feature ext3 lacks.
function isExt3(file: ImageFile, offset: number): boolean {
  if (offset + EXT_FEATURES > file.size) return false;
  const bytes = file.read(offset + EXT_MAGIC_AT, EXT_FEATURES - EXT_MAGIC_AT, "the ext superblock");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint16(0, true) !== 0xef53) return false;
  const compat = view.getUint32(36, true);
  const incompat = view.getUint32(40, true);
  const readOnlyCompat = view.getUint32(44, true);
  return (compat & 0x4) !== 0 && (incompat & ~(0x2 | 0x4 | 0x10)) === 0 &&
    (readOnlyCompat & ~(0x1 | 0x2 | 0x4)) === 0;
}

function latin1(bytes: Uint8Array): string {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return text;
}

/** True when the file at `path` is a SIF image (an OCI layer of a SIF artifact must be one). */
export function isSifImage(path: string): boolean {
  using file = ImageFile.open(path);
  return sniffImage(file).format === "sif";
}
