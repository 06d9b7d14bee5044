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
  MAX_SEGMENT_BYTES,
  nameFromParts,
  parseImageName,
  RESERVED_PREFIX,
  splitScheme,
  withVersion,
} from "../../../src/core/names.ts";
import { PART_PREFIX, TEMP_PREFIX, TOMBSTONE_PREFIX } from "../../../src/core/storage.ts";
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

Deno.test("a name typed composed or decomposed is one name (NFC)", () => {
  assert.deepEqual(parseImageName("lab/cafe\u0301"), parseImageName("lab/caf\u00e9"));
  assert.equal(parseImageName("lab/cafe\u0301").name, "caf\u00e9");
});

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
  // sregistry's own files in storage: no part of a name may pass for one.
  [".sregistry-tmp-1/x", /the registry may not start with '\.sregistry-'/],
  ["a/.sregistry-tmp-1/x", /the collection may not start with '\.sregistry-'/],
  ["a/.sregistry-part-x", /the image name may not start with '\.sregistry-'/],
  ["a/x:.sregistry-tmp-1", /the tag may not start with '\.sregistry-'/],
  ["a/x:.SREGISTRY-REMOVED-1", /the tag may not start with '\.sregistry-'/],
  ["a/x@.sregistry-part-1", /the version may not start with '\.sregistry-'/],
  ["a/.sregistry-anything/x", /the collection may not start with '\.sregistry-'/],
  ["reg.example.org/a/.sregistry-tmp-/x", /the collection may not start/],
  // What does not fit a file system is refused before anything is created.
  [`${"c".repeat(256)}/x`, /the collection is 256 bytes long; at most 255/],
  [`a/${"n".repeat(256)}`, /the image name is 256 bytes long; at most 255/],
  [`a/${"é".repeat(128)}`, /the image name is 256 bytes long/],
  [`a/x:${"t".repeat(256)}`, /the tag is 256 bytes long/],
  [`a/x@${"v".repeat(256)}`, /the version is 256 bytes long/],
  [`a/x:${"t".repeat(219)}`, /the tag and version make a file name of 256 bytes/],
  [`a/x:${"t".repeat(100)}@${"v".repeat(151)}`, /a file name of 256 bytes; at most 255/],
  // A registry host becomes part of a URL: a host name or address and a port, nothing else.
  ["evil.org?x=1/a/b", /the registry "evil\.org\?x=1" is not a host name/],
  ["user@evil.org/a/b", /the registry "user@evil\.org" is not a host name|not allowed/],
  ["evil.org#f/a/b", /is not a host name/],
  ["host.org:http/a/b", /is not a host name/],
  ["ho%2fst.org/a/b", /is not a host name/],
  // Unicode whitespace, invisible and bidirectional characters, anywhere.
  ["a/hel\u00a0lo", /whitespace U\+00A0 is not allowed/],
  ["a/x:v\u2003", /whitespace U\+2003/],
  ["\u3000a/x", /whitespace U\+3000/],
  ["a/x\u2028y", /whitespace U\+2028/],
  ["a/x\u0085y", /control character "\\u0085"/],
  ["a/x\u200by", /invisible character U\+200B/],
  ["a/x\u200cy", /invisible character U\+200C/],
  ["a/x:\u200d1", /invisible character U\+200D/],
  ["a/x\u2060", /invisible character U\+2060/],
  ["a/\ufeffx", /invisible character U\+FEFF/],
  ["a/x\u00ady", /invisible character U\+00AD/],
  ["a/x\u3164y", /invisible character U\+3164/],
  ["a/x\u2800y", /invisible character U\+2800/],
  ["a/x\ufe0fy", /invisible character U\+FE0F/],
  ["a/x@\u{e0041}", /invisible character U\+E0041/],
  ["a/x\u202ey", /bidirectional control character U\+202E/],
  ["a/x\u2066y", /bidirectional control character U\+2066/],
  ["a/x:\u200f", /bidirectional control character U\+200F/],
  ["a/x\u061cy", /bidirectional control character U\+061C/],
  ["a/x\ud800y", /lone surrogate U\+D800/],
  ["a/x\ue000y", /private-use character U\+E000/],
  ["a/x\u{10fffd}", /private-use character U\+10FFFD/],
  ["a/x\ufffey", /unassigned character U\+FFFE/],
  // Lower-cased, as stored, "İ" takes a byte more: 127 of them are 254 bytes typed, 381 stored.
  [`lab/${"\u0130".repeat(127)}`, /is 381 bytes long; at most 255/],
];

