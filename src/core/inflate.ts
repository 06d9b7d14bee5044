/**
 * zlib decompression (RFC 1950/1951: what squashfs calls gzip) with a hard cap on the output: a
 * block that expands past its cap is refused as soon as it does, so a decompression bomb costs at
 * most the cap. Synchronous and in plain TypeScript: the runtime's DecompressionStream costs a
 * few milliseconds to start, which `inspect` would pay on every run, and node:zlib more. Every
 * code, length and distance is checked; the Adler-32 checksum must match.
 */
import { InvalidImageError } from "../errors.ts";

const MAX_BITS = 15;
// Code length code order (RFC 1951 §3.2.7).
const ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];
const LENGTH_BASE = [
  3,
  4,
  5,
  6,
  7,
  8,
  9,
  10,
  11,
  13,
  15,
  17,
  19,
  23,
  27,
  31,
  35,
  43,
  51,
  59,
  67,
  83,
  99,
  115,
  131,
  163,
  195,
  227,
  258,
];
const LENGTH_EXTRA = [
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  1,
  1,
  1,
  1,
  2,
  2,
  2,
  2,
  3,
  3,
  3,
  3,
  4,
  4,
  4,
  4,
  5,
  5,
  5,
  5,
  0,
];
const DISTANCE_BASE = [
  1,
  2,
  3,
  4,
  5,
  7,
  9,
  13,
  17,
  25,
  33,
  49,
  65,
  97,
  129,
  193,
  257,
  385,
  513,
  769,
  1025,
  1537,
  2049,
  3073,
  4097,
  6145,
  8193,
  12289,
  16385,
  24577,
];
const DISTANCE_EXTRA = [
  0,
  0,
  0,
  0,
  1,
  1,
  2,
  2,
  3,
  3,
  4,
  4,
  5,
  5,
  6,
  6,
  7,
  7,
  8,
  8,
  9,
  9,
  10,
  10,
  11,
  11,
  12,
  12,
  13,
  13,
];

/** A canonical Huffman code: how many codes of each length, and the symbols in code order. */
interface Huffman {
  counts: Uint16Array;
  symbols: Uint16Array;
}

class Damaged extends Error {}

/** Decompresses one zlib stream of at most `limit` bytes; `what` names it in errors. */
export function inflate(input: Uint8Array, limit: number, what: string): Uint8Array {
  try {
    return new Inflater(input, limit).run();
  } catch (error) {
    if (error instanceof Expanded) {
      throw new InvalidImageError(`${what} expands past ${limit} bytes (damaged or crafted)`);
    }
    if (error instanceof Damaged) {
      throw new InvalidImageError(`${what} is not a valid zlib stream (damaged image)`, {
        cause: error,
      });
    }
    throw error;
  }
}

class Expanded extends Error {}

class Inflater {
  readonly #input: Uint8Array;
  readonly #limit: number;
  #at = 0; // next input byte
  #bits = 0; // bit buffer
  #count = 0; // bits in the buffer
  #output: Uint8Array;
  #length = 0;

  constructor(input: Uint8Array, limit: number) {
    this.#input = input;
    this.#limit = limit;
    this.#output = new Uint8Array(Math.min(limit, Math.max(1024, input.length * 4)));
  }

