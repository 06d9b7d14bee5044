/**
 * Image names: the reference §4.2 table as our parser reads it (with the documented differences:
 * extensions stripped only at the end, a first segment is a registry only when it looks like a
 * host, nested collections), hostile names refused, formatting and scheme splitting.
 */
import assert from "node:assert/strict";
import {
  collectionKey,
  formatImageName,
  type ImageName,
  parseImageName,
  splitScheme,
  withVersion,
} from "../../../src/core/names.ts";
import { InvalidNameError } from "../../../src/errors.ts";

type Row = [input: string, expected: ImageName, uri: string];

const name = (
  collection: string,
  image: string,
  tag = "latest",
  version: string | null = null,
  registry: string | null = null,
): ImageName => ({ registry, collection, name: image, tag, version });

// Reference §4.2, row by row. Where the original differs, the comment says how and why.
const TABLE: Row[] = [
  ["ubuntu", name("library", "ubuntu"), "library/ubuntu:latest"],
  ["ubuntu:18.04", name("library", "ubuntu", "18.04"), "library/ubuntu:18.04"],
  [
    "library/ubuntu:latest@version",
    name("library", "ubuntu", "latest", "version"),
    "library/ubuntu:latest@version",
  ],
  ["vsoch/hello-world", name("vsoch", "hello-world"), "vsoch/hello-world:latest"],
  [
    "vsoch/hello-world@abc123",
    name("vsoch", "hello-world", "latest", "abc123"),
    "vsoch/hello-world:latest@abc123",
  ],
  [
    "vsoch/hello-world:v1.0@ABCdef",
    name("vsoch", "hello-world", "v1.0", "abcdef"),
    "vsoch/hello-world:v1.0@abcdef",
  ],
  ["VSoch/Hello-World:TAG", name("vsoch", "hello-world", "tag"), "vsoch/hello-world:tag"],
  ["vsoch/hello-world.sif", name("vsoch", "hello-world"), "vsoch/hello-world:latest"],
  ["vsoch/hello-world:latest.simg", name("vsoch", "hello-world"), "vsoch/hello-world:latest"],
  ["vsoch/hello-world.img", name("vsoch", "hello-world"), "vsoch/hello-world:latest"],
  // Ours: only a final extension goes (the original's unanchored regex gave `dinosaur.bak`).
  ["vsoch/dinosaur.sif.bak", name("vsoch", "dinosaur.sif.bak"), "vsoch/dinosaur.sif.bak:latest"],
  // Ours: a dotted first segment is a registry host (the original mangled it to `myfile`).
  [
    "my.simgfile/x",
    name("library", "x", "latest", null, "my.simgfile"),
    "my.simgfile/library/x:latest",
  ],
  // Ours: `a` has no dot or port, so it is part of a nested collection (reference §8.22).
  ["a/b/c", name("a/b", "c"), "a/b/c:latest"],
  ["a/b/c/d:tag", name("a/b/c", "d", "tag"), "a/b/c/d:tag"],
  [
    "docker.io/library/ubuntu:18.04",
    name("library", "ubuntu", "18.04", null, "docker.io"),
    "docker.io/library/ubuntu:18.04",
  ],
  [
    "localhost:5000/ubuntu",
    name("library", "ubuntu", "latest", null, "localhost:5000"),
    "localhost:5000/library/ubuntu:latest",
  ],
  [
    "registry.example.org:8443/col/img:tag@v1",
    name("col", "img", "tag", "v1", "registry.example.org:8443"),
    "registry.example.org:8443/col/img:tag@v1",
  ],
  [
    "singularity.km3net.de/common/jpp:v11.0.0-rc9",
    name("common", "jpp", "v11.0.0-rc9", null, "singularity.km3net.de"),
    "singularity.km3net.de/common/jpp:v11.0.0-rc9",
  ],
  [
    "centos:7@sha256:deadbeef",
    name("library", "centos", "7", "sha256:deadbeef"),
    "library/centos:7@sha256:deadbeef",
  ],
  // As the original: everything after the first '@' is the version, '@' included.
  ["x@y@z", name("library", "x", "latest", "y@z"), "library/x:latest@y@z"],
  [
    "user/repo:with_underscore",
    name("user", "repo", "with_underscore"),
    "user/repo:with_underscore",
  ],
  // ubuntu_check of the original test suite.
  ["ubuntu:latest", name("library", "ubuntu"), "library/ubuntu:latest"],
  ["library/ubuntu:latest", name("library", "ubuntu"), "library/ubuntu:latest"],
  [
    "localhost/ubuntu",
    name("library", "ubuntu", "latest", null, "localhost"),
    "localhost/library/ubuntu:latest",
  ],
];

for (const [input, expected, uri] of TABLE) {
  Deno.test(`parseImageName reads ${JSON.stringify(input)} as ${uri}`, () => {
    const parsed = parseImageName(input);
    assert.deepEqual(parsed, expected);
    assert.equal(formatImageName(parsed), uri);
  });
}

