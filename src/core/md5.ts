/**
 * MD5 (RFC 1321) in WebAssembly that this module emits itself. Deno's `node:crypto` MD5 hashes
 * 1 GiB in about 2.8 s on our machines, against 1.9 s for `md5sum`, and hashing is what bounds
 * `add` and `pull` of a large image. The block function below does the same in about 1.8 s: each
 * step adds the message word and constant to `a` while the round function waits for `b`, the
 * value the step before produced, so only two operations of the round function are on the
 * critical path (the formulation of fast native implementations). The module is about 2 KiB,
 * built once per thread; it needs no permission and no file, so it also works in the compiled
 * executable and in the hashing worker. Its memory is shared, so that bytes placed there can be
 * hashed where they lie, by this thread or by a worker that carries the hash on.
 */

// Per-step shift amounts and constants (floor(abs(sin(i + 1)) * 2^32)), RFC 1321 §3.4.
const SHIFTS = [
  [7, 12, 17, 22],
  [5, 9, 14, 20],
  [4, 11, 16, 23],
  [6, 10, 15, 21],
];
const CONSTANTS = Array.from(
  { length: 64 },
  (_, i) => Math.floor(Math.abs(Math.sin(i + 1)) * 2 ** 32),
);

// Memory layout: the state (a, b, c, d) at 0, a 64-byte block being assembled at 64, the chunk
// area that update() copies input into at 128, and from HEADER_BYTES on whatever the owner of
// the memory keeps there (core/ingest.ts keeps its image blocks, hashed where they lie).
const STATE = 0;
const TAIL = 64;
const CHUNK = 128;
const CHUNK_SIZE = 64 * 1024; // fits in L2 while it is copied in and hashed
const PAGE = 64 * 1024;
/** Bytes at the start of an MD5 memory that the hash uses; the rest is the owner's. */
export const HEADER_BYTES = 2 * PAGE;

/** A memory an MD5 can hash in, shared so that a worker can carry on over the same bytes. */
export function md5Memory(extraBytes = 0): WebAssembly.Memory {
  const pages = HEADER_BYTES / PAGE + Math.ceil(extraBytes / PAGE);
  return new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
}

/** Where a hash stands in its memory: what another thread needs to carry on (Md5.carryOn). */
export interface Md5Handoff {
  memory: WebAssembly.Memory;
  /** Bytes waiting at TAIL for a full 64-byte block. */
  pending: number;
  /** Bytes hashed in all. */
  length: number;
}

/** An incremental MD5: update() with bytes as they come, then digest() once. */
export class Md5 {
  readonly #memory: WebAssembly.Memory;
  readonly #heap: Uint8Array;
  readonly #blocks: (pointer: number, count: number) => void;
  #pending = 0;
  #length = 0;

  /**
   * A new hash in `memory` (by default one of its own), or, with `from`, the hash that a
   * handoff() left in that memory.
   */
  constructor(memory: WebAssembly.Memory = md5Memory(), from?: Omit<Md5Handoff, "memory">) {
    const instance = new WebAssembly.Instance(md5Module(), { env: { memory } });
    this.#memory = memory;
    this.#heap = new Uint8Array(memory.buffer);
    this.#blocks = instance.exports.blocks as (pointer: number, count: number) => void;
    if (from) {
      this.#pending = from.pending;
      this.#length = from.length;
      return;
    }
    const view = new DataView(memory.buffer);
    [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476].forEach((word, i) =>
      view.setUint32(STATE + 4 * i, word, true)
    );
  }

  /** The hash `handoff` describes, carried on in this thread; the other must stop using it. */
  static carryOn(handoff: Md5Handoff): Md5 {
    return new Md5(handoff.memory, handoff);
  }

