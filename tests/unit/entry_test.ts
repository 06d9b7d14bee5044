/**
 * main.ts asks for every module of its static graph itself, so that Deno reads no other module's
 * source map at start-up (see main.ts): a module added to the graph must be added to its list.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ROOT } from "../support/cli.ts";

interface Dependency {
  code?: { specifier: string };
  isDynamic?: boolean;
}

interface GraphModule {
  specifier: string;
  dependencies?: Dependency[];
}

// What `deno info` says each module of main.ts's graph imports at run time, without import().
async function staticImports(): Promise<Map<string, string[]>> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "--config", join(ROOT, "deno.json"), join(ROOT, "main.ts")],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  const graph = JSON.parse(new TextDecoder().decode(stdout)) as { modules: GraphModule[] };
  return new Map(graph.modules.map((module) => [
    module.specifier,
    (module.dependencies ?? []).flatMap((dependency) =>
      dependency.code && !dependency.isDynamic ? [dependency.code.specifier] : []
    ),
  ]));
}

Deno.test("main.ts itself imports every module its static graph holds", async () => {
  const imports = await staticImports();
  const main = pathToFileURL(join(ROOT, "main.ts")).href;
  const reached = new Set<string>();
  const pending = [...imports.get(main)!];
  while (pending.length > 0) {
    const specifier = pending.pop()!;
    if (reached.has(specifier)) continue;
    reached.add(specifier);
    pending.push(...imports.get(specifier) ?? []);
  }
  const listed = new Set(imports.get(main));
  const missing = [...reached].filter((specifier) => !listed.has(specifier));
  assert.ok(reached.size > 15, `the graph is read (${reached.size} modules)`);
  assert.deepEqual(missing, [], "main.ts lists these modules too");
});
