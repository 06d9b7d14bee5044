/** core/paths.ts agrees with node:path's POSIX functions on every case sregistry meets. */
import assert from "node:assert/strict";
import * as node from "node:path";
import * as ours from "../../../src/core/paths.ts";

const PATHS = [
  "",
  ".",
  "..",
  "/",
  "//",
  "a",
  "a/",
  "/a",
  "/a/",
  "/a//b/",
  "a/b/c",
  "/a/b/../c",
  "a/./b",
  "../a",
  "/../a",
  "a/../..",
  "/x/.sregistry-tmp-1",
  "/storage/lab/image/latest@0b4b1c0e.sif",
  "relative/../../up",
];

Deno.test("dirname, basename, normalize and isAbsolute match node:path", () => {
  for (const path of PATHS) {
    if (path !== "") {
      // node keeps a doubled slash that dirname meets ("/a//b" gives "/a/"); sregistry's paths
      // are normalised first, so the cases compared are those.
      const normal = node.normalize(path);
      assert.equal(ours.dirname(normal), node.dirname(normal), `dirname(${normal})`);
      assert.equal(ours.basename(path), node.basename(path), `basename(${path})`);
      assert.equal(ours.normalize(path), node.normalize(path).replace(/(.)\/$/, "$1"), path);
    }
    assert.equal(ours.isAbsolute(path), node.isAbsolute(path), `isAbsolute(${path})`);
  }
});

Deno.test("join, resolve and relative match node:path", () => {
  for (const a of PATHS) {
    for (const b of PATHS) {
      assert.equal(ours.join(a, b), node.join(a, b).replace(/(.)\/$/, "$1"), `join(${a}, ${b})`);
      assert.equal(ours.resolve(a, b), node.resolve(a, b), `resolve(${a}, ${b})`);
      assert.equal(ours.relative(a, b), node.relative(a, b), `relative(${a}, ${b})`);
    }
  }
  assert.equal(ours.join("/root", "a", "b", "c.sif"), "/root/a/b/c.sif");
  assert.equal(ours.resolve(), Deno.cwd());
});