Deno.test("a formatted name parses back to the same name", () => {
  for (const [input] of TABLE) {
    const parsed = parseImageName(input);
    assert.deepEqual(parseImageName(formatImageName(parsed)), parsed, input);
  }
});

Deno.test("keepCase keeps collection, name and tag but still lower-cases the version", () => {
  assert.deepEqual(
    parseImageName("VSoch/Hello:TAG@V1", { keepCase: true }),
    name("VSoch", "Hello", "TAG", "v1"),
  );
});

Deno.test("a registry host is never lower-cased, as in the original", () => {
  assert.equal(parseImageName("Docker.IO/Library/Ubuntu").registry, "Docker.IO");
  assert.equal(parseImageName("Docker.IO/Library/Ubuntu").collection, "library");
});

Deno.test("formatImageName drops the version on request and collectionKey carries the host", () => {
  const parsed = parseImageName("localhost:5000/vsoch/ubuntu:1.0@abc");
  assert.equal(formatImageName(parsed, { withVersion: false }), "localhost:5000/vsoch/ubuntu:1.0");
  assert.equal(collectionKey(parsed), "localhost:5000/vsoch");
  assert.equal(collectionKey(parseImageName("vsoch/ubuntu")), "vsoch");
});

Deno.test("withVersion replaces and lower-cases the version, or clears it", () => {
  const parsed = parseImageName("vsoch/x@old");
  assert.equal(withVersion(parsed, "HASH").version, "hash");
  assert.equal(withVersion(parsed, null).version, null);
  assert.equal(parsed.version, "old", "the original name is not modified");
});

// Hostile or malformed names: each refused with InvalidNameError naming the bad part.
const REFUSED: [input: string, why: RegExp][] = [
  ["../../etc/passwd", /'\.\.' is not allowed/],
  ["a/..", /'\.\.' is not allowed in a name \(image name\)/],
  ["a/../b", /'\.\.' is not allowed in a name \(collection\)/],
  ["./x", /'\.' is not allowed/],
  ["vsoch/hello:../../x", /':' is not allowed in the collection 'hello:\.\.'/],
  ["vsoch/hello:..", /'\.\.' is not allowed in a name \(tag\)/],
  ["vsoch/hello@../x", /'\/' is not allowed in a version/],
  ["vsoch/hello@..", /'\.\.' is not allowed in a name \(version\)/],
  ["vsoch/hello\u0000", /control character "\\u0000"/],
  ["vsoch/hel\nlo", /control character "\\n"/],
  ["vsoch/hel\tlo", /control character "\\t"/],
  ["vsoch/hel\u007flo", /control character "\\u007f"/],
  ["vsoch\\hello", /backslashes are not allowed/],
  ["a b/c d:e f", /spaces are not allowed/],
  ["vsoch//hello", /empty path segment/],
  ["/dinosaur", /absolute paths are not names/],
  ["collection/", /empty path segment/],
  ["", /the name is empty/],
  ["tag:", /the tag after ':' is empty/],
  [":tag", /the image name is empty/],
  ["vsoch/hello@", /the version after '@' is empty/],
  ["vsoch/hello:a:b", /only one ':tag'/],
  ["vsoch/-rf", /may not start with '-'/],
  ["-x/hello", /may not start with '-'/],
  ["vsoch/hello:-t", /may not start with '-'/],
  ["docker://ubuntu", /URI scheme/],
  [".sif", /the image name is empty/],
  ["@v1", /the image name is empty/],
];

for (const [input, why] of REFUSED) {
  Deno.test(`parseImageName refuses ${JSON.stringify(input)}`, () => {
    assert.throws(() => parseImageName(input), (error: unknown) => {
      assert.ok(error instanceof InvalidNameError, `InvalidNameError, got ${error}`);
      assert.equal(error.exitCode, 2);
      assert.equal(error.code, "invalid_name");
      assert.match(error.message, why);
      assert.ok(error.message.startsWith("invalid image name "), error.message);
      assert.doesNotMatch(error.message, /\n/, "the message is one line");
      return true;
    });
  });
}

Deno.test("splitScheme lower-cases the scheme, maps '_' to '-', and leaves plain names alone", () => {
  assert.deepEqual(splitScheme("docker://ubuntu"), { scheme: "docker", rest: "ubuntu" });
  assert.deepEqual(splitScheme("SHUB://x"), { scheme: "shub", rest: "x" });
  assert.deepEqual(splitScheme("Google_Storage://b"), { scheme: "google-storage", rest: "b" });
  assert.deepEqual(splitScheme("registry://host.org/c/i:t"), {
    scheme: "registry",
    rest: "host.org/c/i:t",
  });
  assert.deepEqual(splitScheme("ubuntu"), { scheme: null, rest: "ubuntu" });
  assert.deepEqual(splitScheme(""), { scheme: null, rest: "" });
  // Ours is not greedy: only the first scheme goes, and the rest is refused as a name.
  assert.deepEqual(splitScheme("a://b://c"), { scheme: "a", rest: "b://c" });
  assert.throws(() => parseImageName(splitScheme("a://b://c").rest), InvalidNameError);
});
