/** cli.ts's one catch: how errors become a message and an exit code. */
import assert from "node:assert/strict";
import { run } from "../../src/cli.ts";
import type { Host } from "../../src/context.ts";
import { outputStream } from "../../src/output/io.ts";
import { tempHome } from "../support/home.ts";

// A host whose interrupt signal breaks with an error no layer expects, as a bug would.
function brokenHost(env: Record<string, string>, cwd: string): Host & { stderr: () => string } {
  let stderr = "";
  return {
    io: {
      out: outputStream(() => {}),
      err: outputStream((text) => stderr += text),
      in: { isTerminal: false, readLine: () => Promise.resolve(null) },
    },
    env,
    cwd,
    interrupts: () => {
      throw new TypeError("a bug: cannot read properties of undefined");
    },
    stderr: () => stderr,
  };
}

Deno.test("an unexpected internal error exits 1 with one line, and the stack only with --debug", async () => {
  await using home = await tempHome();
  const host = brokenHost(home.env, home.path);
  const code = await run(["pull", "https://127.0.0.1:1/x.sif", "--name", "a/b"], host);
  assert.equal(code, 1);
  assert.equal(
    host.stderr(),
    "sregistry: unexpected error: a bug: cannot read properties of undefined " +
      "(run with --debug for the stack)\n",
  );
  const debug = brokenHost(home.env, home.path);
  assert.equal(await run(["--debug", "search", "hub://x"], debug), 1);
  assert.match(debug.stderr(), /unexpected error: a bug.*\nTypeError: a bug.*\n\s+at /s);
});
