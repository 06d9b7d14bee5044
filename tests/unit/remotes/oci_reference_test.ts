/**
 * OCI references by Docker's grammar: defaults (Docker Hub, `library/`, `latest`), hosts with
 * ports, digests, the parts refused with the part named, and the sregistry names they map to.
 */
import assert from "node:assert/strict";
import {
  formatOciReference,
  isLoopbackHost,
  type OciReference,
  parseOciReference,
  parseRegistryHost,
  recordedName,
} from "../../../src/remotes/oci_reference.ts";
import { InvalidNameError } from "../../../src/errors.ts";

const DIGEST = `sha256:${"ab".repeat(32)}`;

const VALID: [string, OciReference][] = [
  ["alpine", { registry: "docker.io", repository: "library/alpine", tag: "latest", digest: null }],
  ["lab/tool:1.0", { registry: "docker.io", repository: "lab/tool", tag: "1.0", digest: null }],
  [
    "index.docker.io/sif",
    { registry: "docker.io", repository: "library/sif", tag: "latest", digest: null },
  ],
  [
    "ghcr.io/lab/group/tool:V1_x",
    { registry: "ghcr.io", repository: "lab/group/tool", tag: "V1_x", digest: null },
  ],
  [
    "127.0.0.1:5000/t/sif",
    { registry: "127.0.0.1:5000", repository: "t/sif", tag: "latest", digest: null },
  ],
  [
    "localhost/a__b/c-d.e",
    { registry: "localhost", repository: "a__b/c-d.e", tag: "latest", digest: null },
  ],
  [
    `Registry.Example.org:443/x@${DIGEST}`,
    { registry: "registry.example.org:443", repository: "x", tag: null, digest: DIGEST },
  ],
  [`h.io/x:v2@${DIGEST}`, { registry: "h.io", repository: "x", tag: "v2", digest: DIGEST }],
  ["[::1]:5000/x", { registry: "[::1]:5000", repository: "x", tag: "latest", digest: null }],
];

for (const [text, expected] of VALID) {
  Deno.test(`parseOciReference reads ${text}`, () => {
    assert.deepEqual(parseOciReference(text), expected);
  });
}

const INVALID: [string, RegExp][] = [
  ["", /it is empty/],
  ["h.io/Lab/x", /repository component 'Lab'/],
  ["h.io/lab//x", /empty component/],
  ["h.io/lab/x:", /the tag '' is not valid/],
  ["h.io/lab/x:-v1", /the tag '-v1'/],
  [`h.io/x:${"a".repeat(129)}`, /the tag/],
  ["h.io/x@sha256:abc", /'sha256:abc' after '@' is not a digest/],
  [`h.io/x@md5:${"a".repeat(32)}`, /digest/],
  ["h_o.io/x", /registry host 'h_o.io'/],
  ["h.io:99999/x", /registry port '99999'/],
  ["h.io/../x", /repository component '\.\.'/],
  ["h.io/x y", /repository component 'x y'/],
  [`h.io/${"a".repeat(260)}`, /longer than 255/],
];

for (const [text, message] of INVALID) {
  Deno.test(`parseOciReference refuses ${JSON.stringify(text.slice(0, 40))} naming the part`, () => {
    assert.throws(() => parseOciReference(text), (error: unknown) => {
      assert.ok(error instanceof InvalidNameError);
      assert.equal(error.exitCode, 2);
      assert.match(error.message, message);
      return true;
    });
  });
}

Deno.test("formatOciReference writes what parseOciReference reads", () => {
  for (const [text] of VALID) {
    const reference = parseOciReference(text);
    assert.deepEqual(parseOciReference(formatOciReference(reference)), reference);
  }
});

Deno.test("recordedName keeps the host as a leading folder and agrees with the name parser", () => {
  assert.deepEqual(recordedName(parseOciReference("127.0.0.1:5000/lab/group/sif:V1")), {
    registry: "127.0.0.1:5000",
    collection: "lab/group",
    name: "sif",
    tag: "v1",
    version: null,
  });
  assert.deepEqual(recordedName(parseOciReference("alpine")), {
    registry: "docker.io",
    collection: "library",
    name: "alpine",
    tag: "latest",
    version: null,
  });
  assert.equal(
    recordedName(parseOciReference(`h.io/x@${DIGEST}`))?.tag,
    `sha256-${"ab".repeat(32)}`,
  );
});

Deno.test("recordedName has no name for a reference sregistry's names would change", () => {
  // names.ts strips an image extension at the end: the tag would be lost.
  for (const tag of ["v1.sif", "v1.SIMG", "x.img"]) {
    assert.equal(parseOciReference(`h.io/x:${tag}`).tag, tag, "a valid OCI tag");
    assert.equal(recordedName(parseOciReference(`h.io/x:${tag}`)), null, tag);
  }
});

Deno.test("a reference or host with user:password@ is refused without showing the password", () => {
  const secret = "S3cretPW";
  for (
    const text of [
      `me:${secret}@h.io:5000/lab/a:v1`,
      `me:${secret}@h.io:5000`,
      `me:${secret}@h.io`,
      `me:p@${secret}@h.io/lab/a`,
      `me:${secret}@h.io/lab/a@${DIGEST}`,
    ]
  ) {
    assert.throws(() => parseOciReference(text), (error: unknown) => {
      assert.ok(error instanceof InvalidNameError, text);
      const shown = `${error.message} ${error.hint}`;
      assert.ok(!shown.includes(secret), shown);
      assert.match(shown, /credentials|sregistry login/);
      return true;
    });
  }
  for (const text of [`me:${secret}@h.io:5000`, `oras://me:${secret}@h.io`]) {
    assert.throws(() => parseRegistryHost(text), (error: unknown) => {
      assert.ok(error instanceof InvalidNameError);
      assert.ok(!`${error.message} ${error.hint}`.includes(secret));
      assert.match(error.message, /cannot carry credentials/);
      assert.match(error.hint ?? "", /sregistry login h\.io/);
      return true;
    });
  }
});

Deno.test("parseRegistryHost takes a host with or without oras:// and a trailing slash", () => {
  assert.equal(parseRegistryHost("oras://Localhost:5000/"), "localhost:5000");
  assert.equal(parseRegistryHost("index.docker.io"), "docker.io");
  assert.throws(() => parseRegistryHost("h.io/x"), /a host has no path/);
  assert.throws(() => parseRegistryHost(""), /empty/);
});

Deno.test("isLoopbackHost knows localhost, 127/8 and ::1, with or without a port", () => {
  for (const host of ["localhost", "localhost:5000", "a.localhost", "127.0.0.1:1", "127.9.9.9"]) {
    assert.ok(isLoopbackHost(host), host);
  }
  assert.ok(isLoopbackHost("[::1]:5000"));
  for (const host of ["10.0.0.1", "localhost.example.org", "128.0.0.1", "ghcr.io"]) {
    assert.ok(!isLoopbackHost(host), host);
  }
});
