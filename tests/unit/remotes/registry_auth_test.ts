/** The registry HMAC header against the reference's computed vectors, and the hour stamp. */
import assert from "node:assert/strict";
import {
  authorizationHeader,
  type RegistryAction,
  registryTimestamp,
} from "../../../src/remotes/registry_auth.ts";

const vectors: [RegistryAction, string, string, string][] = [
  [
    "push",
    "vsoch",
    "latest",
    "SREGISTRY-HMAC-SHA256 Credential=push/ZGlubw==/20230620T17Z,Signature=adb6a15f2e93f223e516d49c742f6215a9f20ece75089d7143e5e3f08a0196bd",
  ],
  [
    "upload",
    "vsoch",
    "latest",
    "SREGISTRY-HMAC-SHA256 Credential=upload/ZGlubw==/20230620T17Z,Signature=adc987e45a6eed2f1e34efa552b4dcc476ec25e4babdbb9dfb1b7b390f090a12",
  ],
  [
    "pull",
    "private",
    "v1",
    "SREGISTRY-HMAC-SHA256 Credential=pull/ZGlubw==/20230620T17Z,Signature=75b4e9820d02b3f90f548c2d3048a8e6f1d2de6c34a2fb5702524f68f1ce1738",
  ],
  [
    "delete",
    "vsoch",
    "latest",
    "SREGISTRY-HMAC-SHA256 Credential=delete/ZGlubw==/20230620T17Z,Signature=3d11fb5513b312740d58b4b8124590d1c6bd57b75b531a483146e2940b0edda0",
  ],
  [
    "build",
    "vsoch",
    "latest",
    "SREGISTRY-HMAC-SHA256 Credential=build/ZGlubw==/20230620T17Z,Signature=789f05a4809c653fd762c0bd0bf9a5ea8272c0df260ec7f11c5d4dc1ca182244",
  ],
];

for (const [action, collection, tag, expected] of vectors) {
  Deno.test(`authorizationHeader matches the reference vector for ${action}`, () => {
    const header = authorizationHeader({
      action,
      collection,
      name: "tacos",
      tag,
      username: "dino",
      token: "sekrit",
      timestamp: "20230620T17Z",
    });
    assert.equal(header, expected);
  });
}

Deno.test("authorizationHeader uses the current UTC hour when no timestamp is given", () => {
  const options = {
    action: "pull" as const,
    collection: "c",
    name: "n",
    tag: "t",
    username: "dino",
    token: "sekrit",
  };
  const before = registryTimestamp(new Date());
  const header = authorizationHeader(options);
  const after = registryTimestamp(new Date());
  const stamp = header.match(/Credential=pull\/ZGlubw==\/(\d{8}T\d{2}Z),/)?.[1];
  assert.ok(stamp === before || stamp === after, `unexpected timestamp ${stamp}`);
  assert.equal(header, authorizationHeader({ ...options, timestamp: stamp }));
});

Deno.test("authorizationHeader base64-encodes a UTF-8 username", () => {
  const header = authorizationHeader({
    action: "push",
    collection: "c",
    name: "n",
    tag: "t",
    username: "dinö",
    token: "sekrit",
    timestamp: "20230620T17Z",
  });
  assert.match(
    header,
    /^SREGISTRY-HMAC-SHA256 Credential=push\/ZGluw7Y=\/20230620T17Z,Signature=[0-9a-f]{64}$/,
  );
});

Deno.test("registryTimestamp pads single-digit months, days and hours", () => {
  assert.equal(registryTimestamp(new Date(Date.UTC(2024, 0, 5, 3, 59, 59))), "20240105T03Z");
  assert.equal(registryTimestamp(new Date(Date.UTC(2023, 5, 20, 17, 0, 0))), "20230620T17Z");
  assert.equal(registryTimestamp(new Date(Date.UTC(2023, 11, 31, 0, 0, 0))), "20231231T00Z");
});

Deno.test("registryTimestamp formats in UTC whatever the offset of the input", () => {
  // 2023-06-20 23:30 at UTC-05:00 is 2023-06-21 04:30 UTC.
  assert.equal(registryTimestamp(new Date("2023-06-20T23:30:00-05:00")), "20230621T04Z");
  assert.equal(registryTimestamp(new Date("2023-06-21T00:10:00+02:00")), "20230620T22Z");
});

Deno.test("authorizationHeader keys the HMAC with the token's UTF-8 bytes", () => {
  const header = authorizationHeader({
    action: "push",
    collection: "vsoch",
    name: "tacos",
    tag: "latest",
    username: "dino",
    token: "sëkrit",
    timestamp: "20230620T17Z",
  });
  // Computed with Python's hmac.new("sëkrit".encode(), payload.encode(), hashlib.sha256).
  assert.equal(
    header,
    "SREGISTRY-HMAC-SHA256 Credential=push/ZGlubw==/20230620T17Z,Signature=000b0c6d0d98378dff49aad6e4d9677a710f3aabede1bc245f5033915b4c13d7",
  );
});
