/**
 * `sregistry add <file> --name <uri>`: moves (or copies) an image into storage under its MD5,
 * never loses or duplicates a file that is already there, refuses to overwrite a different file
 * of an explicit version, and keeps metadata and URL with the record.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { sregistry } from "../support/cli.ts";
import { tempHome } from "../support/home.ts";
import { assertTransferFailure, filesUnder, spawnSregistry, waitFor } from "../support/pulls.ts";
import {
  assertFailure,
  assertUnchanged,
  bindMount,
  canMount,
  exists,
  fileTree,
  lines,
  md5,
  mountTmpfs,
  records,
  snapshot,
  tempFiles,
} from "../support/state.ts";

const HELLO_MD5 = "b1946ac92492d2347c6235b4d2611184";

// A text file is no image: it is added, with this warning first.
function notAnImage(file: string): string {
  return `[warning] ${file} is not a SIF, Singularity 2.x (.simg, ext3 .img) or squashfs image\n`;
}

Deno.test("add moves the file into storage under its MD5 and says [container][new]", async () => {
  await using home = await tempHome();
  const file = home.file("hello.sif", "hello\n");
  const added = await sregistry(["add", file, "--name", "vsoch/hello-world"], { env: home.env });
  assert.equal(added.code, 0, added.stderr);
  assert.equal(added.stdout, "", "stdout carries no data");
  assert.equal(
    added.stderr,
    `${notAnImage(file)}[container][new] vsoch/hello-world:latest@${HELLO_MD5}\n`,
  );

  const stored = join(home.storage, "vsoch", "hello-world", `latest@${HELLO_MD5}.sif`);
  assert.equal(Deno.readTextFileSync(stored), "hello\n");
  assert.equal(exists(file), false, "the file was moved");
  assert.equal(Deno.statSync(stored).mode! & 0o777, 0o644 & ~Deno.umask(), "0644 under the umask");

  const [record] = records(await sregistry(["images", "--json"], { env: home.env }));
  assert.equal(record.uri, `vsoch/hello-world:latest@${HELLO_MD5}`);
  assert.equal(record.version, HELLO_MD5);
  assert.equal(record.md5, HELLO_MD5);
  assert.equal(record.size, 6);
  assert.equal(record.image, stored);
  assert.equal(record.client, "hub");
  assert.equal(record.url, null);
});

Deno.test("add --copy leaves the original file in place", async () => {
  await using home = await tempHome();
  const file = home.file("hello.sif", "hello\n");
  const added = await sregistry(["add", "--copy", file, "--name", "vsoch/hello-world:v1"], {
    env: home.env,
  });
  assert.equal(added.code, 0, added.stderr);
  assert.equal(Deno.readTextFileSync(file), "hello\n");
  const stored = join(home.storage, "vsoch", "hello-world", `v1@${HELLO_MD5}.sif`);
  assert.equal(Deno.readTextFileSync(stored), "hello\n");
  assert.equal(Deno.statSync(stored).mode! & 0o777, 0o644);
  assert.deepEqual(tempFiles(home.path), []);
});

Deno.test("adding the same content twice keeps one record and one file", async () => {
  await using home = await tempHome();
  const env = home.env;
  const first = home.file("a.sif", "hello\n");
  assert.equal((await sregistry(["add", "--copy", first, "--name", "vsoch/x"], { env })).code, 0);

  const again = await sregistry(["add", "--copy", first, "--name", "vsoch/x"], { env });
  assert.equal(again.code, 0, again.stderr);
  assert.equal(
    again.stderr,
    `${notAnImage(first)}[container][update] vsoch/x:latest@${HELLO_MD5}\n`,
  );

  // A move of another file with the same content: the duplicate goes, the stored file stays.
  const second = home.file("b.sif", "hello\n");
  const moved = await sregistry(["add", second, "--name", "vsoch/x"], { env });
  assert.equal(moved.code, 0, moved.stderr);
  assert.match(moved.stderr, /\[container\]\[update\]/);
  assert.equal(exists(second), false);
  assert.equal(Deno.readTextFileSync(first), "hello\n", "the --copy source is untouched");

  const all = records(await sregistry(["images", "--json"], { env }));
  assert.equal(all.length, 1);
  assert.equal(Deno.readTextFileSync(all[0].image!), "hello\n");
  const storedFiles = fileTree(home.storage).filter((entry) => !entry.endsWith("/"));
  assert.deepEqual(storedFiles, [`vsoch/x/latest@${HELLO_MD5}.sif 6 ${HELLO_MD5}`]);
});

Deno.test("adding the stored file itself (add $(get x) --name x) neither loses nor duplicates it", async () => {
  await using home = await tempHome();
  const env = home.env;
  await sregistry(["add", home.file("a.sif", "hello\n"), "--name", "vsoch/x"], { env });
  const path = (await sregistry(["get", "vsoch/x"], { env })).stdout.trim();

  for (const extra of [[], ["--copy"]]) {
    const again = await sregistry(["add", ...extra, path, "--name", "vsoch/x"], { env });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /^\[container\]\[update\] vsoch\/x:latest@/m);
    assert.equal(Deno.readTextFileSync(path), "hello\n", `the stored file survives ${extra}`);
  }
  const all = records(await sregistry(["images", "--json"], { env }));
  assert.equal(all.length, 1);
  assert.equal(fileTree(home.storage).filter((e) => !e.endsWith("/")).length, 1);
});

Deno.test("moving one record's stored file under another name is refused; --copy makes a second record", async () => {
  await using home = await tempHome();
  const env = home.env;
  await sregistry(["add", home.file("a.sif", "hello\n"), "--name", "vsoch/x"], { env });
  const path = (await sregistry(["get", "vsoch/x"], { env })).stdout.trim();

  const before = await snapshot(home);
  const refused = await sregistry(["add", path, "--name", "vsoch/y"], { env });
  assertFailure(refused, 1, /is the image of vsoch\/x:latest@/);
  assertUnchanged(before, await snapshot(home));

  const copied = await sregistry(["add", "--copy", path, "--name", "vsoch/y"], { env });
  assert.equal(copied.code, 0, copied.stderr);
  const all = records(await sregistry(["images", "--json"], { env }));
  assert.deepEqual(all.map((r) => r.name), ["x", "y"]);
  assert.equal(Deno.readTextFileSync(all[0].image!), "hello\n");
  assert.equal(Deno.readTextFileSync(all[1].image!), "hello\n");
});

Deno.test("an explicit @version that already holds different content is refused, nothing changed", async () => {
  await using home = await tempHome();
  const env = home.env;
  const file = home.file("a.sif", "first\n");
  const first = await sregistry(["add", file, "--name", "vsoch/x@v1"], { env });
  assert.equal(first.code, 0, first.stderr);
  assert.equal(first.stderr, `${notAnImage(file)}[container][new] vsoch/x:latest@v1\n`);
  const other = home.file("b.sif", "second\n");

  const before = await snapshot(home);
  for (const extra of [[], ["--copy"]]) {
    const refused = await sregistry(["add", ...extra, other, "--name", "vsoch/x@v1"], { env });
    assertFailure(refused, 1, /vsoch\/x:latest@v1 already holds a different file/);
    assertUnchanged(before, await snapshot(home), `add ${extra}`);
  }
  assert.equal(Deno.readTextFileSync(other), "second\n", "the refused file is not lost");
  assert.equal(
    Deno.readTextFileSync(join(home.storage, "vsoch", "x", "latest@v1.sif")),
    "first\n",
  );
});

Deno.test("--metadata and --url are kept with the record and shown by inspect", async () => {
  await using home = await tempHome();
  const env = home.env;
  const metadata = { labels: { maintainer: "dinosaur" }, size: 6 };
  const added = await sregistry([
    "add",
    home.file("a.sif", "hello\n"),
    "--name",
    "vsoch/x:v1",
    "--metadata",
    home.file("meta.json", JSON.stringify(metadata)),
    "--url",
    "https://example.org/x.sif",
  ], { env });
  assert.equal(added.code, 0, added.stderr);

  const inspected = await sregistry(["inspect", "vsoch/x:v1"], { env });
  assert.equal(inspected.code, 0, inspected.stderr);
  const record = JSON.parse(inspected.stdout);
  assert.deepEqual(record.metadata, metadata);
  assert.equal(record.url, "https://example.org/x.sif");
});

Deno.test("add --json prints the new record on stdout", async () => {
  await using home = await tempHome();
  const added = await sregistry(
    ["add", "--json", home.file("a.sif", "hello\n"), "--name", "VSoch/Hello:Dev"],
    { env: home.env },
  );
  assert.equal(added.code, 0, added.stderr);
  const record = JSON.parse(added.stdout);
  assert.equal(record.uri, `vsoch/hello:dev@${HELLO_MD5}`, "names are lower-cased");
  assert.equal(record.image, join(home.storage, "vsoch", "hello", `dev@${HELLO_MD5}.sif`));
});

Deno.test("a name with a registry host is filed under a folder named after the host", async () => {
  await using home = await tempHome();
  const file = home.file("a.sif", "hello\n");
  const added = await sregistry(["add", file, "--name", "localhost:5000/vsoch/ubuntu:1.0"], {
    env: home.env,
  });
  assert.equal(added.code, 0, added.stderr);
  assert.equal(
    added.stderr,
    `${notAnImage(file)}[container][new] localhost:5000/vsoch/ubuntu:1.0@${HELLO_MD5}\n`,
  );
  const got = await sregistry(["get", "localhost:5000/vsoch/ubuntu:1.0"], { env: home.env });
  assert.equal(
    got.stdout,
    join(home.storage, "localhost:5000", "vsoch", "ubuntu", `1.0@${HELLO_MD5}.sif`) + "\n",
  );
});

Deno.test("a relative file path is read from the working directory", async () => {
  await using home = await tempHome();
  home.file("work/a.sif", "hello\n");
  const added = await sregistry(["add", "a.sif", "--name", "vsoch/x"], {
    env: home.env,
    cwd: join(home.path, "work"),
  });
  assert.equal(added.code, 0, added.stderr);
  assert.equal(exists(join(home.path, "work", "a.sif")), false);
});

Deno.test({
  name: "add moves a file from another filesystem by copying, then removes the original",
  ignore: !canMount(),
  async fn() {
    await using home = await tempHome();
    const storage = join(home.path, "tmpfs-storage");
    using _mount = mountTmpfs(storage, "8m");
    const env = { ...home.env, SREGISTRY_STORAGE: storage };
    const content = "x".repeat(3 * 1024 * 1024);
    const file = home.file("big.sif", content);
    const added = await sregistry(["add", file, "--name", "vsoch/big"], { env });
    assert.equal(added.code, 0, added.stderr);
    assert.equal(exists(file), false);
    const stored = join(storage, "vsoch", "big", `latest@${md5(content)}.sif`);
    assert.equal(Deno.statSync(stored).size, content.length);
    assert.equal(Deno.statSync(stored).mode! & 0o777, 0o644);
    assert.deepEqual(tempFiles(storage), []);
  },
});

Deno.test({
  name: "add moves a file into storage behind a bind mount of the same filesystem by copying",
  ignore: !canMount(),
  async fn() {
    await using home = await tempHome();
    const storage = join(home.path, "bound-storage");
    using _mount = bindMount(join(home.path, "real-storage"), storage);
    const env = { ...home.env, SREGISTRY_STORAGE: storage };
    // Same st_dev, different mounts: a link or rename between them fails with EXDEV.
    const file = home.file("a.sif", "hello\n");
    const added = await sregistry(["add", file, "--name", "vsoch/x"], { env });
    assert.equal(added.code, 0, added.stderr);
    assert.equal(exists(file), false);
    const stored = join(storage, "vsoch", "x", `latest@${HELLO_MD5}.sif`);
    assert.equal(Deno.readTextFileSync(stored), "hello\n");
    assert.deepEqual(tempFiles(home.path), []);

    const moved = await sregistry(["mv", "-q", "vsoch/x", home.path], { env });
    assert.equal(moved.code, 0, moved.stderr);
    assert.equal(Deno.readTextFileSync(join(home.path, `latest@${HELLO_MD5}.sif`)), "hello\n");
    assert.equal(exists(stored), false);
    assert.deepEqual(tempFiles(home.path), []);
  },
});

Deno.test("add without --name is a usage error", async () => {
  await using home = await tempHome();
  const file = home.file("a.sif", "hello\n");
  const result = await sregistry(["add", file], { env: home.env });
  assert.equal(result.code, 2);
  assert.match(result.stderr, /--name/);
  assert.equal(Deno.readTextFileSync(file), "hello\n");
  assert.deepEqual(lines(result.stdout), []);
});

Deno.test("Ctrl-C during add --copy exits 130 and leaves no partial copy and no record", async () => {
  await using home = await tempHome();
  // 2 GiB, sparse: quick to make, long enough to copy that the signal arrives mid-copy.
  const size = 2 * 1024 ** 3;
  const source = join(home.path, "big.sif");
  Deno.writeFileSync(source, new Uint8Array(0));
  Deno.truncateSync(source, size);
  assert.equal((await sregistry(["images"], { env: home.env })).code, 0, "database created");
  const running = spawnSregistry(["add", "--copy", source, "--name", "lab/big"], home.env);
  // The listing reads no file: a growing 2 GiB copy must not be read back on every poll.
  const copied = () =>
    filesUnder(home.storage).filter((file) => /\.sregistry-tmp-/.test(file))
      .map((file) => Deno.statSync(join(home.storage, file)).size);
  await waitFor(() => copied().some((size) => size >= 8 * 1024 * 1024), "the copy");
  running.child.kill("SIGINT");
  const result = await running.result;
  assertTransferFailure(result, 130, /^sregistry: interrupted; nothing was added$/);
  assert.deepEqual(fileTree(home.storage), [], "no partial copy, no new folder");
  assert.deepEqual(records(await sregistry(["images", "--json"], { env: home.env })), []);
  assert.equal(Deno.statSync(source).size, size, "the source is untouched");
});

Deno.test("add sweeps the leftover of a killed add from the image's folder", async () => {
  await using home = await tempHome();
  const folder = join(home.storage, "lab", "tool");
  const leftover = home.file(".singularity/shub/lab/tool/.sregistry-tmp-99999-dead0000", "part");
  const hourAndMore = new Date(Date.now() - 2 * 60 * 60 * 1000);
  Deno.utimeSync(leftover, hourAndMore, hourAndMore);
  const file = home.file("hello.sif", "hello\n");
  const added = await sregistry(["add", file, "--name", "lab/tool"], { env: home.env });
  assert.equal(added.code, 0, added.stderr);
  assert.deepEqual(filesUnder(folder), [`latest@${HELLO_MD5}.sif`]);
});

Deno.test("storage reached through a symlink: adding the stored file again keeps it", async () => {
  await using home = await tempHome();
  const real = join(home.path, "scratch", "images");
  Deno.mkdirSync(real, { recursive: true });
  const link = join(home.path, "images-link");
  Deno.symlinkSync(real, link);
  const env = { ...home.env, SREGISTRY_STORAGE: link };
  const added = await sregistry(["add", home.file("hello.sif", "hello\n"), "--name", "x/y"], {
    env,
  });
  assert.equal(added.code, 0, added.stderr);
  const stored = (await sregistry(["get", "x/y"], { env })).stdout.trim();
  // The same file under the link's spelling of the path, as a user might type it.
  const viaLink = join(link, "x", "y", `latest@${HELLO_MD5}.sif`);
  for (const path of [stored, viaLink]) {
    const again = await sregistry(["add", path, "--name", "x/y"], { env });
    assert.equal(again.code, 0, again.stderr);
    assert.equal(Deno.readTextFileSync(stored), "hello\n", `the image survives adding ${path}`);
  }
  assert.equal(records(await sregistry(["images", "--json"], { env })).length, 1);
});
