/**
 * Storage paths: the `<root>/[registry/]<collection>/<name>/<tag>@<version>.sif` layout, the
 * containment check every path passes, recorded (relative) paths, and placing files without
 * ever overwriting.
 */
import assert from "node:assert/strict";
import { basename, join } from "node:path";
import { parseImageName } from "../../../src/core/names.ts";
import {
  exists,
  PART_PREFIX,
  STALE_AFTER_MS,
  Storage,
  TEMP_PREFIX,
  temporaryFileOwner,
  TOMBSTONE_PREFIX,
} from "../../../src/core/storage.ts";
import {
  placeFile,
  pruneEmptyFolders,
  removeIfPresent,
  removeStaleTemporaryFiles,
} from "../../../src/core/file_placement.ts";
import { ConflictError, InvalidNameError } from "../../../src/errors.ts";
import { tempHome } from "../../support/home.ts";

const storage = new Storage("/S");

Deno.test("image paths follow the layout of reference §4.3, a registry host leading", () => {
  const path = (name: string) => storage.imagePath(parseImageName(name));
  assert.equal(path("vsoch/hello-world"), "/S/vsoch/hello-world/latest.sif");
  assert.equal(path("vsoch/hello-world:v1@abc"), "/S/vsoch/hello-world/v1@abc.sif");
  assert.equal(path("ubuntu:18.04"), "/S/library/ubuntu/18.04.sif");
  // The original broke this one (`…/vsoch/ubuntu/localhost:5000/:1.0.sif`).
  assert.equal(path("localhost:5000/vsoch/ubuntu:1.0"), "/S/localhost:5000/vsoch/ubuntu/1.0.sif");
  assert.equal(path("a/b/c/d:tag"), "/S/a/b/c/d/tag.sif");
  assert.equal(storage.imageFolder(parseImageName("vsoch/x:any@v")), "/S/vsoch/x");
});

Deno.test("a hand-made name that would leave storage is refused", () => {
  const escape = { registry: null, collection: "../..", name: "etc", tag: "latest", version: null };
  assert.throws(() => storage.imagePath(escape), InvalidNameError);
  assert.throws(() => storage.imageFolder({ ...escape, collection: "..", name: ".." }), {
    name: "InvalidNameError",
    message: /outside storage/,
  });
});

Deno.test("contains is true only strictly inside the root", () => {
  assert.equal(storage.contains("/S/a.sif"), true);
  assert.equal(storage.contains("/S/x/../a.sif"), true);
  assert.equal(storage.contains("/S"), false);
  assert.equal(storage.contains("/S/.."), false);
  assert.equal(storage.contains("/S2/a.sif"), false, "a sibling sharing the prefix is outside");
  assert.equal(storage.contains("/..S/a.sif"), false);
});

Deno.test("paths inside storage are recorded relative to it, others absolute", () => {
  assert.equal(storage.toRecord("/S/vsoch/x/latest.sif"), "vsoch/x/latest.sif");
  assert.equal(storage.toRecord("/elsewhere/x.sif"), "/elsewhere/x.sif");
  assert.equal(storage.fromRecord("vsoch/x/latest.sif"), "/S/vsoch/x/latest.sif");
  assert.equal(storage.fromRecord("/elsewhere/x.sif"), "/elsewhere/x.sif");
  assert.equal(new Storage("/S/").root, "/S", "a trailing slash is dropped");
});

Deno.test("temporary paths are recognisable, unique in their folder and name their owner", () => {
  const owner = crypto.randomUUID();
  const first = storage.tempPath("/S/vsoch/x", owner);
  const second = storage.tempPath("/S/vsoch/x", owner);
  assert.ok(first.startsWith(`/S/vsoch/x/${TEMP_PREFIX}`));
  assert.notEqual(first, second);
  assert.equal(temporaryFileOwner(basename(first)), owner);
  assert.equal(temporaryFileOwner(`${TEMP_PREFIX}1234-abcdef12`), null, "an old pid-named file");
});

Deno.test("placeFile moves a file into a new folder and never overwrites", async () => {
  await using folder = await tempHome();
  const source = join(folder.path, "source");
  const target = join(folder.path, "a", "b", "target.sif");
  Deno.writeTextFileSync(source, "one");
  placeFile(source, target);
  assert.equal(Deno.readTextFileSync(target), "one");
  assert.equal(exists(source), false);

  Deno.writeTextFileSync(source, "two");
  assert.throws(() => placeFile(source, target), ConflictError);
  assert.equal(Deno.readTextFileSync(target), "one", "the existing file is untouched");
  assert.equal(Deno.readTextFileSync(source), "two", "the new file is left where it was");

  placeFile(source, target, { replace: true });
  assert.equal(Deno.readTextFileSync(target), "two");
});

Deno.test("pruneEmptyFolders removes empty folders up to the root and stops at a full one", async () => {
  await using folder = await tempHome();
  const root = join(folder.path, "root");
  Deno.mkdirSync(join(root, "keep", "a", "b"), { recursive: true });
  Deno.writeTextFileSync(join(root, "keep", "file"), "x");
  pruneEmptyFolders(join(root, "keep", "a", "b"), root);
  assert.equal(exists(join(root, "keep", "a")), false);
  assert.equal(exists(join(root, "keep", "file")), true);

  Deno.mkdirSync(join(root, "empty", "x"), { recursive: true });
  pruneEmptyFolders(join(root, "empty", "x"), root);
  assert.equal(exists(join(root, "empty")), false);
  assert.equal(exists(root), true, "the root itself stays");
});

Deno.test("removeIfPresent ignores a missing file", async () => {
  await using folder = await tempHome();
  removeIfPresent(join(folder.path, "missing"));
  const file = join(folder.path, "present");
  Deno.writeTextFileSync(file, "x");
  removeIfPresent(file);
  assert.equal(exists(file), false);
});

Deno.test("leftover temporary files of dead runs are swept; live ones, parts, tombstones kept", () => {
  const folder = Deno.makeTempDirSync({ prefix: "sregistry-sweep-" });
  try {
    const make = (name: string, ageMs: number) => {
      const path = join(folder, name);
      Deno.writeTextFileSync(path, name);
      const when = new Date(Date.now() - ageMs);
      Deno.utimeSync(path, when, when);
    };
    const old = STALE_AFTER_MS + 60_000;
    make(`${TEMP_PREFIX}111-dead`, old);
    make(`${TEMP_PREFIX}222-live`, 1_000);
    make(`${PART_PREFIX}key`, old);
    make(`${TOMBSTONE_PREFIX}333-kept`, old);
    make("latest@abc.sif", old);
    removeStaleTemporaryFiles(folder);
    assert.deepEqual(
      [...Deno.readDirSync(folder)].map((entry) => entry.name).sort(),
      [
        `${PART_PREFIX}key`,
        `${TEMP_PREFIX}222-live`,
        `${TOMBSTONE_PREFIX}333-kept`,
        "latest@abc.sif",
      ].sort(),
    );
    removeStaleTemporaryFiles(join(folder, "missing")); // no folder, nothing to do
  } finally {
    Deno.removeSync(folder, { recursive: true });
  }
});
