/**
 * Reading an image's metadata the way `apptainer inspect` shows it, from every source of sif.md
 * §3.3 in its order, for SIF, .simg and squashfs files, and what a record keeps of it.
 */
import assert from "node:assert/strict";
import { InvalidImageError, UnsupportedError } from "../../../src/errors.ts";
import { ImageFile } from "../../../src/core/image_file.ts";
import { sniffImage } from "../../../src/core/image_format.ts";
import { inspectImage, readImageFacts } from "../../../src/core/image_inspection.ts";
import { tempHome } from "../../support/home.ts";
import {
  DataType,
  digestExtra,
  hasMksquashfs,
  LAUNCH_SCRIPT,
  makeSimg,
  makeSquashfs,
  partitionExtra,
  sha256Digest,
  signatureExtra,
  singularityTree,
  writeSif,
} from "../../support/images.ts";

const encoder = new TextEncoder();

// A value as JSON has it: the maps read from an image have no prototype.
function plain(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value));
}
const METADATA = JSON.stringify({
  data: {
    attributes: {
      labels: { maintainer: "json", __proto__x: "x" },
      deffile: "Bootstrap: from-json",
      runscript: "#!/bin/sh\necho json",
      environment: { "/.singularity.d/env/90-environment.sh": "export A=1", bad: 5 },
      apps: { tool: { runscript: "run tool", labels: { app: "tool" } }, odd: "not an object" },
    },
  },
  type: "container",
});

// An ELF header of an x86_64 executable, enough for the architecture.
function elfHeader(machine: number): Uint8Array {
  const head = new Uint8Array(64);
  head.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
  new DataView(head.buffer).setUint16(18, machine, true);
  return head;
}

async function inspectBytes(bytes: Uint8Array, name = "image.sif") {
  await using home = await tempHome();
  return await inspectImage(home.file(name, bytes));
}

function ext3(offset: number, incompat = 0x2): Uint8Array {
  const bytes = new Uint8Array(offset + 4096);
  const view = new DataView(bytes.buffer);
  view.setUint16(offset + 1080, 0xef53, true);
  view.setUint32(offset + 1080 + 36, 0x4, true); // has a journal
  view.setUint32(offset + 1080 + 40, incompat, true);
  return bytes;
}

Deno.test("formats are told apart from their first bytes", async () => {
  await using home = await tempHome();
  const launchExt3 = ext3(31);
  launchExt3.set(encoder.encode(LAUNCH_SCRIPT));
  const cases: [string, Uint8Array, string, number][] = [
    ["sif", writeSif({ objects: [] }), "sif", 0],
    ["squashfs", encoder.encode("hsqs" + "\0".repeat(200)), "squashfs", 0],
    ["simg", makeSimg(encoder.encode("hsqs" + "\0".repeat(200))), "simg", 31],
    ["ext3", ext3(0), "ext3", 0],
    ["ext3 behind a launch script", launchExt3, "ext3", 31],
    ["ext4 (extents)", ext3(0, 0x2 | 0x40), "unknown", 0],
    ["text", encoder.encode("hello\n"), "unknown", 0],
    ["empty", new Uint8Array(), "unknown", 0],
    ["a launch script and nothing else", encoder.encode(LAUNCH_SCRIPT), "unknown", 0],
  ];
  for (const [what, bytes, format, offset] of cases) {
    using file = ImageFile.open(home.file(what, bytes));
    assert.deepEqual(sniffImage(file), { format, offset }, what);
  }
});

Deno.test("inspect-metadata.json gives every attribute; the squashfs is never opened", async () => {
  const inspection = await inspectBytes(writeSif({
    arch: "02",
    objects: [
      { type: DataType.deffile, data: "Bootstrap: from-descriptor\n\n" },
      { type: DataType.genericJson, name: "inspect-metadata.json", data: METADATA },
      // Not a squashfs at all: reading it would be an error.
      { type: DataType.partition, data: "garbage".repeat(100), extra: partitionExtra(1, 2, "02") },
    ],
  }));
  assert.equal(inspection.problem, null);
  assert.deepEqual(plain(inspection.attributes), {
    labels: { maintainer: "json", __proto__x: "x" },
    deffile: "Bootstrap: from-descriptor",
    runscript: "#!/bin/sh\necho json",
    environment: { "/.singularity.d/env/90-environment.sh": "export A=1", bad: "5" },
    apps: { tool: { runscript: "run tool", labels: { app: "tool" } } },
  });
  assert.match(inspection.warnings.join("\n"), /no squashfs magic/, "said, but not fatal");
  assert.equal(inspection.arch, "amd64");
  assert.equal(inspection.created, null, "deterministic build: no time");
});

