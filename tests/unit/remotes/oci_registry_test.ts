/** Request paths of the distribution API: every segment escaped on its own, none can move the path. */
import assert from "node:assert/strict";
import { apiPath } from "../../../src/remotes/oci_registry.ts";
import { InvalidNameError } from "../../../src/errors.ts";

Deno.test("apiPath escapes each segment, so a name never leaves the repository's path", () => {
  assert.equal(apiPath("lab/x", "manifests", "v1"), "/v2/lab/x/manifests/v1");
  assert.equal(
    apiPath("lab/x", "blobs", `sha256:${"a".repeat(64)}`),
    `/v2/lab/x/blobs/sha256:${"a".repeat(64)}`,
  );
  const hostile = apiPath("lab/x", "manifests", "../../y?n=1#f");
  assert.equal(hostile, "/v2/lab/x/manifests/..%2F..%2Fy%3Fn%3D1%23f");
  assert.equal(new URL(hostile, "http://127.0.0.1").pathname, hostile, "the URL keeps it whole");
  for (const segment of ["..", ".", ""]) {
    assert.throws(() => apiPath("lab/x", "manifests", segment), InvalidNameError);
  }
  assert.throws(() => apiPath("lab/../x", "tags", "list"), InvalidNameError);
});
