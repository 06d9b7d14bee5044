/**
 * The squashfs reader against filesystems made by mksquashfs: every file reads back as it was put
 * in (fragments, many blocks, sparse, uncompressed, hard links, big directories), links are
 * followed inside the image only and loops are refused, and other compressors are named.
 */
import assert from "node:assert/strict";
import { InvalidImageError, UnsupportedError } from "../../../src/errors.ts";
import { ImageFile } from "../../../src/core/image_file.ts";
import { type FileRead, readSuperblock, Squashfs } from "../../../src/core/squashfs.ts";
import { tempHome } from "../../support/home.ts";
import { hasMksquashfs, makeSquashfs, type TreeEntry } from "../../support/images.ts";

function random(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let state = seed;
  for (let i = 0; i < length; i++) {
    state = (state * 1103515245 + 12345) >>> 0;
    bytes[i] = state >>> 24;
  }
  return bytes;
}

async function withSquashfs<T>(
  tree: Record<string, TreeEntry>,
  options: Parameters<typeof makeSquashfs>[1],
  use: (fs: Squashfs, file: ImageFile) => T | Promise<T>,
): Promise<T> {
  await using home = await tempHome();
  const path = home.file("image.sqfs", await makeSquashfs(tree, options));
  using file = ImageFile.open(path);
  return await use(new Squashfs(file, readSuperblock(file, 0, file.size)), file);
}

function bytesOf(read: FileRead): Uint8Array {
  assert.ok("bytes" in read, `expected a file, got ${JSON.stringify(read)}`);
  return read.bytes;
}

const big = random(300_000, 1);
const exact = random(3 * 4096, 2);
const tree: Record<string, TreeEntry> = {
  "small.txt": "hello\n",
  "empty": "",
  "big.bin": big,
  "exact.bin": exact,
  "sparse.bin": { sparse: 64 * 1024 },
  "hard.bin": { hardlink: "big.bin" },
  "dir with spaces/ünïcode ✓.txt": "unicode\n",
  "deep/a/b/c/d/e/f.txt": "deep\n",
};
for (let i = 0; i < 700; i++) tree[`many/file-${String(i).padStart(4, "0")}`] = `${i}\n`;

for (
  const [label, options] of [
    ["gzip, 4 KiB blocks", { blockSize: 4096 }],
    ["no fragments", { blockSize: 4096, extra: ["-no-fragments"] }],
    ["always fragments", { blockSize: 4096, extra: ["-always-use-fragments"] }],
    ["nothing compressed", { blockSize: 4096, extra: ["-noI", "-noD", "-noF", "-noId"] }],
    ["128 KiB blocks", {}],
  ] as const
) {
  Deno.test({
    name: `every file reads back as it was put in (${label})`,
    ignore: !hasMksquashfs,
    fn: () =>
      withSquashfs(tree, options, async (fs) => {
        const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
        assert.equal(text(bytesOf(await fs.readFile("/small.txt", 1 << 20))), "hello\n");
        assert.equal(bytesOf(await fs.readFile("/empty", 1 << 20)).length, 0);
        assert.deepEqual(bytesOf(await fs.readFile("/big.bin", 1 << 20)), big);
        assert.deepEqual(bytesOf(await fs.readFile("hard.bin", 1 << 20)), big);
        assert.deepEqual(bytesOf(await fs.readFile("/exact.bin", 1 << 20)), exact);
        assert.deepEqual(bytesOf(await fs.readFile("/sparse.bin", 1 << 20)), new Uint8Array(65536));
        assert.equal(
          text(bytesOf(await fs.readFile("/dir with spaces/ünïcode ✓.txt", 100))),
          "unicode\n",
        );
        assert.equal(text(bytesOf(await fs.readFile("/deep/a/b/c/d/e/f.txt", 100))), "deep\n");
        const many = await fs.list("/many");
        assert.equal(many?.length, 700);
        assert.equal(text(bytesOf(await fs.readFile("/many/file-0699", 100))), "699\n");
        assert.deepEqual(await fs.readHead("/big.bin", 10), big.subarray(0, 10));
        assert.deepEqual(await fs.readFile("/nothing", 100), { missing: "absent" });
        assert.deepEqual(await fs.readFile("/many", 100), { missing: "not a file" });
        assert.deepEqual(await fs.readFile("/small.txt/x", 100), { missing: "absent" });
        assert.equal(await fs.list("/small.txt"), null);
      }),
  });
}