Deno.test("a __proto__ label is a label, and pollutes nothing", async () => {
  const inspection = await inspectBytes(writeSif({
    objects: [{
      type: DataType.genericJson,
      name: "inspect-metadata.json",
      data: '{"data":{"attributes":{"labels":{"__proto__":"x","constructor":"y"}}}}',
    }],
  }));
  const labels = inspection.attributes.labels!;
  assert.deepEqual(Object.keys(labels), ["__proto__", "constructor"]);
  assert.equal(Object.getPrototypeOf(labels), null, "a map without a prototype");
  assert.equal(labels.constructor, "y");
  assert.equal(({} as Record<string, unknown>).x, undefined);
});

Deno.test({
  name: "without inspect-metadata.json the files of the root filesystem are read (sif.md §3.3)",
  ignore: !hasMksquashfs,
  fn: async () => {
    const squashfs = await makeSquashfs(singularityTree());
    const inspection = await inspectBytes(writeSif({
      arch: "02",
      time: 1700000123n,
      id: new Uint8Array(16).fill(0xab),
      objects: [
        { type: DataType.deffile, data: "Bootstrap: descriptor wins\n" },
        { type: DataType.partition, data: squashfs, extra: partitionExtra(1, 2, "02") },
      ],
    }));
    assert.equal(inspection.problem, null, inspection.problem?.message);
    assert.deepEqual(inspection.warnings, []);
    assert.deepEqual(plain(inspection.attributes), {
      labels: { maintainer: "test", "org.label-schema.build-arch": "amd64", version: "1.0" },
      deffile: "Bootstrap: descriptor wins",
      runscript: "#!/bin/sh\n\necho hello",
      startscript: "#!/bin/sh\nexec sleep 100",
      test: "#!/bin/sh\ntrue",
      helpfile: "Says hello.",
      environment: {
        "/.singularity.d/env/10-docker2singularity.sh": "export PATH=/usr/bin:/bin",
        "/.singularity.d/env/90-environment.sh": "#!/bin/sh\nexport GREETING=hello",
      },
      apps: {
        cowsay: {
          labels: { app: "cowsay" },
          runscript: "#!/bin/sh\ncowsay moo",
          helpfile: "Moos.",
          environment: { "/scif/apps/cowsay/scif/env/90-environment.sh": "export COW=1" },
        },
      },
    });
    assert.equal(inspection.squashfs?.offset, 32768);
    assert.equal(inspection.squashfs?.compressor, "gzip");
    assert.equal(inspection.created, 1700000123);
  },
});

Deno.test({
  name: "a Singularity 2.x .simg: metadata from its squashfs, time from mkfs, arch from /bin/sh",
  ignore: !hasMksquashfs,
  fn: async () => {
    const tree = singularityTree();
    delete tree[".singularity.d/labels.json"];
    tree[".singularity.d/labels.json"] = '{"org.label-schema.schema-version": "1.0"}';
    tree["bin/busybox"] = elfHeader(183);
    tree["bin/sh"] = { link: "/bin/busybox" };
    const inspection = await inspectBytes(makeSimg(await makeSquashfs(tree)), "hello.simg");
    assert.equal(inspection.format, "simg");
    assert.equal(inspection.problem, null);
    assert.equal(inspection.squashfs?.offset, 31);
    assert.equal(inspection.arch, "arm64");
    assert.equal(inspection.created, 1700000000);
    assert.equal(inspection.attributes.runscript, "#!/bin/sh\n\necho hello");
    assert.deepEqual(plain(inspection.attributes.labels), {
      "org.label-schema.schema-version": "1.0",
    });
  },
});

