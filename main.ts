/** Entry point: runs the command tree on the process's arguments and exits with its code. */
import { run } from "./src/cli.ts";
import { systemHost } from "./src/context.ts";

if (import.meta.main) Deno.exit(await run(Deno.args, systemHost()));
