/**
 * `deno task sregistry` runs the CLI in the caller's folder, with the executable's permissions;
 * `deno task install` installs an `sregistry` command that does so from anywhere.
 */
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { DENO_DIR, ROOT } from "../support/cli.ts";
import { tempHome } from "../support/home.ts";
import { permissionFlags } from "../../scripts/install.ts";
import { V8_FLAGS } from "../../scripts/v8_flags.ts";

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

Deno.test("deno task install puts an sregistry command on PATH with exactly the executable's permissions", async () => {
  await using home = await tempHome();
  const env = {
    ...home.env,
    DENO_DIR,
    PATH: `${dirname(Deno.execPath())}:${Deno.env.get("PATH") ?? ""}`,
  };
  const installed = await new Deno.Command(Deno.execPath(), {
    args: ["task", "-q", "--config", join(ROOT, "deno.json"), "install", "--root", home.path],
    env,
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(installed.code, 0, new TextDecoder().decode(installed.stderr));
  const command = join(home.path, "bin", "sregistry");
  const script = Deno.readTextFileSync(command);
  const config = JSON.parse(Deno.readTextFileSync(join(ROOT, "deno.json")));
  const flags = script.match(/ --allow-\S+/g)?.map((flag) => flag.trim());
  assert.deepEqual(flags, permissionFlags(config), "the permission set, flag for flag");
  assert.deepEqual(flags, [
    "--allow-read",
    "--allow-write",
    "--allow-net",
    "--allow-env",
    "--allow-run=singularity,apptainer",
  ]);
  assert.doesNotMatch(script, / -A | --allow-all| --allow-ffi| -P /);
  for (const flag of V8_FLAGS) {
    assert.ok(script.includes(` ${flag} `), `the command passes ${flag}`);
  }

  home.file("work/hello.sif", "hello\n");
  const output = await new Deno.Command(command, {
    args: ["add", "hello.sif", "--name", "demo/hello"],
    cwd: join(home.path, "work"),
    env,
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 0, stderr);
  // sregistry's own lines only (a not-an-image warning for this text file), no task line.
  assert.match(stderr, /^(\[warning\] [^\n]*\n)*\[container\]\[new\] demo\/hello:latest@/);
  assert.doesNotMatch(stderr, /Task|deno /);
  assert.ok(
    Deno.statSync(join(home.storage, "demo/hello/latest@b1946ac92492d2347c6235b4d2611184.sif"))
      .isFile,
  );
});

Deno.test("the tasks that run sregistry's sources pass the V8 flags every other way passes", () => {
  // Under other flags V8 refuses the code cache, and the next start compiles everything again.
  const config = JSON.parse(Deno.readTextFileSync(join(ROOT, "deno.json")));
  for (const name of ["sregistry", "test", "bench"]) {
    const task: string = config.tasks[name];
    for (const flag of V8_FLAGS) assert.ok(task.includes(` ${flag} `), `${name} passes ${flag}`);
  }
});