Deno.test({
  name: "the Labels object and oci-config.json fill in what the root filesystem lacks",
  ignore: !hasMksquashfs,
  fn: async () => {
    const squashfs = await makeSquashfs({ ".singularity.d/runscript": "run\n" });
    const oci = { Env: ["PATH=/bin", "A=b"], Cmd: ["sh"], Labels: { from: "oci" } };
    const withLabels = await inspectBytes(writeSif({
      objects: [
        { type: DataType.labels, data: '{"from":"labels object","n":3}' },
        { type: DataType.genericJson, name: "oci-config.json", data: JSON.stringify(oci) },
        { type: DataType.partition, data: squashfs, extra: partitionExtra(1, 2, "02") },
      ],
    }));
    assert.deepEqual(plain(withLabels.attributes.labels), { from: "labels object", n: "3" });
    assert.deepEqual(plain(withLabels.attributes.environment), {
      "oci-config.json": "PATH=/bin\nA=b",
    });
    assert.equal(withLabels.attributes.runscript, "run");
    assert.deepEqual(plain(withLabels.oci), { env: oci.Env, cmd: ["sh"], labels: { from: "oci" } });
    const ociOnly = await inspectBytes(writeSif({
      objects: [{ type: DataType.genericJson, name: "oci-config.json", data: JSON.stringify(oci) }],
    }));
    assert.deepEqual(plain(ociOnly.attributes.labels), { from: "oci" });
  },
});

Deno.test("an OCI-SIF's labels, environment, architecture and date come from its OCI config", async () => {
  const config = JSON.stringify({
    architecture: "arm64",
    created: "2024-02-03T04:05:06Z",
    config: { Env: ["PATH=/usr/bin"], Labels: { "org.opencontainers.image.title": "t" } },
  });
  const configDigest = await sha256Digest(config);
  const manifest = JSON.stringify({ config: { digest: configDigest } });
  const manifestDigest = await sha256Digest(manifest);
  const index = JSON.stringify({ manifests: [{ digest: manifestDigest }] });
  const inspection = await inspectBytes(writeSif({
    objects: [
      { type: DataType.ociRootIndex, data: index, extra: digestExtra(await sha256Digest(index)) },
      { type: DataType.ociBlob, data: manifest, extra: digestExtra(manifestDigest) },
      { type: DataType.ociBlob, data: config, extra: digestExtra(configDigest) },
    ],
  }));
  assert.equal(inspection.problem, null);
  assert.deepEqual(plain(inspection.attributes.labels), { "org.opencontainers.image.title": "t" });
  assert.equal(inspection.arch, "arm64");
  assert.equal(inspection.created, Date.parse("2024-02-03T04:05:06Z") / 1000);
  assert.deepEqual(plain(inspection.attributes.environment), {
    "oci-config.json": "PATH=/usr/bin",
  });
});

Deno.test("an encrypted root filesystem is said to be encrypted; its JSON metadata still shows", async () => {
  const encrypted = (objects: Parameters<typeof writeSif>[0]["objects"]) =>
    inspectBytes(writeSif({
      objects: [
        ...objects,
        { type: DataType.partition, data: "ciphertext", extra: partitionExtra(5, 2, "02") },
        { type: DataType.cryptoMessage, data: "key", link: 0 },
      ],
    }));
  const bare = await encrypted([]);
  assert.ok(bare.problem instanceof UnsupportedError);
  assert.match(bare.problem.message, /root filesystem is encrypted \(Encrypted squashfs\)/);
  assert.equal(bare.sif?.objects[0].partition?.encrypted, true);
  const described = await encrypted([
    { type: DataType.genericJson, name: "inspect-metadata.json", data: METADATA },
  ]);
  assert.equal(described.problem, null);
  assert.equal(described.attributes.runscript, "#!/bin/sh\necho json");
  assert.match(described.warnings.join("\n"), /encrypted/);
});

Deno.test({
  name: "an xz root filesystem: the header and superblock are read, the files are named unreadable",
  ignore: !hasMksquashfs,
  fn: async () => {
    let squashfs: Uint8Array;
    try {
      squashfs = await makeSquashfs(singularityTree(), { compressor: "xz" });
    } catch {
      return; // mksquashfs without xz
    }
    const bytes = writeSif({
      arch: "02",
      objects: [{ type: DataType.partition, data: squashfs, extra: partitionExtra(1, 2, "02") }],
    });
    const inspection = await inspectBytes(bytes);
    assert.ok(inspection.problem instanceof UnsupportedError);
    assert.match(inspection.problem.message, /compressed with xz/);
    assert.equal(inspection.squashfs?.compressor, "xz");
    assert.equal(inspection.arch, "amd64");
    await using home = await tempHome();
    const facts = await readImageFacts(home.file("x.sif", bytes), "x.sif");
    assert.equal(facts.facts.format, "sif");
    assert.equal(facts.facts.arch, "amd64");
    assert.match(facts.warnings[0], /^x\.sif: its squashfs filesystem is compressed with xz/);
  },
});

