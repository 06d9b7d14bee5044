/**
 * The layering rules of style.md, checked on the sources: the core never prints, exits or
 * reads the environment; imports flow commands → remotes → transfer and commands → core.
 */
import assert from "node:assert/strict";
import { dirname, join, relative, resolve } from "node:path";
import { ROOT } from "../support/cli.ts";

const SRC = join(ROOT, "src");

function sources(folder: string): string[] {
  const files: string[] = [];
  for (const entry of Deno.readDirSync(folder)) {
    const path = join(folder, entry.name);
    if (entry.isDirectory) files.push(...sources(path));
    else if (entry.name.endsWith(".ts")) files.push(path);
  }
  return files;
}

function localImports(file: string): string[] {
  const text = Deno.readTextFileSync(file);
  const found = [...text.matchAll(/(?:import|export)[^"']*?from\s+["']([^"']+)["']/g)]
    .concat([...text.matchAll(/import\(\s*["']([^"']+)["']\s*\)/g)])
    .map((match) => match[1]);
  return found.filter((spec) => spec.startsWith("."))
    .map((spec) => relative(SRC, resolve(dirname(file), spec)));
}

const FILES = sources(SRC).map((file) => ({ file, name: relative(SRC, file) }));
const layer = (name: string) => name.includes("/") ? name.split("/")[0] : name;

Deno.test("the core imports only itself, errors.ts and node builtins", () => {
  for (const { file, name } of FILES.filter((f) => layer(f.name) === "core")) {
    for (const target of localImports(file)) {
      assert.ok(
        layer(target) === "core" || target === "errors.ts",
        `${name} imports ${target}`,
      );
    }
    const text = Deno.readTextFileSync(file);
    assert.ok(!/from\s+["'](?:npm:|jsr:|https?:)/.test(text), `${name} imports a package`);
  }
});

Deno.test("the transfer layer knows no remote, command, output or config", () => {
  for (const { file, name } of FILES.filter((f) => layer(f.name) === "transfer")) {
    for (const target of localImports(file)) {
      assert.ok(
        ["transfer", "errors.ts"].includes(layer(target)) ||
          ["core/ingest.ts", "core/file_lock.ts"].includes(target),
        `${name} imports ${target}`,
      );
    }
  }
});

Deno.test("remotes never import commands or output", () => {
  for (const { file, name } of FILES.filter((f) => layer(f.name) === "remotes")) {
    for (const target of localImports(file)) {
      assert.ok(
        !["commands", "output", "cli.ts", "context.ts"].includes(layer(target)),
        `${name} imports ${target}`,
      );
    }
  }
});

Deno.test("only cli.ts and the commands import commands", () => {
  for (const { file, name } of FILES) {
    if (name === "cli.ts" || layer(name) === "commands") continue;
    for (const target of localImports(file)) {
      assert.notEqual(layer(target), "commands", `${name} imports ${target}`);
    }
  }
});

Deno.test("only context.ts touches the process's env, streams and exit", () => {
  for (const { file, name } of FILES) {
    if (name === "context.ts") continue;
    const text = Deno.readTextFileSync(file).replace(/^\s*(\/\/|\/?\*).*$/gm, "");
    for (const pattern of [/Deno\.env/, /Deno\.std(out|err|in)/, /Deno\.exit/, /console\./]) {
      assert.ok(!pattern.test(text), `${name} uses ${pattern.source}`);
    }
  }
});

Deno.test("no barrels and no utils modules", () => {
  for (const { name } of FILES) {
    assert.ok(!/(^|\/)(mod|index|utils?)\.ts$/.test(name), `${name} is a barrel or utils file`);
  }
});
