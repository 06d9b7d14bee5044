/**
 * `deno task compile [target...]`: builds `dist/sregistry-<target>` with the permission set from
 * deno.json (the same one `deno task sregistry` and the tests use). Deno downloads the runtime
 * (`denort`) for each target from its release host; on an air-gapped builder, set DENORT_BIN to
 * a denort binary of the matching version and build one target at a time.
 */
import { V8_FLAGS } from "./v8_flags.ts";

/**
 * Modules `deno compile` does not find on its own, so each is included by name: the workers,
 * and the command modules, which src/commands/all.ts imports by a specifier built at run time.
 */
export const WORKERS = [
  "src/core/hash_worker.ts",
  "src/core/hash_files_worker.ts",
  "src/core/storage_walk_worker.ts",
];

/**
 * The other modules imported by a specifier built at run time (start-up then reads them only
 * when they are used): the crash journal's recovery, the claim of a storage folder that names no
 * database, and what only some `images` flags need.
 * Command modules among them are included with every command module.
 */
export const RUNTIME_IMPORTS = [
  "src/core/journal.ts",
  "src/core/store_identity.ts",
  "src/core/architecture.ts",
];

/** Every command module, as compile includes them. */
export function commandModules(root: string): string[] {
  return [...Deno.readDirSync(`${root}src/commands`)]
    .filter((entry) => entry.isFile && entry.name.endsWith(".ts"))
    .map((entry) => `src/commands/${entry.name}`)
    .sort();
}

const TARGETS = [
  "x86_64-unknown-linux-gnu",
  "aarch64-unknown-linux-gnu",
  "x86_64-apple-darwin",
  "aarch64-apple-darwin",
];

if (import.meta.main) await compile(Deno.args);

async function compile(args: string[]): Promise<void> {
  const wanted = args.length ? args : TARGETS;
  const unknown = wanted.filter((target) => !TARGETS.includes(target));
  if (unknown.length) {
    console.error(`unknown target ${unknown.join(", ")}; choose from ${TARGETS.join(", ")}`);
    Deno.exit(2);
  }
  if (Deno.env.get("DENORT_BIN") && wanted.length > 1) {
    console.error(
      "DENORT_BIN serves one target: name it, e.g. deno task compile x86_64-unknown-linux-gnu",
    );
    Deno.exit(2);
  }
  const root = new URL("../", import.meta.url).pathname;
  let failed = false;
  for (const target of wanted) {
    const output = `${root}dist/sregistry-${target}`;
    const { code } = await new Deno.Command(Deno.execPath(), {
      args: [
        "compile",
        "--no-prompt",
        ...V8_FLAGS,
        "--config",
        `${root}deno.json`,
        "-P",
        ...[...WORKERS, ...RUNTIME_IMPORTS, ...commandModules(root)]
          .flatMap((file) => ["--include", `${root}${file}`]),
        "--target",
        target,
        "--output",
        output,
        `${root}main.ts`,
      ],
    }).spawn().status;
    if (code !== 0) {
      console.error(`compile for ${target} failed (exit ${code})`);
      failed = true;
    } else {
      console.error(`built ${output}`);
    }
  }
  Deno.exit(failed ? 1 : 0);
}
