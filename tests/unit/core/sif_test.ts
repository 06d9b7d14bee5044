/**
 * The SIF reader against files written byte by byte (sif.md §5, with its golden sha256 vectors),
 * against siftool (the reference implementation) on files it made, and against the hostile
 * headers and descriptors of sif.md §6.
 */
import assert from "node:assert/strict";
import { InvalidImageError } from "../../../src/errors.ts";
import { ImageFile } from "../../../src/core/image_file.ts";
import { sniffImage } from "../../../src/core/image_format.ts";
import { primaryPartition, readObject, readSif, type SifObject } from "../../../src/core/sif.ts";
import { tempHome } from "../../support/home.ts";
import {
  DataType,
  FINGERPRINT,
  hasSiftool,
  LAUNCH_SCRIPT,
  partitionExtra,
  sha256Hex,
  siftool,
  signatureExtra,
  writeSif,
} from "../../support/images.ts";

const METADATA =
  '{"data":{"attributes":{"labels":{"maintainer":"test"},"deffile":"Bootstrap: scratch"}},"type":"container"}';

async function withFile<T>(bytes: Uint8Array, use: (file: ImageFile) => T | Promise<T>) {
  await using home = await tempHome();
  using file = ImageFile.open(home.file("image.sif", bytes));
  return await use(file);
}

Deno.test("the byte-by-byte writer reproduces sif.md's golden vectors", async () => {
  const golden = writeSif({
    objects: [
      { type: DataType.deffile, data: "Bootstrap: scratch\n" },
      { type: DataType.genericJson, data: METADATA, name: "inspect-metadata.json" },
    ],
  });
  assert.equal(golden.length, 32301);
  assert.equal(
    await sha256Hex(golden),
    "b9437eff27ec170735796b326f217ce0cb6e27dbdf728237f7fedf4a3e5550bd",
  );
  const empty = writeSif({ objects: [] });
  assert.equal(empty.length, 32176);
  assert.match(await sha256Hex(empty), /^1987d604.*a61f815$/);
  const generic = writeSif({
    objects: [{ type: DataType.genericJson, data: "{}", name: "data.json" }],
  });
  assert.equal(generic.length, 32178);
  assert.match(await sha256Hex(generic), /^710a9262.*0fcbbef9$/);
  // The reference dump of slot 0.
  assert.deepEqual(
    [...golden.subarray(4096, 4096 + 33)],
    [
      0x01,
      0x40,
      0,
      0,
      1,
      1,
      0,
      0,
      0,
      1,
      0,
      0,
      0xf0,
      0,
      0,
      0,
      0,
      0xb0,
      0x7d,
      0,
      0,
      0,
      0,
      0,
      0,
      0x13,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
    ],
  );
});

Deno.test("readSif reads the golden file: deterministic header, two objects in slot order", async () => {
  const bytes = writeSif({
    objects: [
      { type: DataType.deffile, data: "Bootstrap: scratch\n" },
      { type: DataType.genericJson, data: METADATA, name: "inspect-metadata.json" },
    ],
  });
  await withFile(bytes, (file) => {
    assert.deepEqual(sniffImage(file), { format: "sif", offset: 0 });
    const sif = readSif(file);
    assert.deepEqual(sif.warnings, []);
    assert.equal(sif.header.version, "01");
    assert.equal(sif.header.arch, null, "arch 00 is unknown");
    assert.equal(sif.header.id, null, "a nil UUID is a deterministic build");
    assert.equal(sif.header.createdAt, null, "Go's zero time is unset, not year 1");
    assert.equal(sif.header.descriptorsFree, 46);
    assert.equal(sif.header.dataSize, 125);
    assert.deepEqual(
      sif.objects.map((o) => [o.id, o.typeName, o.offset, o.size, o.group, o.link, o.name]),
      [
        [1, "Def.FILE", 32176, 19, 1, null, ""],
        [2, "JSON.Generic", 32195, 106, 1, null, "inspect-metadata.json"],
      ],
    );
    const text = new TextDecoder().decode(readObject(file, sif.objects[1], 1024, "json"));
    assert.equal(text, METADATA);
    assert.throws(
      () => readObject(file, sif.objects[1], 100, "the metadata"),
      (error) =>
        error instanceof InvalidImageError && /106 bytes, more than the 100/.test(error.message),
    );
  });
});

