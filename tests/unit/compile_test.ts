/** The compile task must include every worker and command module, which `deno compile` does not find itself. */
import assert from "node:assert/strict";
import { dirname, join, relative } from "node:path";
import { ROOT } from "../support/cli.ts";
import { commandModules, RUNTIME_IMPORTS, WORKERS } from "../../scripts/compile.ts";

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

Deno.test("deno task compile includes every module the command list loads by name", () => {
  const list = Deno.readTextFileSync(join(ROOT, "src", "commands", "all.ts"));
  const loaded = [...list.matchAll(/load\("([\w-]+)", "(\w+)"\)/g)];
  assert.ok(loaded.length > 15, "the command list loads its modules by name");
  const included = commandModules(ROOT);
  for (const [, file, register] of loaded) {
    const path = `src/commands/${file}.ts`;
    assert.ok(included.includes(path), `${path} is included`);
    const source = Deno.readTextFileSync(join(ROOT, path));
    assert.match(source, new RegExp(`export function ${register}\\(`), `${path} has ${register}`);
  }
});

Deno.test("deno task compile includes every module imported by a specifier built at run time", () => {
  const imported = sources(join(ROOT, "src")).flatMap((file) =>
    [
      ...Deno.readTextFileSync(file).matchAll(
        /import\(\s*new URL\(\s*(["'`])([^"'`$]+)\1,\s*import\.meta\.url\s*\)/g,
      ),
    ]
      .map((match) => relative(ROOT, join(dirname(file), match[2])))
  );
  assert.ok(imported.includes("src/core/journal.ts"), "the journal is imported at run time");
  const included = [...WORKERS, ...RUNTIME_IMPORTS, ...commandModules(ROOT)];
  for (const path of imported) assert.ok(included.includes(path), `${path} is included`);
  for (const path of RUNTIME_IMPORTS) assert.ok(imported.includes(path), `${path} is imported`);
});