Deno.test({
  name: "links are followed inside the image only; a loop is an error, a dangling link is absent",
  ignore: !hasMksquashfs,
  fn: () =>
    withSquashfs(
      {
        "etc/real": "inside\n",
        "bin/busybox": "busybox\n",
        "bin/sh": { link: "busybox" },
        "usr/bin": { link: "../bin" },
        "abs": { link: "/etc/real" },
        "escape": { link: "../../../../etc/real" },
        "host": { link: "/etc/hostname" },
        "chain1": { link: "chain2" },
        "chain2": { link: "abs" },
        "loop1": { link: "loop2" },
        "loop2": { link: "loop1" },
        "self": { link: "self" },
        "dangling": { link: "nowhere" },
        "linkdir": { link: "etc" },
      },
      {},
      async (fs) => {
        const text = async (path: string) =>
          new TextDecoder().decode(bytesOf(await fs.readFile(path, 100)));
        assert.equal(await text("/usr/bin/sh"), "busybox\n");
        assert.equal(await text("/abs"), "inside\n");
        assert.equal(await text("/escape"), "inside\n", "'..' stops at the image's root");
        assert.equal(await text("/chain1"), "inside\n");
        assert.equal(await text("/linkdir/real"), "inside\n");
        assert.equal(await text("/linkdir/../linkdir/real"), "inside\n");
        assert.deepEqual(
          await fs.readFile("/host", 100),
          { missing: "absent" },
          "never the host's",
        );
        assert.deepEqual(await fs.readFile("/dangling", 100), { missing: "absent" });
        assert.deepEqual(await fs.list("/linkdir"), ["real"]);
        for (const loop of ["/loop1", "/self", "/loop1/x"]) {
          assert.throws(
            () => fs.readFile(loop, 100),
            (error) =>
              error instanceof InvalidImageError && /loop of symbolic links/.test(error.message) &&
              !error.message.includes("\n"),
          );
        }
      },
    ),
});

Deno.test({
  name: "a file larger than the cap is refused before any of it is read",
  ignore: !hasMksquashfs,
  fn: () =>
    withSquashfs({ "big.bin": random(200_000, 3) }, {}, (fs, file) => {
      const before = file.bytesRead;
      assert.throws(
        () => fs.readFile("/big.bin", 100_000),
        /\/big\.bin in the image is 200000 bytes, more than the 100000 it reads/,
      );
      assert.ok(file.bytesRead - before < 16_384, "only metadata was read");
    }),
});

for (const compressor of ["xz", "lzo", "zstd", "lz4"]) {
  Deno.test({
    name: `a squashfs compressed with ${compressor} is named in a clear error`,
    ignore: !hasMksquashfs,
    fn: async () => {
      let image: Uint8Array;
      try {
        image = await makeSquashfs({ "a.txt": "a\n" }, { compressor });
      } catch {
        return; // this mksquashfs was built without it
      }
      await using home = await tempHome();
      using file = ImageFile.open(home.file("image.sqfs", image));
      const superblock = readSuperblock(file, 0, file.size);
      assert.equal(superblock.compressor, compressor);
      assert.throws(
        () => new Squashfs(file, superblock),
        (error) =>
          error instanceof UnsupportedError &&
          error.message.includes(`compressed with ${compressor}; sregistry reads only gzip`),
      );
    },
  });
}

Deno.test({
  name: "a superblock that claims more than its partition, or bad tables, is refused",
  ignore: !hasMksquashfs,
  fn: async () => {
    const image = await makeSquashfs({ "a.txt": "a\n" });
    await using home = await tempHome();
    const cases: [string, (view: DataView) => void, RegExp][] = [
      ["magic", (v) => v.setUint32(0, 0, true), /no squashfs magic/],
      ["version 3", (v) => v.setUint16(28, 3, true), /squashfs 3\.0 filesystem/],
      ["compressor 9", (v) => v.setUint16(20, 9, true), /unknown compressor id 9/],
      ["block size", (v) => v.setUint32(12, 12345, true), /block size 12345/],
      ["length", (v) => v.setBigUint64(40, 1n << 40n, true), /more than the/],
      [
        "inode table",
        (v) => v.setBigUint64(64, 1n << 60n, true),
        /inode table position is out of range/,
      ],
      ["table order", (v) => v.setBigUint64(64, 1n << 20n, true), /out of order|past its end/],
    ];
    for (const [what, mutate, message] of cases) {
      const bytes = image.slice();
      mutate(new DataView(bytes.buffer));
      using file = ImageFile.open(home.file(`${what}.sqfs`, bytes));
      assert.throws(() => readSuperblock(file, 0, file.size), message, what);
    }
    using file = ImageFile.open(home.file("ok.sqfs", image));
    assert.throws(() => readSuperblock(file, 0, 200), /more than the 200 it has/);
  },
});