Deno.test("every object type and Extra field is decoded; unknown values are named", async () => {
  const extra = (values: number[]) => {
    const bytes = new Uint8Array(8);
    new DataView(bytes.buffer).setInt32(0, values[0], true);
    new DataView(bytes.buffer).setInt32(4, values[1] ?? 0, true);
    return bytes;
  };
  const digest = `sha256:${"ab".repeat(32)}`;
  const bytes = writeSif({
    launchScript: LAUNCH_SCRIPT,
    arch: "04",
    id: Uint8Array.from({ length: 16 }, (_, i) => i + 1),
    time: 1700000000n,
    objects: [
      { type: DataType.partition, data: "fs", extra: partitionExtra(1, 2, "04") },
      {
        type: DataType.signature,
        data: "sig",
        group: 0,
        link: 0xf0000001,
        extra: signatureExtra(1, FINGERPRINT),
      },
      { type: DataType.cryptoMessage, data: "key", link: 1, extra: extra([2, 0x200]) },
      { type: DataType.sbom, data: "{}", extra: extra([4]) },
      { type: DataType.ociBlob, data: "{}", extra: new TextEncoder().encode(`${digest}\0`) },
      { type: DataType.partition, data: "x", extra: partitionExtra(9, 7, "zz") },
      { type: 0x4999, data: "?" },
    ],
  });
  await withFile(bytes, (file) => {
    const sif = readSif(file);
    assert.equal(sif.header.launchScript, "#!/usr/bin/env run-singularity");
    assert.equal(sif.header.arch, "arm64");
    assert.equal(sif.header.id, "01020304-0506-0708-090a-0b0c0d0e0f10");
    assert.equal(sif.header.createdAt, 1700000000);
    const [partition, signature, crypto, sbom, blob, odd, unknown] = sif.objects;
    assert.deepEqual(partition.partition, {
      fsType: 1,
      fs: "Squashfs",
      partType: 2,
      type: "*System",
      arch: "arm64",
      encrypted: false,
    });
    assert.equal(primaryPartition(sif), partition);
    assert.deepEqual(signature.signature, {
      hashType: 1,
      hash: "SHA-256",
      fingerprint: FINGERPRINT,
    });
    assert.equal(signature.group, null);
    assert.deepEqual(signature.link, { group: 1 });
    assert.deepEqual(crypto.link, { object: 1 });
    assert.deepEqual(crypto.cryptoMessage, { format: "PEM", messageType: "RSA-OAEP" });
    assert.deepEqual(sbom.sbom, { format: "spdx-json" });
    assert.equal(blob.digest, digest);
    assert.deepEqual(odd.partition, {
      fsType: 9,
      fs: "unknown(9)",
      partType: 7,
      type: "unknown(7)",
      arch: null,
      encrypted: false,
    });
    assert.equal(unknown.typeName, "unknown (0x4999)");
  });
});

// siftool's list row for one of our objects, to compare with what it prints.
function listRow(object: SifObject): string {
  const known = (name: string) => name.startsWith("unknown") ? "Unknown" : name;
  let type = object.typeName;
  if (object.partition) {
    type += ` (${object.partition.fs}/${object.partition.type}/${object.partition.arch})`;
  } else if (object.signature) type += ` (${object.signature.hash})`;
  else if (object.cryptoMessage) {
    type += ` (${known(object.cryptoMessage.format)}/${known(object.cryptoMessage.messageType)})`;
  } else if (object.sbom) type += ` (${object.sbom.format})`;
  const link = object.link === null
    ? "NONE"
    : "group" in object.link
    ? `${object.link.group}   (G)`
    : String(object.link.object);
  return [
    String(object.id),
    object.group === null ? "NONE" : String(object.group),
    link,
    `${object.offset}-${object.offset + object.size}`,
    type,
  ].join("|");
}