  run(): Uint8Array {
    if (this.#input.length < 6) throw new Damaged("too short");
    const method = this.#input[0];
    const flags = this.#input[1];
    if ((method & 0x0f) !== 8 || method >> 4 > 7 || ((method << 8) | flags) % 31 !== 0) {
      throw new Damaged("bad zlib header");
    }
    if (flags & 0x20) throw new Damaged("a preset dictionary");
    this.#at = 2;
    let last = 0;
    while (!last) {
      last = this.#take(1);
      const type = this.#take(2);
      if (type === 0) this.#stored();
      else if (type === 1) this.#codes(FIXED.literals, FIXED.distances);
      else if (type === 2) this.#dynamic();
      else throw new Damaged("reserved block type");
    }
    this.#count = 0; // the checksum starts at the next byte
    if (this.#at + 4 > this.#input.length) throw new Damaged("no checksum");
    const expected = ((this.#input[this.#at] << 24) | (this.#input[this.#at + 1] << 16) |
      (this.#input[this.#at + 2] << 8) | this.#input[this.#at + 3]) >>> 0;
    const output = this.#output.subarray(0, this.#length);
    if (adler32(output) !== expected) throw new Damaged("checksum mismatch");
    return output;
  }

  #take(need: number): number {
    let bits = this.#bits;
    while (this.#count < need) {
      if (this.#at >= this.#input.length) throw new Damaged("cut short");
      bits |= this.#input[this.#at++] << this.#count;
      this.#count += 8;
    }
    this.#bits = bits >>> need;
    this.#count -= need;
    return bits & ((1 << need) - 1);
  }

  #stored(): void {
    this.#bits = 0;
    this.#count = 0;
    const input = this.#input;
    if (this.#at + 4 > input.length) throw new Damaged("cut short");
    const length = input[this.#at] | (input[this.#at + 1] << 8);
    const check = input[this.#at + 2] | (input[this.#at + 3] << 8);
    if (length !== (~check & 0xffff)) throw new Damaged("bad stored length");
    this.#at += 4;
    if (this.#at + length > input.length) throw new Damaged("cut short");
    this.#room(length);
    this.#output.set(input.subarray(this.#at, this.#at + length), this.#length);
    this.#length += length;
    this.#at += length;
  }

  #dynamic(): void {
    const literalCount = this.#take(5) + 257;
    const distanceCount = this.#take(5) + 1;
    const lengthCount = this.#take(4) + 4;
    if (literalCount > 286 || distanceCount > 30) throw new Damaged("too many codes");
    const lengths = new Uint8Array(19);
    for (let i = 0; i < lengthCount; i++) lengths[ORDER[i]] = this.#take(3);
    const lengthCode = huffman(lengths);
    const all = new Uint8Array(literalCount + distanceCount);
    for (let i = 0; i < all.length;) {
      const symbol = this.#decode(lengthCode);
      if (symbol < 16) {
        all[i++] = symbol;
        continue;
      }
      let repeat: number;
      let value = 0;
      if (symbol === 16) {
        if (i === 0) throw new Damaged("a repeat with nothing before it");
        value = all[i - 1];
        repeat = 3 + this.#take(2);
      } else if (symbol === 17) repeat = 3 + this.#take(3);
      else repeat = 11 + this.#take(7);
      if (i + repeat > all.length) throw new Damaged("too many lengths");
      all.fill(value, i, i + repeat);
      i += repeat;
    }
    if (all[256] === 0) throw new Damaged("no end-of-block code");
    this.#codes(huffman(all.subarray(0, literalCount)), huffman(all.subarray(literalCount)));
  }

  #codes(literals: Huffman, distances: Huffman): void {
    while (true) {
      const symbol = this.#decode(literals);
      if (symbol < 256) {
        this.#room(1);
        this.#output[this.#length++] = symbol;
        continue;
      }
      if (symbol === 256) return;
      const index = symbol - 257;
      if (index >= 29) throw new Damaged("a bad length code");
      const length = LENGTH_BASE[index] + this.#take(LENGTH_EXTRA[index]);
      const code = this.#decode(distances);
      if (code >= 30) throw new Damaged("a bad distance code");
      const distance = DISTANCE_BASE[code] + this.#take(DISTANCE_EXTRA[code]);
      if (distance > this.#length) throw new Damaged("a distance before the start");
      this.#room(length);
      const output = this.#output;
      let at = this.#length;
      for (let i = 0; i < length; i++, at++) output[at] = output[at - distance];
      this.#length = at;
    }
  }

  // One symbol, a bit at a time in canonical code order (as zlib's puff does).
  #decode(code: Huffman): number {
    let value = 0;
    let first = 0;
    let index = 0;
    for (let length = 1; length <= MAX_BITS; length++) {
      value |= this.#take(1);
      const count = code.counts[length];
      if (value - first < count) return code.symbols[index + value - first];
      index += count;
      first = (first + count) << 1;
      value <<= 1;
    }
    throw new Damaged("an invalid code");
  }

  #room(more: number): void {
    const needed = this.#length + more;
    if (needed > this.#limit) throw new Expanded();
    if (needed <= this.#output.length) return;
    const grown = new Uint8Array(Math.min(this.#limit, Math.max(needed, this.#output.length * 2)));
    grown.set(this.#output.subarray(0, this.#length));
    this.#output = grown;
  }
}

// A canonical code from code lengths; over-subscribed sets are refused.
function huffman(lengths: Uint8Array): Huffman {
  const counts = new Uint16Array(MAX_BITS + 1);
  for (const length of lengths) counts[length]++;
  counts[0] = 0;
  let left = 1;
  for (let length = 1; length <= MAX_BITS; length++) {
    left = (left << 1) - counts[length];
    if (left < 0) throw new Damaged("an over-subscribed code");
  }
  const offsets = new Uint16Array(MAX_BITS + 2);
  for (let length = 1; length <= MAX_BITS; length++) {
    offsets[length + 1] = offsets[length] + counts[length];
  }
  const symbols = new Uint16Array(lengths.length);
  lengths.forEach((length, symbol) => {
    if (length !== 0) symbols[offsets[length]++] = symbol;
  });
  return { counts, symbols };
}

const FIXED = (() => {
  const literals = new Uint8Array(288);
  literals.fill(8, 0, 144).fill(9, 144, 256).fill(7, 256, 280).fill(8, 280, 288);
  return { literals: huffman(literals), distances: huffman(new Uint8Array(30).fill(5)) };
})();

function adler32(bytes: Uint8Array): number {
  let a = 1;
  let b = 0;
  for (let start = 0; start < bytes.length; start += 5552) {
    const end = Math.min(bytes.length, start + 5552);
    for (let i = start; i < end; i++) {
      a += bytes[i];
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return ((b << 16) | a) >>> 0;
}