  /** Where this hash stands, for Md5.carryOn in another thread; stop using it here. */
  handoff(): Md5Handoff {
    return { memory: this.#memory, pending: this.#pending, length: this.#length };
  }

  /** Hashes `bytes` after everything given before. */
  update(bytes: Uint8Array): this {
    for (let offset = 0; offset < bytes.byteLength; offset += CHUNK_SIZE) {
      const chunk = bytes.subarray(offset, offset + CHUNK_SIZE);
      this.#heap.set(chunk, CHUNK);
      this.updateAt(CHUNK, chunk.byteLength);
    }
    return this;
  }

  /** Hashes the `length` bytes at `offset` of this hash's memory, where they already are. */
  updateAt(offset: number, length: number): this {
    this.#length += length;
    const end = offset + length;
    if (this.#pending > 0) {
      const take = Math.min(64 - this.#pending, length);
      this.#heap.copyWithin(TAIL + this.#pending, offset, offset + take);
      this.#pending += take;
      offset += take;
      if (this.#pending < 64) return this;
      this.#blocks(TAIL, 1);
      this.#pending = 0;
    }
    const blocks = Math.floor((end - offset) / 64);
    if (blocks > 0) this.#blocks(offset, blocks);
    offset += blocks * 64;
    this.#heap.copyWithin(TAIL, offset, end);
    this.#pending = end - offset;
    return this;
  }

  /** The lower-case hex MD5 of everything given; the hash cannot be updated afterwards. */
  digest(): string {
    const bits = this.#length * 8;
    // 0x80, zeros up to 56 mod 64, then the length in bits as a little-endian 64-bit number.
    const padding = new Uint8Array(((this.#pending < 56 ? 56 : 120) - this.#pending) + 8);
    padding[0] = 0x80;
    const view = new DataView(padding.buffer);
    view.setUint32(padding.length - 8, bits >>> 0, true);
    view.setUint32(padding.length - 4, Math.floor(bits / 2 ** 32), true);
    this.update(padding);
    let hex = "";
    for (const byte of this.#heap.subarray(STATE, STATE + 16)) {
      hex += byte.toString(16).padStart(2, "0");
    }
    return hex;
  }
}

let compiled: WebAssembly.Module | null = null;

function md5Module(): WebAssembly.Module {
  compiled ??= new WebAssembly.Module(md5Wasm());
  return compiled;
}

// Opcodes of the few WebAssembly instructions the block function uses.
const OP = {
  block: 0x02,
  loop: 0x03,
  end: 0x0b,
  br: 0x0c,
  brIf: 0x0d,
  localGet: 0x20,
  localSet: 0x21,
  load: 0x28,
  store: 0x36,
  const: 0x41,
  eqz: 0x45,
  add: 0x6a,
  sub: 0x6b,
  and: 0x71,
  or: 0x72,
  xor: 0x73,
  rotl: 0x77,
} as const;
const VOID = 0x40;
const I32 = 0x7f;

/**
 * The module: `blocks(pointer, count)`, which runs the MD5 compression over `count` 64-byte
 * blocks at `pointer` of the imported memory `env.memory`, updating the state at address 0.
 */
function md5Wasm(): Uint8Array<ArrayBuffer> {
  // Locals: 0 pointer, 1 count (parameters); 2-5 a, b, c, d; 6-9 their values at block start;
  // 10-25 the block's 16 message words.
  const [pointer, count] = [0, 1];
  const state = [2, 3, 4, 5];
  const saved = [6, 7, 8, 9];
  const word = (j: number) => 10 + j;
  const code: number[] = [];
  const get = (...locals: number[]) => {
    for (const local of locals) code.push(OP.localGet, local);
  };
  const set = (local: number) => code.push(OP.localSet, local);
  const constant = (value: number) => code.push(OP.const, ...signedLeb(value | 0));
  const not = () => {
    constant(-1);
    code.push(OP.xor);
  };

  state.forEach((local, i) => {
    constant(0);
    code.push(OP.load, 2, ...unsignedLeb(STATE + 4 * i));
    set(local);
  });
  code.push(OP.block, VOID, OP.loop, VOID);
  get(count);
  code.push(OP.eqz, OP.brIf, 1);
  for (let j = 0; j < 16; j++) {
    get(pointer);
    code.push(OP.load, 2, ...unsignedLeb(4 * j));
    set(word(j));
  }
  state.forEach((local, i) => {
    get(local);
    set(saved[i]);
  });
  for (let i = 0; i < 64; i++) {
    const round = i >> 4;
    // The roles rotate each step: a, b, c, d are d, a, b, c of the step before.
    const [a, b, c, d] = [0, 1, 2, 3].map((k) => state[(k - i + 64) % 4]);
    const message = [i, (5 * i + 1) % 16, (3 * i + 5) % 16, (7 * i) % 16][round];
    // a + K[i] + M[g], off the critical path.
    get(a);
    constant(CONSTANTS[i]);
    code.push(OP.add);
    get(word(message));
    code.push(OP.add);
    if (round === 0) { // F = d ^ (b & (c ^ d))
      get(d, b, c, d);
      code.push(OP.xor, OP.and, OP.xor);
    } else if (round === 1) { // G = (b & d) + (c & ~d): the second term does not wait for b
      get(c, d);
      not();
      code.push(OP.and, OP.add);
      get(b, d);
      code.push(OP.and);
    } else if (round === 2) { // H = (c ^ d) ^ b
      get(c, d);
      code.push(OP.xor);
      get(b);
      code.push(OP.xor);
    } else { // I = c ^ (b | ~d)
      get(c, b, d);
      not();
      code.push(OP.or, OP.xor);
    }
    code.push(OP.add);
    constant(SHIFTS[round][i % 4]);
    code.push(OP.rotl);
    get(b);
    code.push(OP.add);
    set(a);
  }
  state.forEach((local, i) => {
    get(local, saved[i]);
    code.push(OP.add);
    set(local);
  });
  get(pointer);
  constant(64);
  code.push(OP.add);
  set(pointer);
  get(count);
  constant(1);
  code.push(OP.sub);
  set(count);
  code.push(OP.br, 0, OP.end, OP.end);
  state.forEach((local, i) => {
    constant(STATE + 4 * i);
    get(local);
    code.push(OP.store, 2, 0);
  });
  code.push(OP.end);

  const body = [1, 24, I32, ...code]; // one run of 24 i32 locals, then the code
  const bytes = [
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00], // "\0asm", version 1
    ...section(1, [1, 0x60, 2, I32, I32, 0]), // type: (i32, i32) -> ()
    // env.memory: shared, at least the header, at most 4 GiB (the owner sizes it).
    ...section(2, [
      1,
      ...name("env"),
      ...name("memory"),
      2,
      0x03,
      ...unsignedLeb(HEADER_BYTES / PAGE),
      ...unsignedLeb(65536),
    ]),
    ...section(3, [1, 0]), // function 0 has type 0
    ...section(7, [1, ...name("blocks"), 0, 0]), // export "blocks", function 0
    ...section(10, [1, ...unsignedLeb(body.length), ...body]), // code
  ];
  return new Uint8Array(bytes);
}

function section(id: number, content: number[]): number[] {
  return [id, ...unsignedLeb(content.length), ...content];
}

function name(text: string): number[] {
  return [text.length, ...new TextEncoder().encode(text)];
}

function unsignedLeb(value: number): number[] {
  const bytes: number[] = [];
  do {
    let byte = value & 0x7f;
    value >>>= 7;
    if (value !== 0) byte |= 0x80;
    bytes.push(byte);
  } while (value !== 0);
  return bytes;
}

function signedLeb(value: number): number[] {
  const bytes: number[] = [];
  while (true) {
    const byte = value & 0x7f;
    value >>= 7;
    const done = (value === 0 && (byte & 0x40) === 0) || (value === -1 && (byte & 0x40) !== 0);
    bytes.push(done ? byte : byte | 0x80);
    if (done) return bytes;
  }
}
