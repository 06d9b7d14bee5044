/**
 * `search` and `delete` of oras:// images against Debian's docker-registry: every page of a tag
 * list (2.8 does not page it, so a proxy of the tests does), sorted, with digests and sizes in
 * --json; the catalog, and a registry that refuses it; deletes by tag and digest, disabled
 * deletes, missing images, and confirmation.
 */
import assert from "node:assert/strict";
import { sregistry } from "../support/cli.ts";
import {
  REGISTRY_PASSWORD,
  REGISTRY_USER,
  registryTest,
  startDockerRegistry,
  startProxy,
} from "../support/docker_registry.ts";
import { tempHome } from "../support/home.ts";
import { pushShape, sifBytes } from "../support/oci_artifacts.ts";
import { assertTransferFailure } from "../support/pulls.ts";
import { assertFailure, lines } from "../support/state.ts";

registryTest(
  "search lists every tag across pages, sorted; --json adds digest and size",
  async () => {
    await using registry = await startDockerRegistry({ relativeUrls: true });
    const pushed: Record<string, { digest: string; size: number }> = {};
    for (const [i, tag] of ["v2", "latest", "v10", "a-first", "v1"].entries()) {
      const bytes = sifBytes(10_000 + i, 30 + i);
      const artifact = await pushShape(registry, "lab/tools", tag, bytes, "apptainer-1.3.1");
      pushed[tag] = { digest: artifact.manifestDigest, size: bytes.byteLength };
    }
    // Two tags a page, in the registry's (unsorted) order, linked with relative URLs.
    await using proxy = startProxy(registry, async (_req, url) => {
      if (!url.pathname.endsWith("/tags/list")) return null;
      const all = (await (await fetch(`${registry.url}${url.pathname}`)).json()).tags as string[];
      const last = url.searchParams.get("last");
      const start = last === null ? 0 : all.indexOf(last) + 1;
      const page = all.slice(start, start + 2);
      const headers = new Headers({ "content-type": "application/json" });
      if (start + 2 < all.length) {
        headers.set("link", `<${url.pathname}?n=2&last=${page.at(-1)}>; rel="next"`);
      }
      return new Response(JSON.stringify({ name: "lab/tools", tags: page }), { headers });
    });
    await using home = await tempHome();
    const table = await sregistry(["search", `oras://${proxy.host}/lab/tools`], { env: home.env });
    assert.equal(table.code, 0, table.stderr);
    assert.deepEqual(
      lines(table.stdout).slice(1),
      ["a-first", "latest", "v1", "v10", "v2"].map((tag) =>
        `oras://${proxy.host}/lab/tools:${tag}`
      ),
    );
    assert.equal(
      proxy.requests.filter((seen) => seen.path.includes("/tags/list")).length,
      3,
      "three pages",
    );

    const json = await sregistry(["search", "--json", `oras://${proxy.host}/lab/tools:v1`], {
      env: home.env,
    });
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(
      JSON.parse(json.stdout),
      ["v1", "v10"].map((tag) => ({
        uri: `oras://${proxy.host}/lab/tools:${tag}`,
        registry: proxy.host,
        repository: "lab/tools",
        tag,
        digest: pushed[tag].digest,
        size: pushed[tag].size,
        media_type: "application/vnd.oci.image.manifest.v1+json",
      })),
    );
  },
);

registryTest(
  "search of a host lists its catalog, or says the registry does not list it",
  async () => {
    await using registry = await startDockerRegistry({ auth: "bearer", relativeUrls: true });
    for (const repository of ["b/two", "a/one", "c/three"]) {
      await pushShape(registry, repository, "1", sifBytes(5000, 1), "apptainer-1.3.1");
    }
    await using home = await tempHome();
    const listed = await sregistry(["search", `oras://${registry.host}`], { env: home.env });
    assert.equal(listed.code, 0, listed.stderr);
    assert.deepEqual(
      lines(listed.stdout).slice(1),
      ["a/one", "b/two", "c/three"].map((name) => `oras://${registry.host}/${name}`),
    );
    assert.ok(registry.tokenRequests.some((seen) => seen.scopes.includes("registry:catalog:*")));

    await using refusing = startProxy(
      registry,
      (_req, url) =>
        url.pathname === "/v2/_catalog"
          ? Response.json({ errors: [{ code: "UNAUTHORIZED", message: "no catalog" }] }, {
            status: 401,
            headers: { "www-authenticate": 'Basic realm="x"' },
          })
          : null,
    );
    assertTransferFailure(
      await sregistry(["search", `oras://${refusing.host}`], { env: home.env }),
      1,
      /does not list its repositories; search one repository instead: sregistry search oras:\/\//,
    );
    assertFailure(
      await sregistry(["search", "oras://"], { env: home.env }),
      2,
      /search needs a registry or a repository/,
    );
  },
);

registryTest("delete resolves a tag to its digest and deletes the manifest", async () => {
  await using registry = await startDockerRegistry({ auth: "bearer" });
  await using home = await tempHome();
  const env = {
    ...home.env,
    SREGISTRY_ORAS_USERNAME: REGISTRY_USER,
    SREGISTRY_ORAS_PASSWORD: REGISTRY_PASSWORD,
  };
  const one = await pushShape(registry, "t/d", "1", sifBytes(5000, 2), "apptainer-1.3.1");
  const two = await pushShape(registry, "t/d", "2", sifBytes(6000, 3), "apptainer-1.3.1");

  assertFailure(
    await sregistry(["delete", `oras://${registry.host}/t/d:1`], { env }),
    2,
    /refusing to delete .* without confirmation/,
  );
  const deleted = await sregistry(["delete", "--force", `oras://${registry.host}/t/d:1`], { env });
  assert.equal(deleted.code, 0, deleted.stderr);
  assert.equal(deleted.stdout.trim(), `oras://${registry.host}/t/d:1@${one.manifestDigest}`);
  assert.ok(
    registry.tokenRequests.some((seen) => seen.scopes.includes("repository:t/d:delete,pull")),
  );
  assertTransferFailure(
    await sregistry(["pull", `oras://${registry.host}/t/d:1`], { env }),
    1,
    /was not found/,
  );

  const byDigest = await sregistry(
    ["delete", "--force", `oras://${registry.host}/t/d@${two.manifestDigest}`],
    { env },
  );
  assert.equal(byDigest.code, 0, byDigest.stderr);
  assertTransferFailure(
    await sregistry(["delete", "--force", `oras://${registry.host}/t/d:2`], { env }),
    1,
    /t\/d:2 was not found/,
  );
});

registryTest("a registry with deletion disabled answers 405, said in one line", async () => {
  await using registry = await startDockerRegistry({ deleteEnabled: false });
  await using home = await tempHome();
  await pushShape(registry, "t/keep", "1", sifBytes(5000, 4), "apptainer-1.3.1");
  assertTransferFailure(
    await sregistry(["delete", "--force", `oras://${registry.host}/t/keep:1`], { env: home.env }),
    1,
    /does not allow deleting images: HTTP 405.*UNSUPPORTED.*; its administrator must enable deletion/,
  );
  const still = await sregistry(["pull", `oras://${registry.host}/t/keep:1`], { env: home.env });
  assert.equal(still.code, 0, still.stderr);
});
