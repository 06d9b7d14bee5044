/** Entry point: runs the command tree on the process's arguments and exits with its code. */
// Static imports: Deno loads a static graph in one pass, which costs less than importing the
// same modules with import() (about 0.8 ms of every start-up).
//
// Every module of that graph is asked for here, by this small file, first. For each import that
// is the first to ask for a module, Deno reads the source map of the importing module (to place
// a load error), which costs in proportion to its size; asked from here, only this file's map
// is read, about 1 ms less at every start-up. tests/unit/entry_test.ts checks the list is whole.
import "node:sqlite";
import "./src/command_line.ts";
import "./src/commands/all.ts";
import "./src/commands/common.ts";
import "./src/commands/get.ts";
import "./src/commands/images.ts";
import "./src/config/secrets.ts";
import "./src/config/settings.ts";
import "./src/core/container_listing.ts";
import "./src/core/containers.ts";
import "./src/core/database.ts";
import "./src/core/edit_distance.ts";
import "./src/core/input_file.ts";
import "./src/core/listing.ts";
import "./src/core/names.ts";
import "./src/core/paths.ts";
import "./src/core/registry.ts";
import "./src/core/schema.ts";
import "./src/core/sharing.ts";
import "./src/core/storage.ts";
import "./src/errors.ts";
import "./src/output/image_listing.ts";
import "./src/output/io.ts";
import "./src/output/units.ts";
import { run } from "./src/cli.ts";
import { systemHost } from "./src/context.ts";
import { VERSION } from "./src/version.ts";

// Started later than this, Deno compiled the modules from source instead of taking them from its
// code cache (here, about 4.5 ms with the cache and over 20 without).
const COLD_START_MS = 8;
// How long a cold start waits at most for its event loop to end: a line reader's read-ahead on a
// terminal holds it, and Deno has stored the cache long before.
const COLD_EXIT_WAIT_MS = 100;
const started = performance.now();

if (import.meta.main) {
  // Scripts call `--version` to probe for the tool: answered without building the command tree.
  if (Deno.args.length === 1 && ["--version", "-V", "version"].includes(Deno.args[0])) {
    systemHost().io.out.line(VERSION);
    Deno.exit(0);
  }
  const code = await run(Deno.args, systemHost());
  if (started <= COLD_START_MS) Deno.exit(code);
  // Deno stores the compiled code of modules it compiled from source (its code cache) when its
  // event loop runs, which a command that works synchronously (`get`) never needs: exiting here
  // would leave the cache cold after a new Deno or a cleared cache, and every later call would
  // compile every module again. After a slow start, the process ends when its event loop does,
  // once the cache is stored; an unreferenced timer ends it anyway should anything hold the loop.
  Deno.exitCode = code;
  Deno.unrefTimer(setTimeout(() => Deno.exit(code), COLD_EXIT_WAIT_MS));
}
