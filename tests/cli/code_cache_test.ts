/**
 * Deno stores the compiled form of modules (its code cache) only when its event loop turns,
 * which `get` never needs to do: main.ts gives it a turn after a cold start. Without that, a
 * script calling `get` in a loop after a new Deno or a cleared cache would compile every module
 * on every call.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { DatabaseSync } from "node:sqlite";
import { ROOT, sregistry } from "../support/cli.ts";
import { tempHome } from "../support/home.ts";

// The turn does not always come before the process ends: each cold call stores the cache with
// a good chance, so a handful of calls store it but for a vanishing chance.
const COLD_CALLS = 16;

// The modules Deno's code cache in `denoDir` holds, as file URLs.
function cachedModules(denoDir: string): string[] {
  const db = new DatabaseSync(join(denoDir, "v8_code_cache_v2"), { readOnly: true });
  try {
    return db.prepare("SELECT specifier FROM codecache").all().map((row) => String(row.specifier));
  } finally {
    db.close();
  }
}

Deno.test("get calls after a cleared Deno cache store the code cache of what they ran", async () => {
  await using home = await tempHome();
  const added = await sregistry(["add", home.file("a.sif", "an image\n"), "--name", "lab/tool"], {
    env: home.env,
  });
  assert.equal(added.code, 0, added.stderr);
  const denoDir = await Deno.makeTempDir({ prefix: "sregistry-deno-dir-" });
  const wanted = ["main.ts", "src/cli.ts", "src/commands/get.ts", "src/core/registry.ts"]
    .map((module) => pathToFileURL(join(ROOT, module)).href);
  try {
    let cached: string[] = [];
    for (let call = 0; call < COLD_CALLS; call++) {
      const got = await sregistry(["get", "lab/tool"], { env: { ...home.env, DENO_DIR: denoDir } });
      assert.equal(got.code, 0, got.stderr);
      cached = cachedModules(denoDir);
      if (wanted.every((module) => cached.includes(module))) break;
    }
    for (const module of wanted) {
      assert.ok(cached.includes(module), `${module} is in the code cache (${cached.length} are)`);
    }
  } finally {
    await Deno.remove(denoDir, { recursive: true });
  }
});
