/**
 * Fuzzing the image reader: thousands of mutated SIF, .simg and squashfs fixtures (flipped bytes,
 * hostile integers in the header, descriptors and tables, truncations). Each must end in a result
 * or a typed one-line error, with memory bounded. Files that once broke the reader are kept in
 * tests/fixtures/image_regressions/ and replayed first; a new failure is saved there.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { SregistryError } from "../../../src/errors.ts";
import { inspectImage } from "../../../src/core/image_inspection.ts";
import { ROOT } from "../../support/cli.ts";
import { tempHome } from "../../support/home.ts";
import {
  DataType,
  hasMksquashfs,
  makeSimg,
  makeSquashfs,
  partitionExtra,
  signatureExtra,
  singularityTree,
  writeSif,
} from "../../support/images.ts";

const REGRESSIONS = join(ROOT, "tests", "fixtures", "image_regressions");
/** Mutated cases per fixture. */
const CASES = 800;
/** The resident set may not grow past this while fuzzing (decompression bombs, huge tables). */
const MAX_RSS = 1024 * 1024 * 1024;

// A small deterministic generator, so that a failure can be replayed from its seed.
function generator(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 0x100000000;
  };
}

const INTERESTING = [0n, 1n, -1n, 0x7fffffffn, 0xffffffffn, 1n << 31n, 1n << 40n, (1n << 63n) - 1n];

// One mutation of `base`: bytes flipped, an integer field set to a hostile value, or a cut.
function mutate(base: Uint8Array, hotspots: number[], random: () => number): Uint8Array {
  const pick = (n: number) => Math.floor(random() * n);
  const near = () => {
    const spot = hotspots[pick(hotspots.length)];
    return Math.min(base.length - 1, Math.max(0, spot + pick(256) - 32));
  };
  const kind = pick(10);
  if (kind === 0) return base.slice(0, pick(base.length));
  const bytes = base.slice();
  const view = new DataView(bytes.buffer);
  const edits = 1 + pick(4);
  for (let i = 0; i < edits; i++) {
    const at = random() < 0.8 ? near() : pick(bytes.length);
    if (kind <= 4) {
      bytes[at] ^= 1 << pick(8);
    } else if (kind <= 7 && at + 8 <= bytes.length) {
      view.setBigInt64(at, BigInt.asIntN(64, INTERESTING[pick(INTERESTING.length)]), true);
    } else if (at + 4 <= bytes.length) {
      view.setUint32(at, Math.floor(random() * 0x100000000), true);
    } else {
      bytes[at] = pick(256);
    }
  }
  return bytes;
}

// The squashfs superblock's and tables' positions, where mutations do the most damage.
function squashfsHotspots(image: Uint8Array, offset: number): number[] {
  const view = new DataView(image.buffer, image.byteOffset);
  const spots = [offset, offset + 20, offset + 32, offset + 64];
  for (let field = 48; field <= 88; field += 8) {
    const start = Number(view.getBigUint64(offset + field, true));
    if (start < image.length) spots.push(offset + start, offset + start + 16, offset + start + 64);
  }
  return spots;
}

// What every inspection must end in: a result, or a typed one-line error.
async function check(path: string, label: string): Promise<string | null> {
  try {
    const inspection = await inspectImage(path);
    for (const line of [...inspection.warnings, inspection.problem?.message ?? ""]) {
      if (line.includes("\n")) return `${label}: a message of more than one line: ${line}`;
    }
    if (inspection.problem && !(inspection.problem instanceof SregistryError)) {
      return `${label}: an untyped problem: ${inspection.problem}`;
    }
    JSON.stringify(inspection.attributes);
    return null;
  } catch (error) {
    return `${label}: threw ${error instanceof Error ? error.stack : error}`;
  }
}

async function fixtures(): Promise<[string, Uint8Array, number[]][]> {
  const golden = writeSif({
    objects: [
      { type: DataType.deffile, data: "Bootstrap: scratch\n" },
      {
        type: DataType.genericJson,
        name: "inspect-metadata.json",
        data: '{"data":{"attributes":{"labels":{"a":"b"},"apps":{"x":{"runscript":"r"}}}}}',
      },
      {
        type: DataType.signature,
        data: "-----BEGIN PGP SIGNED MESSAGE-----\n",
        group: 0,
        link: 0xf0000001,
        extra: signatureExtra(1, "433FE984155206BD962725E20E8713472A879943"),
      },
    ],
  });
  const descriptors = [0, 32, 42, 80, 88, 96, 104, 112, 120, 4096, 4096 + 585, 4096 + 1170];
  const found: [string, Uint8Array, number[]][] = [["sif objects", golden, descriptors]];
  if (!hasMksquashfs) return found;
  const tree = singularityTree();
  tree["bin/sh"] = { link: "/bin/busybox" };
  tree["bin/busybox"] = new Uint8Array(20_000).fill(7);
  tree["loop"] = { link: "loop" };
  const gzip = await makeSquashfs(tree, { blockSize: 4096 });
  const plain = await makeSquashfs(tree, {
    blockSize: 4096,
    extra: ["-noI", "-noD", "-noF", "-noId"],
  });
  const sif = writeSif({
    arch: "02",
    objects: [
      { type: DataType.deffile, data: "Bootstrap: docker\n" },
      { type: DataType.partition, data: gzip, extra: partitionExtra(1, 2, "02") },
    ],
  });
  found.push(
    ["sif + gzip squashfs", sif, [...descriptors, ...squashfsHotspots(sif, 32768)]],
    ["simg", makeSimg(gzip), squashfsHotspots(makeSimg(gzip), 31)],
    ["uncompressed squashfs", plain, squashfsHotspots(plain, 0)],
  );
  return found;
}

Deno.test("the reader survives the images that once broke it", async () => {
  let replayed = 0;
  for (const entry of Deno.readDirSync(REGRESSIONS)) {
    if (!entry.isFile || entry.name.startsWith(".")) continue;
    assert.equal(await check(join(REGRESSIONS, entry.name), entry.name), null);
    replayed++;
  }
  assert.ok(replayed > 0, "the regression folder holds the failures found so far");
});

Deno.test("thousands of mutated images end in a result or a typed one-line error", async () => {
  await using home = await tempHome();
  const path = join(home.path, "case.img");
  let cases = 0;
  let peakRss = 0;
  const failures: string[] = [];
  for (const [name, base, hotspots] of await fixtures()) {
    assert.equal(await check(home.file(`${name}.img`, base), name), null, "the fixture itself");
    for (let i = 0; i < CASES; i++) {
      const seed = 1 + i * 7919 + name.length;
      const bytes = mutate(base, hotspots, generator(seed));
      Deno.writeFileSync(path, bytes);
      const failure = await check(path, `${name} #${i} (seed ${seed})`);
      if (failure !== null) {
        failures.push(failure);
        const saved = join(REGRESSIONS, `${name.replace(/\W+/g, "-")}-${seed}.img`);
        Deno.writeFileSync(saved, bytes);
      }
      cases++;
      if (i % 100 === 0) peakRss = Math.max(peakRss, Deno.memoryUsage().rss);
    }
  }
  assert.deepEqual(failures.slice(0, 5), [], `${failures.length} of ${cases} cases failed`);
  assert.ok(cases >= (hasMksquashfs ? 3000 : 800), `${cases} cases ran`);
  assert.ok(peakRss < MAX_RSS, `peak RSS ${Math.round(peakRss / 1e6)} MB`);
});
