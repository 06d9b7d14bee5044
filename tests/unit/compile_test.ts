/** The compile task must include every worker, since `deno compile` does not find them itself. */
import assert from "node:assert/strict";
import { dirname, join, relative } from "node:path";
import { ROOT } from "../support/cli.ts";
import { WORKERS } from "../../scripts/compile.ts";

function sources(folder: string): string[] {
  return [...Deno.readDirSync(folder)].flatMap((entry) => {
    const path = join(folder, entry.name);
    return entry.isDirectory ? sources(path) : entry.name.endsWith(".ts") ? [path] : [];
  });
}

Deno.test("deno task compile includes every worker the sources start", () => {
  const started = sources(join(ROOT, "src")).flatMap((file) =>
    [...Deno.readTextFileSync(file).matchAll(/new Worker\(\s*new URL\("([^"]+)"/g)]
      .map((match) => relative(ROOT, join(dirname(file), match[1])))
  );
  assert.ok(started.length > 0, "the hashing worker is started somewhere");
  assert.deepEqual(started.sort(), [...WORKERS].sort());
});

Deno.test("the sources read no file next to themselves at run time", () => {
  for (const file of sources(join(ROOT, "src"))) {
    const text = Deno.readTextFileSync(file);
    const reads = text.match(/Deno\.(readTextFile|readFile|open)(Sync)?\([^)]*import\.meta/g);
    assert.equal(reads, null, `${relative(ROOT, file)} reads a file beside the source`);
  }
});
