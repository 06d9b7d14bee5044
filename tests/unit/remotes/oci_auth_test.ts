/**
 * Challenges and scopes: `WWW-Authenticate` values as registries send them (several challenges,
 * quoted values holding commas and spaces), and scopes merged per repository.
 */
import assert from "node:assert/strict";
import { mergeScopes, parseChallenges } from "../../../src/remotes/oci_auth.ts";

Deno.test("parseChallenges reads distribution's Bearer challenge with its scope list", () => {
  const header = 'Bearer realm="https://auth.example.org/token",service="registry.example.org",' +
    'scope="repository:t/sif:pull repository:t/sif:push",error="insufficient_scope"';
  assert.deepEqual(parseChallenges(header), [{
    scheme: "bearer",
    params: {
      realm: "https://auth.example.org/token",
      service: "registry.example.org",
      scope: "repository:t/sif:pull repository:t/sif:push",
      error: "insufficient_scope",
    },
  }]);
});

Deno.test("parseChallenges reads several challenges and commas inside quotes", () => {
  const header = 'Basic realm="Registry, the realm", Bearer realm="https://h/t?x=1,2",' +
    " service=plain, Negotiate";
  assert.deepEqual(parseChallenges(header), [
    { scheme: "basic", params: { realm: "Registry, the realm" } },
    { scheme: "bearer", params: { realm: "https://h/t?x=1,2", service: "plain" } },
    { scheme: "negotiate", params: {} },
  ]);
});

Deno.test("parseChallenges unescapes quoted pairs and ignores garbage", () => {
  assert.deepEqual(parseChallenges('Basic realm="a \\"b\\""'), [
    { scheme: "basic", params: { realm: 'a "b"' } },
  ]);
  assert.deepEqual(parseChallenges(""), []);
});

Deno.test("mergeScopes names each repository once with the union of its actions", () => {
  assert.deepEqual(
    mergeScopes(["repository:t/sif:pull"], ["repository:t/sif:push", "repository:t/sif:pull"]),
    ["repository:t/sif:pull,push"],
  );
  assert.deepEqual(
    mergeScopes(["repository:b:pull", "registry:catalog:*", "repository:a:delete,pull"]),
    ["registry:catalog:*", "repository:a:delete,pull", "repository:b:pull"],
  );
});
