/**
 * `sregistry inspect` on real images, run as a user runs it: what it reads from SIF, .simg and
 * squashfs files (no apptainer, nothing run), apptainer's selectors and layouts, a file given by
 * its path, and clear one-line errors for what it cannot read.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { sregistry, sregistryInProcess } from "../support/cli.ts";
import { type TempHome, tempHome } from "../support/home.ts";
import {
  DataType,
  FINGERPRINT,
  hasMksquashfs,
  hasSiftool,
  LAUNCH_SCRIPT,
  makeSimg,
  makeSquashfs,
  partitionExtra,
  siftool,
  singularityTree,
  writeSif,
} from "../support/images.ts";
import { assertFailure, assertUnchanged, exists, snapshot } from "../support/state.ts";
import { spawnSregistry } from "../support/pulls.ts";

const ignore = !hasMksquashfs;

// A SIF as an old Singularity (3.0-3.6) builds it: a definition file and a squashfs holding the
// /.singularity.d tree, no inspect-metadata.json, so everything comes from the squashfs.
async function buildSif(home: TempHome, name = "image.sif", compressor = "gzip"): Promise<string> {
  const squashfs = await makeSquashfs(singularityTree(), { compressor });
  return home.file(
    name,
    writeSif({
      launchScript: LAUNCH_SCRIPT,
      arch: "02",
      id: new Uint8Array(16).fill(0x5a),
      time: 1700000000n,
      objects: [
        { type: DataType.deffile, data: "Bootstrap: docker\nFrom: busybox\n" },
        { type: DataType.partition, data: squashfs, extra: partitionExtra(1, 2, "02") },
      ],
    }),
  );
}

Deno.test({
  name: "inspect ./file.sif prints format, header, objects, squashfs and metadata as JSON",
  ignore,
  fn: async () => {
    await using home = await tempHome();
    const path = await buildSif(home);
    const result = await sregistry(["inspect", "./image.sif"], { env: home.env, cwd: home.path });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, "");
    const shown = JSON.parse(result.stdout);
    assert.equal(shown.path, path);
    assert.equal(shown.format, "sif");
    assert.equal(shown.arch, "amd64");
    assert.equal(shown.created, "2023-11-14T22:13:20Z");
    assert.equal(shown.sif.id, "5a5a5a5a-5a5a-5a5a-5a5a-5a5a5a5a5a5a");
    assert.equal(shown.sif.launch_script, "#!/usr/bin/env run-singularity");
    assert.deepEqual(
      shown.sif.objects.map((o: { id: number; type: string }) => [o.id, o.type]),
      [[1, "Def.FILE"], [2, "FS"]],
    );
    assert.deepEqual(shown.sif.objects[1].partition, {
      fs: "Squashfs",
      fs_type: 1,
      type: "*System",
      part_type: 2,
      arch: "amd64",
      encrypted: false,
    });
    assert.equal(shown.squashfs.compressor, "gzip");
    assert.equal(shown.squashfs.offset, 32768);
    assert.equal(shown.attributes.deffile, "Bootstrap: docker\nFrom: busybox");
    assert.equal(shown.attributes.labels.maintainer, "test");
    assert.deepEqual(Object.keys(shown.attributes.apps), ["cowsay"]);
    assert.deepEqual(shown.warnings, []);
    assert.equal(shown.error, null);
    assert.equal(exists(home.database), false, "a path needs no database");
  },
});

Deno.test({
  name: "apptainer's selectors print apptainer's text layout, in apptainer's order",
  ignore,
  fn: async () => {
    await using home = await tempHome();
    await buildSif(home);
    const inspect = async (...flags: string[]) => {
      const result = await sregistry(["inspect", ...flags, "./image.sif"], {
        env: home.env,
        cwd: home.path,
      });
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stderr, "");
      return result.stdout;
    };
    const labels = "maintainer: test\norg.label-schema.build-arch: amd64\nversion: 1.0\n";
    assert.equal(await inspect("--labels"), labels);
    assert.equal(await inspect("-l"), labels);
    assert.equal(await inspect("--deffile"), "Bootstrap: docker\nFrom: busybox\n");
    assert.equal(await inspect("-r"), "#!/bin/sh\n\necho hello\n");
    assert.equal(await inspect("--startscript"), "#!/bin/sh\nexec sleep 100\n");
    assert.equal(await inspect("--test"), "#!/bin/sh\ntrue\n");
    assert.equal(await inspect("-H"), "Says hello.\n");
    const environment = "=== /.singularity.d/env/10-docker2singularity.sh ===\n" +
      "export PATH=/usr/bin:/bin\n\n" +
      "=== /.singularity.d/env/90-environment.sh ===\n#!/bin/sh\nexport GREETING=hello\n\n";
    assert.equal(await inspect("-e"), environment);
    assert.equal(
      await inspect("-e", "-l", "-H", "-t", "-s", "-r", "-d"),
      "Bootstrap: docker\nFrom: busybox\n#!/bin/sh\n\necho hello\n#!/bin/sh\nexec sleep 100\n" +
        "#!/bin/sh\ntrue\nSays hello.\n" + environment + labels,
    );
    assert.equal(await inspect("--list-apps"), "cowsay\n");
    assert.equal(await inspect("--app", "cowsay"), "app: cowsay\n", "an app's labels by default");
    assert.equal(await inspect("--app", "cowsay", "-r", "-H"), "#!/bin/sh\ncowsay moo\nMoos.\n");
    assert.equal(
      await inspect("--app", "cowsay", "-e"),
      "=== /scif/apps/cowsay/scif/env/90-environment.sh ===\nexport COW=1\n\n",
    );
    assert.equal(
      await inspect("--json", "--labels"),
      '{\n\t"data": {\n\t\t"attributes": {\n\t\t\t"labels": {\n' +
        '\t\t\t\t"maintainer": "test",\n\t\t\t\t"org.label-schema.build-arch": "amd64",\n' +
        '\t\t\t\t"version": "1.0"\n\t\t\t}\n\t\t}\n\t},\n\t"type": "container"\n}\n',
    );
    const all = JSON.parse(await inspect("--all"));
    assert.equal(all.type, "container");
    assert.deepEqual(Object.keys(all.data.attributes), [
      "apps",
      "environment",
      "labels",
      "runscript",
      "test",
      "helpfile",
      "deffile",
      "startscript",
    ], "Go's field order");
    assert.deepEqual(JSON.parse(await inspect("-j", "--app", "cowsay", "-r")).data.attributes, {
      apps: { cowsay: { runscript: "#!/bin/sh\ncowsay moo" } },
    });
  },
});

Deno.test({
  name: "a name is a record, ./path a file; a bare word that is both is refused, not guessed",
  ignore,
  fn: async () => {
    await using home = await tempHome();
    const env = home.env;
    const cwd = home.path;
    await buildSif(home, "lolcow.sif");
    const added = await sregistry(["add", "--copy", "lolcow.sif", "--name", "library/lolcow"], {
      env,
      cwd,
    });
    assert.equal(added.code, 0, added.stderr);
    const before = await snapshot(home);
    const both = await sregistry(["inspect", "lolcow.sif"], { env, cwd });
    assertFailure(
      both,
      2,
      /'lolcow\.sif' is both a file here and the record library\/lolcow:latest/,
    );
    assert.match(both.stderr, /write \.\/lolcow\.sif for the file, or library\/lolcow:latest@/);
    assertUnchanged(before, await snapshot(home));

    const file = JSON.parse((await sregistry(["inspect", "./lolcow.sif"], { env, cwd })).stdout);
    assert.equal(file.path, join(home.path, "lolcow.sif"));
    assert.equal(file.id, undefined, "no record");
    const record = JSON.parse(
      (await sregistry(["inspect", "library/lolcow"], { env, cwd })).stdout,
    );
    assert.equal(record.uri.split("@")[0], "library/lolcow:latest");
    assert.equal(record.inspection.format, "sif");
    assert.equal(record.inspection.attributes.labels.maintainer, "test");
    assert.equal(record.metrics.arch, "amd64");

    Deno.copyFileSync(join(home.path, "lolcow.sif"), join(home.path, "other.sif"));
    const onlyFile = await sregistry(["inspect", "--labels", "other.sif"], { env, cwd });
    assert.equal(onlyFile.code, 0, onlyFile.stderr);
    assert.match(onlyFile.stdout, /^maintainer: test$/m, "no record of that name: the file");
    const neither = await sregistry(["inspect", "nothing.sif"], { env, cwd });
    assertFailure(neither, 1, /no record of library\/nothing:latest in the database/);
    const absolute = await sregistry(["inspect", "-l", join(home.path, "other.sif")], { env });
    assert.equal(absolute.stdout, onlyFile.stdout);
  },
});

Deno.test({
  name: "what cannot be read is one clear line: another compressor, no image, ext3, a folder",
  ignore,
  fn: async () => {
    await using home = await tempHome();
    const env = home.env;
    const cwd = home.path;
    let xz = true;
    try {
      await buildSif(home, "xz.sif", "xz");
    } catch {
      xz = false; // mksquashfs without xz
    }
    if (xz) {
      const labels = await sregistry(["inspect", "--labels", "./xz.sif"], { env, cwd });
      assertFailure(
        labels,
        1,
        /its squashfs filesystem is compressed with xz; sregistry reads only gzip/,
      );
      const full = await sregistry(["inspect", "./xz.sif"], { env, cwd });
      assert.equal(full.code, 0, "the header is still shown");
      assert.match(full.stderr, /^\[warning\] .*compressed with xz/);
      const shown = JSON.parse(full.stdout);
      assert.equal(shown.squashfs.compressor, "xz");
      assert.match(shown.error, /compressed with xz/);
    }
    home.file("notes.txt", "hello\n");
    for (const flags of [[], ["--labels"]]) {
      const text = await sregistry(["inspect", ...flags, "./notes.txt"], { env, cwd });
      assertFailure(text, 1, /notes\.txt is not a SIF, Singularity 2\.x \(\.simg, ext3 \.img\)/);
    }
    const ext3 = new Uint8Array(8192);
    new DataView(ext3.buffer).setUint16(1080, 0xef53, true);
    ext3[1080 + 36] = 4;
    home.file("old.img", ext3);
    const shown = await sregistry(["inspect", "./old.img"], { env, cwd });
    assert.equal(shown.code, 0, shown.stderr);
    assert.equal(JSON.parse(shown.stdout).format, "ext3");
    const labels = await sregistry(["inspect", "-l", "./old.img"], { env, cwd });
    assertFailure(labels, 1, /Singularity 2\.x ext3 image; sregistry cannot read the files/);
    Deno.mkdirSync(join(home.path, "sandbox"));
    assertFailure(await sregistry(["inspect", "./sandbox"], { env, cwd }), 2, /is a folder/);
    assertFailure(
      await sregistry(["inspect", "./missing.sif"], { env, cwd }),
      1,
      /missing\.sif does not exist/,
    );
    const sif = await buildSif(home, "apps.sif");
    assertFailure(
      await sregistry(["inspect", "--app", "nope", sif], { env }),
      1,
      /the image has no app 'nope'; 'sregistry inspect --list-apps' lists them/,
    );
  },
});

Deno.test("a remote-only record shows its record; a selector says there is no image to read", async () => {
  await using home = await tempHome();
  const env = home.env;
  await sregistry(["record", "lab/remote", "--url", "https://example.org/r.sif"], { env });
  const full = await sregistry(["inspect", "lab/remote"], { env });
  assert.equal(full.code, 0, full.stderr);
  assert.equal(full.stderr, "");
  assert.equal(JSON.parse(full.stdout).inspection, null);
  assertFailure(
    await sregistry(["inspect", "--labels", "lab/remote"], { env }),
    1,
    /lab\/remote:latest is a remote-only record: no image to read; 'sregistry pull' it first/,
  );
});

Deno.test({
  name: "a Singularity 2.x .simg pulled from the hub is read too (hub images are all .simg)",
  ignore,
  fn: async () => {
    await using home = await tempHome();
    const simg = home.file("hello.simg", makeSimg(await makeSquashfs(singularityTree())));
    const result = await sregistry(["inspect", "--runscript", simg], { env: home.env });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "#!/bin/sh\n\necho hello\n");
    const full = JSON.parse((await sregistry(["inspect", simg], { env: home.env })).stdout);
    assert.equal(full.format, "simg");
    assert.equal(full.format_name, "Singularity 2.x squashfs image (.simg)");
    assert.equal(full.sif, null);
    assert.equal(full.squashfs.offset, 31);
    assert.equal(full.created, "2023-11-14T22:13:20Z", "the squashfs's creation time");
  },
});

Deno.test({
  name: "signatures added by siftool are listed with hash and fingerprint, never verified",
  ignore: !hasSiftool,
  fn: async () => {
    await using home = await tempHome();
    const sif = join(home.path, "signed.sif");
    const object = home.file("def", "Bootstrap: scratch\n");
    const signature = home.file("sig", "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n{}");
    await siftool("new", sif);
    await siftool("add", sif, object, "--datatype", "1", "--groupid", "1");
    await siftool(
      "add",
      sif,
      signature,
      "--datatype",
      "5",
      "--signhash",
      "1",
      "--signentity",
      FINGERPRINT,
      "--link",
      String(0xf0000001),
    );
    const result = await sregistry(["inspect", sif], { env: home.env });
    assert.equal(result.code, 0, result.stderr);
    const [deffile, signed] = JSON.parse(result.stdout).sif.objects;
    assert.equal(deffile.group, 1);
    assert.deepEqual(signed.link, { group: 1 });
    assert.deepEqual(signed.signature, {
      hash: "SHA-256",
      hash_type: 1,
      fingerprint: FINGERPRINT,
      format: "pgp",
    });
    const deffileText = await sregistry(["inspect", "-d", sif], { env: home.env });
    assert.equal(deffileText.stdout, "Bootstrap: scratch\n");
  },
});

Deno.test("text from an image is escaped on a terminal, and passed through to a pipe", async () => {
  await using home = await tempHome();
  const sif = home.file(
    "evil.sif",
    writeSif({
      objects: [{
        type: DataType.genericJson,
        name: "inspect-metadata.json",
        data: JSON.stringify({ data: { attributes: { labels: { title: "\x1b[31mred\x07" } } } }),
      }],
    }),
  );
  const terminal = await sregistryInProcess(["inspect", "-l", sif], {
    env: home.env,
    stdoutTerminal: true,
  });
  assert.equal(terminal.code, 0, terminal.stderr);
  assert.equal(terminal.stdout, "title: \\x1b[31mred\\x07\n");
  const piped = await sregistryInProcess(["inspect", "-l", sif], { env: home.env });
  assert.equal(piped.stdout, "title: \x1b[31mred\x07\n");
});

Deno.test("inspect of a FIFO or a device says what it is, without opening it", async () => {
  await using home = await tempHome();
  const fifo = join(home.path, "pipe.sif");
  assert.ok(new Deno.Command("mkfifo", { args: [fifo] }).outputSync().success, "mkfifo");
  const running = spawnSregistry(["inspect", fifo], home.env);
  // Opening a FIFO to write waits for a reader: if inspect opened it, this open ends first.
  const writer = Deno.open(fifo, { write: true });
  const first = await Promise.race([
    running.result.then(() => "inspect ended"),
    writer.then(() => "inspect opened the FIFO"),
  ]);
  if (first === "inspect ended") {
    // Release the waiting writer with a reader of our own.
    using _reader = await Deno.open(fifo, { read: true });
    (await writer).close();
  } else {
    (await writer).close();
  }
  assert.equal(first, "inspect ended");
  assertFailure(await running.result, 2, /pipe\.sif is a FIFO, not an image file/);
  assertFailure(
    await sregistry(["inspect", "/dev/zero"], { env: home.env }),
    2,
    /\/dev\/zero is a device, not an image file/,
  );
});

Deno.test({
  name: "--app of a name every object has (toString, constructor, __proto__) is an app it lacks",
  ignore,
  fn: async () => {
    await using home = await tempHome();
    await buildSif(home);
    for (const app of ["toString", "constructor", "hasOwnProperty", "__proto__"]) {
      assertFailure(
        await sregistry(["inspect", "--app", app, "./image.sif"], {
          env: home.env,
          cwd: home.path,
        }),
        1,
        new RegExp(`the image has no app '${app}'`),
      );
    }
  },
});

Deno.test({
  name: "one damaged file in the image (a link loop, an oversized labels.json) costs only itself",
  ignore,
  fn: async () => {
    await using home = await tempHome();
    const tree = singularityTree();
    tree[".singularity.d/runscript"] = { link: "runscript2" };
    tree[".singularity.d/runscript2"] = { link: "runscript" };
    tree[".singularity.d/labels.json"] = `{"big": "${"x".repeat(2 * 1024 * 1024)}"}`;
    const squashfs = await makeSquashfs(tree);
    home.file(
      "damaged.sif",
      writeSif({
        objects: [{ type: DataType.partition, data: squashfs, extra: partitionExtra(1, 2, "02") }],
      }),
    );
    const run = (...flags: string[]) =>
      sregistry(["inspect", ...flags, "./damaged.sif"], { env: home.env, cwd: home.path });
    const whole = await run();
    assert.equal(whole.code, 0, whole.stderr);
    const attributes = JSON.parse(whole.stdout).attributes;
    assert.equal(attributes.test, "#!/bin/sh\ntrue");
    assert.equal(attributes.startscript, "#!/bin/sh\nexec sleep 100");
    assert.deepEqual(Object.keys(attributes.apps), ["cowsay"]);
    assert.equal(attributes.runscript, undefined);
    assert.equal(attributes.labels, undefined);
    assert.match(whole.stderr, /\[warning\] .*runscript in the image is a loop of symbolic links/);
    assert.match(whole.stderr, /\[warning\] .*labels\.json in the image is \d+ bytes, more than/);

    const test = await run("--test");
    assert.equal(test.code, 0, test.stderr);
    assert.equal(test.stdout, "#!/bin/sh\ntrue\n");
    assert.match(test.stderr, /\[warning\] .*a loop of symbolic links/);
    const env = await run("-e");
    assert.match(env.stdout, /GREETING=hello/);
  },
});