Deno.test({
  name: "what readSif reads of siftool-made files is what siftool list, header and info print",
  ignore: !hasSiftool,
  fn: async () => {
    await using home = await tempHome();
    const sif = home.file("made.sif", new Uint8Array());
    Deno.removeSync(sif);
    const object = home.file("object", "Bootstrap: scratch\n");
    await siftool("new", sif);
    await siftool("add", sif, object, "--datatype", "1");
    await siftool("add", sif, object, "--datatype", "3", "--groupid", "1");
    await siftool("add", sif, object, "--datatype", "6", "--filename", "inspect-metadata.json");
    await siftool("add", sif, object, "--datatype", "7");
    await siftool("add", sif, object, "--datatype", "8");
    await siftool("add", sif, object, "--datatype", "9", "--sbomformat", "cyclonedx-xml");
    for (const fs of ["1", "2", "3", "4"]) {
      await siftool(
        "add",
        sif,
        object,
        "--datatype",
        "4",
        "--partfs",
        fs,
        "--parttype",
        "3",
        "--partarch",
        "11",
      );
    }
    await siftool(
      "add",
      sif,
      object,
      "--datatype",
      "4",
      "--partfs",
      "1",
      "--parttype",
      "2",
      "--partarch",
      "2",
    );
    for (const hash of ["1", "2", "3", "4", "5"]) {
      await siftool(
        "add",
        sif,
        object,
        "--datatype",
        "5",
        "--signhash",
        hash,
        "--signentity",
        FINGERPRINT,
        "--groupid",
        "1",
        "--link",
        String(0xf0000001),
      );
    }
    await siftool(
      "add",
      sif,
      object,
      "--datatype",
      "5",
      "--signhash",
      "1",
      "--signentity",
      FINGERPRINT,
      "--link",
      "11",
    );
    await siftool("del", "4", sif); // a hole in the table
    using file = ImageFile.open(sif);
    const read = readSif(file);
    assert.deepEqual(read.warnings, []);

    const listed = (await siftool("list", sif)).split("\n")
      .filter((line) => /^\d/.test(line))
      .map((line) => line.split("|").map((cell) => cell.trim()).join("|"));
    assert.deepEqual(read.objects.map(listRow), listed);
    assert.equal(
      read.objects.find((o) => o.dataType === DataType.genericJson)?.name,
      "inspect-metadata.json",
    );

    const header = Object.fromEntries(
      (await siftool("header", sif)).split("\n").filter(Boolean).map((line) => {
        const colon = line.indexOf(":");
        return [line.slice(0, colon).trim(), line.slice(colon + 1).trim()];
      }),
    );
    assert.equal(header["Version"], read.header.version);
    assert.equal(header["Primary Architecture"], read.header.arch);
    assert.equal(header["ID"], read.header.id);
    assert.equal(header["Descriptors Free"], String(read.header.descriptorsFree));
    assert.equal(header["Descriptors Total"], String(read.header.descriptorsTotal));
    assert.equal(header["Descriptors Offset"], String(read.header.descriptorsOffset));
    assert.equal(header["Data Offset"], String(read.header.dataOffset));
    const created = new Date(read.header.createdAt! * 1000).toISOString().replace("T", " ")
      .replace(".000Z", " +0000 UTC");
    assert.equal(header["Created At"], created);

    for (const signature of read.objects.filter((o) => o.signature)) {
      const info = await siftool("info", String(signature.id), sif);
      assert.match(info, new RegExp(`Entity:\\s+${signature.signature!.fingerprint}`));
      assert.match(info, new RegExp(`Hash Type:\\s+${signature.signature!.hash}`));
    }
  },
});

