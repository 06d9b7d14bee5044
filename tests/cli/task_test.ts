/** `deno task sregistry` runs the CLI in the caller's folder, with the executable's permissions. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { DENO_DIR, ROOT } from "../support/cli.ts";
import { tempHome } from "../support/home.ts";

Deno.test("deno task sregistry resolves relative paths against the folder it is run from", async () => {
  await using home = await tempHome();
  home.file("work/hello.sif", "hello\n");
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "task",
      "-q",
      "--config",
      join(ROOT, "deno.json"),
      "sregistry",
      "add",
      "hello.sif",
      "--name",
      "demo/hello",
    ],
    cwd: join(home.path, "work"),
    env: {
      ...home.env,
      DENO_DIR,
      PATH: Deno.env.get("PATH") ?? "",
    },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 0, stderr);
  assert.match(stderr, /\[container\]\[new\] demo\/hello:latest@b1946ac92492d2347c6235b4d2611184/);
  assert.ok(
    Deno.statSync(join(home.storage, "demo/hello/latest@b1946ac92492d2347c6235b4d2611184.sif"))
      .isFile,
  );
});
