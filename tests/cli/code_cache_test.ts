/**
 * Deno stores the compiled form of modules (its code cache) only when its event loop runs, which
 * `get` never needs: after a cold start, main.ts lets the loop end on its own. Without that, a
 * script calling `get` in a loop after a new Deno or a cleared cache would compile every module
 * on every call.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { DatabaseSync } from "node:sqlite";
import { ROOT, sregistry, startSregistry } from "../support/cli.ts";
import { tempHome } from "../support/home.ts";

// The modules Deno's code cache in `denoDir` holds, as file URLs.
function cachedModules(denoDir: string): string[] {
  const db = new DatabaseSync(join(denoDir, "v8_code_cache_v2"), { readOnly: true });
  try {
    return db.prepare("SELECT specifier FROM codecache").all().map((row) => String(row.specifier));
  } finally {
    db.close();
  }
}

Deno.test("a get after a cleared Deno cache stores the code cache of what it ran", async () => {
  await using home = await tempHome();
  const added = await sregistry(["add", home.file("a.sif", "an image\n"), "--name", "lab/tool"], {
    env: home.env,
  });
  assert.equal(added.code, 0, added.stderr);
  const denoDir = await Deno.makeTempDir({ prefix: "sregistry-deno-dir-" });
  const wanted = ["main.ts", "src/cli.ts", "src/commands/get.ts", "src/core/registry.ts"]
    .map((module) => pathToFileURL(join(ROOT, module)).href);
  try {
    const got = await sregistry(["get", "lab/tool"], { env: { ...home.env, DENO_DIR: denoDir } });
    assert.equal(got.code, 0, got.stderr);
    assert.equal(got.stdout.trim().endsWith(".sif"), true, got.stdout);
    const cached = cachedModules(denoDir);
    for (const module of wanted) {
      assert.ok(cached.includes(module), `${module} is in the code cache (${cached.length} are)`);
    }
  } finally {
    await Deno.remove(denoDir, { recursive: true });
  }
});

Deno.test("after a cold start, shell ends on exit though its input stays open", async () => {
  await using home = await tempHome();
  const denoDir = await Deno.makeTempDir({ prefix: "sregistry-deno-dir-" });
  const shell = startSregistry(["shell"], {
    env: { ...home.env, DENO_DIR: denoDir },
    stdin: "piped",
  });
  const input = shell.stdin.getWriter();
  // A hung process would hang the suite: past this, it is killed and the test fails.
  const watchdog = setTimeout(() => shell.kill("SIGKILL"), 60_000);
  try {
    await input.write(new TextEncoder().encode("exit 3\n"));
    const { code, signal } = await shell.status;
    assert.deepEqual([code, signal], [3, null], "shell ended by itself with exit's status");
  } finally {
    clearTimeout(watchdog);
    await input.close().catch(() => {});
    await shell.stdout.cancel();
    await shell.stderr.cancel();
    await Deno.remove(denoDir, { recursive: true });
  }
});
