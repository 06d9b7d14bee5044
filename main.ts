/** Entry point: runs the command tree on the process's arguments and exits with its code. */
import { VERSION } from "./src/version.ts";

if (import.meta.main) {
  // Scripts call `--version` to probe for the tool: answer without loading the command tree.
  if (Deno.args.length === 1 && ["--version", "-V", "version"].includes(Deno.args[0])) {
    Deno.stdout.writeSync(new TextEncoder().encode(VERSION + "\n"));
    Deno.exit(0);
  }
  const [{ run }, { systemHost }] = await Promise.all([
    import("./src/cli.ts"),
    import("./src/context.ts"),
  ]);
  Deno.exit(await run(Deno.args, systemHost()));
}
