/** `sregistry completions bash|zsh|fish`: scripts generated from the command tree. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { sregistry } from "../support/cli.ts";
import { tempHome } from "../support/home.ts";
import { assertFailure, installed } from "../support/state.ts";

const COMMANDS = [
  "add",
  "get",
  "images",
  "inspect",
  "record",
  "rm",
  "rmi",
  "mv",
  "rename",
  "backend",
];

Deno.test("completions bash is valid bash that completes commands and their options", async () => {
  await using home = await tempHome();
  const result = await sregistry(["completions", "bash"], { env: home.env });
  assert.equal(result.code, 0, result.stderr);
  for (const name of COMMANDS) assert.match(result.stdout, new RegExp(`\\b${name}\\b`), name);
  assert.match(result.stdout, /complete -o default -F _sregistry sregistry/);
  assert.match(result.stdout, /add\) words="[^"]*--copy[^"]*--metadata/);
  assert.match(result.stdout, /backend\) words="ls status activate deactivate add remove delete/);

  const script = join(home.path, "sregistry.bash");
  Deno.writeTextFileSync(script, result.stdout);
  const check = new Deno.Command("bash", { args: ["-n", script], stderr: "piped" }).outputSync();
  assert.ok(check.success, `bash -n: ${new TextDecoder().decode(check.stderr)}`);

  // Loaded into bash, it completes a partial command name.
  const probe = new Deno.Command("bash", {
    args: [
      "-c",
      `source ${script}; COMP_WORDS=(sregistry ren); COMP_CWORD=1; _sregistry; echo "\${COMPREPLY[@]}"`,
    ],
    stdout: "piped",
  }).outputSync();
  assert.equal(new TextDecoder().decode(probe.stdout).trim(), "rename");
});

Deno.test({
  name: "completions zsh is valid zsh",
  ignore: !installed("zsh"),
  async fn() {
    await using home = await tempHome();
    const result = await sregistry(["completions", "zsh"], { env: home.env });
    const script = join(home.path, "_sregistry");
    Deno.writeTextFileSync(script, result.stdout);
    assert.ok(new Deno.Command("zsh", { args: ["-n", script] }).outputSync().success);
  },
});

Deno.test("completions zsh and fish name every command", async () => {
  await using home = await tempHome();
  const zsh = await sregistry(["completions", "zsh"], { env: home.env });
  assert.equal(zsh.code, 0, zsh.stderr);
  assert.match(zsh.stdout, /^#compdef sregistry\n/);
  const fish = await sregistry(["completions", "fish"], { env: home.env });
  assert.equal(fish.code, 0, fish.stderr);
  for (const name of COMMANDS) {
    assert.match(zsh.stdout, new RegExp(`\\b${name}\\b`), `zsh: ${name}`);
    assert.match(fish.stdout, new RegExp(`-a ${name} -d `), `fish: ${name}`);
  }
  assert.match(fish.stdout, /__fish_seen_subcommand_from add" -l copy/);
});

Deno.test("completions for an unknown shell is a usage error", async () => {
  await using home = await tempHome();
  const result = await sregistry(["completions", "tcsh"], { env: home.env });
  assertFailure(result, 2, /unknown shell 'tcsh'; choose bash, zsh or fish/);
  assert.equal(result.stdout, "");
});