Deno.test("signatures are classified by their first bytes and never verified", async () => {
  const fingerprint = "0123456789ABCDEF0123456789ABCDEF01234567";
  const signature = (data: string, hash: number) => ({
    type: DataType.signature,
    data,
    group: 0,
    link: 0xf0000001,
    extra: signatureExtra(hash, fingerprint),
  });
  const inspection = await inspectBytes(writeSif({
    objects: [
      signature("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n{}", 1),
      signature("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA384\n\nSIFHASH:\n", 2),
      signature('{"payloadType":"application/vnd.sylabs.sif-metadata+json"}', 1),
      signature("garbage", 3),
    ],
  }));
  assert.deepEqual(
    inspection.sif?.objects.map((o) => [o.signature?.format, o.signature?.hash]),
    [["pgp", "SHA-256"], ["pgp-legacy", "SHA-384"], ["dsse", "SHA-256"], ["unknown", "SHA-512"]],
  );
});

Deno.test({
  name: "a huge sparse image costs what a small one does: the partition is never read whole",
  ignore: !hasMksquashfs,
  fn: async () => {
    await using home = await tempHome();
    const squashfs = await makeSquashfs(singularityTree());
    const bytes = writeSif({
      objects: [{ type: DataType.partition, data: squashfs, extra: partitionExtra(1, 2, "02") }],
    });
    const path = home.file("big.sif", bytes);
    // The partition grows to 4 GiB of holes: more than the 256 MiB a reading may cost.
    const size = 4 * 1024 ** 3;
    const view = new DataView(bytes.buffer);
    view.setBigInt64(4096 + 25, BigInt(size - 32768), true);
    view.setBigInt64(4096 + 33, BigInt(size - 32176), true);
    view.setBigInt64(120, BigInt(size - 32176), true);
    using file = Deno.openSync(path, { write: true });
    file.writeSync(bytes.subarray(0, 4096 + 585));
    file.truncateSync(size);
    const inspection = await inspectImage(path);
    assert.equal(inspection.problem, null, inspection.problem?.message);
    assert.deepEqual(inspection.warnings, []);
    assert.equal(inspection.attributes.labels?.maintainer, "test");
    assert.equal(inspection.size, size);
  },
});

Deno.test("a record keeps format, arch, SIF id, creation time and labels, within a size cap", async () => {
  await using home = await tempHome();
  const labels = { big: "x".repeat(70_000) };
  const json = (value: unknown) =>
    JSON.stringify({ data: { attributes: { labels: value } }, type: "container" });
  const id = new Uint8Array(16).fill(0x11);
  const made = (value: unknown) =>
    writeSif({
      arch: "11",
      id,
      time: 1600000000n,
      objects: [{ type: DataType.genericJson, name: "inspect-metadata.json", data: json(value) }],
    });
  const small = await readImageFacts(home.file("a.sif", made({ a: "b" })), "a.sif");
  assert.deepEqual(plain(small), {
    facts: {
      format: "sif",
      arch: "s390x",
      sif_id: "11111111-1111-1111-1111-111111111111",
      created: "2020-09-13T12:26:40Z",
      labels: { a: "b" },
    },
    warnings: [],
  });
  const huge = await readImageFacts(home.file("b.sif", made(labels)), "b.sif");
  assert.deepEqual(plain(huge.facts.labels), {});
  assert.match(huge.warnings[0], /labels are larger than 65536 bytes; none were recorded/);
  const text = await readImageFacts(home.file("c.txt", "hello\n"), "c.txt");
  assert.equal(text.facts.format, "unknown");
  assert.deepEqual(text.warnings, [
    "c.txt is not a SIF, Singularity 2.x (.simg, ext3 .img) or squashfs image",
  ]);
  const gone = await readImageFacts(home.path + "/missing", "missing.sif");
  assert.equal(gone.facts.format, "unknown");
  assert.match(gone.warnings[0], /cannot read missing\.sif/);
  const damaged = made({ a: "b" });
  damaged[42] = 0x39;
  const bad = await readImageFacts(home.file("d.sif", damaged), "d.sif");
  assert.equal(bad.facts.format, "sif");
  assert.match(bad.warnings[0], /d\.sif has SIF version '91'/);
});

Deno.test("damage found while reading the root filesystem is the problem, once, in one line", async () => {
  const bytes = writeSif({
    objects: [{
      type: DataType.partition,
      data: encoder.encode("hsqs" + "\0".repeat(200)),
      extra: partitionExtra(1, 2, "02"),
    }],
  });
  const inspection = await inspectBytes(bytes);
  assert.ok(inspection.problem instanceof InvalidImageError);
  assert.ok(!inspection.problem.message.includes("\n"));
});