Deno.test("hostile headers are one-line InvalidImageErrors, read with two bounded reads", async () => {
  const base = writeSif({ objects: [{ type: DataType.deffile, data: "Bootstrap: scratch\n" }] });
  const cases: [string, (view: DataView, bytes: Uint8Array) => void, RegExp][] = [
    ["version 02", (_, b) => b.set([0x30, 0x32], 42), /SIF version '02'/],
    ["2^40 descriptors", (v) => v.setBigInt64(88, 1n << 40n, true), /descriptor slots/],
    ["a negative total", (v) => v.setBigInt64(88, -1n, true), /descriptors total is out of range/],
    ["table over the header", (v) => v.setBigInt64(96, 64n, true), /overlaps the header/],
    ["table past the end", (v) => v.setBigInt64(96, 1n << 30n, true), /past the end/],
    ["table size too small", (v) => v.setBigInt64(104, 585n, true), /smaller than its slots/],
    ["data offset 2^63-1", (v) => v.setBigInt64(112, (1n << 63n) - 1n, true), /data offset/],
  ];
  for (const [what, mutate, message] of cases) {
    const bytes = base.slice();
    mutate(new DataView(bytes.buffer), bytes);
    await withFile(bytes, (file) => {
      assert.throws(() => readSif(file), (error) => {
        assert.ok(error instanceof InvalidImageError, `${what}: ${error}`);
        assert.match(error.message, message, what);
        assert.ok(!error.message.includes("\n"), `${what}: one line`);
        return true;
      });
    });
  }
  await withFile(base.slice(0, 100), (file) => {
    assert.throws(() => readSif(file), /truncated header/);
  });
});

Deno.test("odd descriptors are skipped or marked with a warning, never trusted", async () => {
  const bytes = writeSif({
    objects: [
      { type: DataType.deffile, data: "one" },
      { type: DataType.deffile, data: "zero id", id: 0 },
      { type: DataType.deffile, data: "duplicate", id: 1 },
      { type: DataType.partition, data: "p1", extra: partitionExtra(1, 2, "02") },
      { type: DataType.partition, data: "p2", extra: partitionExtra(1, 2, "02") },
      { type: DataType.generic, data: "last" },
    ],
  });
  const view = new DataView(bytes.buffer);
  view.setBigInt64(4096 + 5 * 585 + 25, 1000n, true); // the last object runs past the end
  bytes[4096 + 20 * 585 + 4] = 1; // a used slot with ID 0 and garbage offsets
  view.setBigInt64(4096 + 20 * 585 + 17, -5n, true);
  view.setUint32(4096 + 20 * 585 + 5, 77, true);
  await withFile(bytes, (file) => {
    const sif = readSif(file);
    assert.deepEqual(sif.objects.map((o) => o.id), [1, 4, 5, 6]);
    assert.equal(sif.objects[3].truncated, true);
    assert.equal(primaryPartition(sif), null, "two primary partitions: none is the rootfs");
    const warnings = sif.warnings.join("\n");
    assert.match(warnings, /descriptor 2 is in use but has object ID 0/);
    assert.match(warnings, /descriptor 3 repeats object ID 1/);
    assert.match(warnings, /object 6 runs past the end of the file/);
    assert.match(warnings, /descriptor 21: offset is out of range/);
    assert.match(warnings, /more than one primary system partition/);
    assert.match(warnings, /object 6 has less padding than data/);
    assert.throws(() => readObject(file, sif.objects[3], 1 << 20, "the last object"), /truncated/);
  });
  const extended = new Uint8Array(32177);
  extended.set(writeSif({ objects: [] }));
  await withFile(extended, (file) => {
    assert.deepEqual(readSif(file).warnings, [
      "the header says the data ends at byte 32176, the file is 32177 bytes (truncated or extended)",
    ]);
  });
});