// Anything a terminal would hide, reorder or act on; messages must never carry it raw.
const UNPRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}]|(?! )\p{Zs}/u;

for (const [input, why] of REFUSED) {
  Deno.test(`parseImageName refuses ${JSON.stringify(input)}`, () => {
    assert.throws(() => parseImageName(input), (error: unknown) => {
      assert.ok(error instanceof InvalidNameError, `InvalidNameError, got ${error}`);
      assert.equal(error.exitCode, 2);
      assert.equal(error.code, "invalid_name");
      assert.match(error.message, why);
      assert.ok(error.message.startsWith("invalid image name "), error.message);
      assert.doesNotMatch(error.message, /\n/, "the message is one line");
      assert.doesNotMatch(error.message, UNPRINTABLE, "no raw unprintable character");
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

Deno.test("names of the longest that fit a file system, and letters of any script, are accepted", () => {
  const longest = "n".repeat(MAX_SEGMENT_BYTES);
  assert.equal(parseImageName(`a/${longest}`).name, longest);
  assert.equal(parseImageName(`a/x:${"t".repeat(218)}`).tag, "t".repeat(218));
  assert.equal(parseImageName(`${"c".repeat(255)}/x`).collection, "c".repeat(255));
  assert.deepEqual(parseImageName("équipe/café:été"), name("équipe", "café", "été"));
  assert.equal(
    parseImageName("a/x.sregistry-y").name,
    "x.sregistry-y",
    "only a prefix is reserved",
  );
});

Deno.test("every prefix of sregistry's own files in storage is the reserved one", () => {
  for (const prefix of [TEMP_PREFIX, PART_PREFIX, TOMBSTONE_PREFIX]) {
    assert.ok(prefix.startsWith(RESERVED_PREFIX), prefix);
  }
});

Deno.test("nameFromParts builds a name from a remote's parts, checked as a typed name", () => {
  assert.deepEqual(
    nameFromParts({ collection: "VSoch", name: "Hello", tag: "V1", version: "ABC" }),
    name("vsoch", "hello", "v1", "abc"),
  );
  assert.deepEqual(
    nameFromParts({ collection: "a/b", name: "x", tag: "t" }, { keepCase: true }),
    name("a/b", "x", "t"),
  );
  assert.deepEqual(
    nameFromParts({ registry: "reg.example.org:8443", collection: "a", name: "x", tag: "t" }),
    name("a", "x", "t", null, "reg.example.org:8443"),
  );
});

// A part that holds another part's separator, or anything a typed name may not hold.
const REFUSED_PARTS: [parts: Parameters<typeof nameFromParts>[0], why: RegExp][] = [
  [
    { collection: "a", name: "x", tag: "t", version: "x/../../../../victim" },
    /'\/' is not allowed/,
  ],
  [{ collection: "a", name: "x", tag: "t@v", version: null }, /the tag "t@v" cannot be part/],
  [{ collection: "a", name: "x/y", tag: "t" }, /the collection "a" cannot be part/],
  [{ collection: "a", name: "x:y", tag: "t" }, /only one ':tag'/],
  [{ collection: "evil.org/a", name: "x", tag: "t" }, /the registry "" cannot be part/],
  [{ collection: "a", name: "x", tag: "t.sif" }, /the tag "t\.sif" cannot be part/],
  [{ collection: "..", name: "x", tag: "t" }, /'\.\.' is not allowed/],
  [{ collection: "a", name: "x", tag: ".sregistry-tmp-1" }, /may not start with '\.sregistry-'/],
  [{ collection: "a", name: "x", tag: "t", version: "\u202e1" }, /bidirectional control/],
  [{ collection: "", name: "x", tag: "t" }, /absolute paths|empty/],
];

for (const [parts, why] of REFUSED_PARTS) {
  Deno.test(`nameFromParts refuses ${JSON.stringify(parts)}`, () => {
    assert.throws(() => nameFromParts(parts), (error: unknown) => {
      assert.ok(error instanceof InvalidNameError, `InvalidNameError, got ${error}`);
      assert.match(error.message, why);
      assert.doesNotMatch(error.message, UNPRINTABLE);
      return true;
    });
  });
}
