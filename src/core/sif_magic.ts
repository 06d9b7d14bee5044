/**
 * Telling a SIF file from anything else by its magic, `SIF_MAGIC\0` at byte 32 (sif.md §1.1),
 * reading only the file's first 42 bytes.
 */

const MAGIC = new TextEncoder().encode("SIF_MAGIC\0");
const OFFSET = 32;

/** True when the file at `path` starts like a SIF image. */
export async function hasSifMagic(path: string): Promise<boolean> {
  using file = await Deno.open(path, { read: true });
  const head = new Uint8Array(OFFSET + MAGIC.byteLength);
  let filled = 0;
  while (filled < head.byteLength) {
    const read = await file.read(head.subarray(filled));
    if (read === null) return false;
    filled += read;
  }
  return MAGIC.every((byte, i) => head[OFFSET + i] === byte);
}
