/**
 * zlib decompression (what squashfs calls gzip) with a hard cap on the output: a block that
 * expands past its cap is refused as soon as it does, so a decompression bomb costs at most the
 * cap plus one chunk of memory. Uses the runtime's DecompressionStream: no package, no permission.
 */
import { InvalidImageError } from "../errors.ts";

/** Decompresses one zlib stream of at most `limit` bytes; `what` names it in errors. */
export async function inflate(input: Uint8Array, limit: number, what: string): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = new Blob([input as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new DecompressionStream("deflate"))
    .getReader();
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > limit) {
        throw new InvalidImageError(`${what} expands past ${limit} bytes (damaged or crafted)`);
      }
      chunks.push(value);
    }
  } catch (error) {
    reader.cancel().catch(() => {});
    if (error instanceof InvalidImageError) throw error;
    throw new InvalidImageError(`${what} is not a valid zlib stream (damaged image)`, {
      cause: error,
    });
  }
  if (chunks.length === 1) return chunks[0];
  const output = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    output.set(chunk, at);
    at += chunk.byteLength;
  }
  return output;
}
