import { run } from "./src/cli.ts";
import { systemHost } from "./src/context.ts";

if (import.meta.main) {
  Deno.exitCode = await run(Deno.args, systemHost());
}
