/**
 * `sregistry completions bash|zsh|fish`: scripts generated from the command tree that complete
 * commands and options, and image names, collections, clients and backends by asking
 * `sregistry __complete` as the user types; run here in real bash, zsh and fish.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { DENO_DIR, sregistry, sregistryCommand } from "../support/cli.ts";
import { type TempHome, tempHome } from "../support/home.ts";
import { assertFailure, exists, installed, lines } from "../support/state.ts";

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
  assert.match(
    result.stdout,
    /backend\)\n\s+case "\$sub" in\n\s+""\) words="ls status activate deactivate add remove delete/,
  );

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

/**
 * A home with records, a backend in the secrets file, and `bin/sregistry`: a script that runs
 * the CLI from source, as the completion scripts run `sregistry` by the name typed.
 */
async function completionHome(): Promise<TempHome & { shellEnv: Record<string, string> }> {
  const home = await tempHome();
  for (
    const args of [
      ["add", home.file("a.sif", "alpha\n"), "--name", "vsoch/hello-world"],
      ["add", home.file("b.sif", "beta\n"), "--name", "vsoch/hello-world:v2"],
      ["record", "lab/tool:1.4", "--url", "https://example.org/t.sif"],
    ]
  ) {
    const result = await sregistry(args, { env: { ...home.env, SREGISTRY_CLIENT: "registry" } });
    assert.equal(result.code, 0, result.stderr);
  }
  home.file(".sregistry", JSON.stringify({ myregistry: { SREGISTRY_REGISTRY_BASE: "x" } }));
  const quoted = [Deno.execPath(), ...sregistryCommand([])]
    .map((word) => `'${word.replaceAll("'", `'\\''`)}'`).join(" ");
  const bin = home.file("bin/sregistry", `#!/bin/sh\nexec ${quoted} "$@"\n`);
  Deno.chmodSync(bin, 0o755);
  const shellEnv = {
    ...home.env,
    PATH: `${join(home.path, "bin")}:${Deno.env.get("PATH") ?? "/usr/bin:/bin"}`,
    DENO_DIR,
    NO_COLOR: "1",
  };
  return Object.assign(home, { shellEnv });
}

function runShell(shell: string, args: string[], env: Record<string, string>): string {
  const output = new Deno.Command(shell, {
    args,
    env,
    cwd: env.HOME,
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).outputSync();
  const decoder = new TextDecoder();
  assert.ok(output.success, `${shell}: ${decoder.decode(output.stderr)}`);
  assert.equal(decoder.decode(output.stderr), "", `${shell} printed on stderr`);
  return decoder.decode(output.stdout);
}

Deno.test("completions bash completes names, tags, collections, clients, backends and sort fields", async () => {
  await using home = await completionHome();
  const script = home.file("sregistry.bash", (await sregistry(["completions", "bash"])).stdout);
  // Completes `line` as bash does: its words split at blanks and at the ':' before a tag.
  const complete = (line: string): string[] => {
    const words = line.split(" ").flatMap((word) =>
      word.split(/(:)/).filter((part, i, all) => part !== "" || (i === 0 && all.length === 1))
    );
    const probe = `source ${script}; COMP_LINE="$1"; COMP_POINT=\${#COMP_LINE}; shift; ` +
      `COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _sregistry; printf '%s\\n' "\${COMPREPLY[@]}"`;
    return lines(runShell("bash", ["-c", probe, "bash", line, ...words], home.shellEnv))
      .filter((word) => word !== "").sort();
  };
  assert.deepEqual(complete("sregistry get vs"), [
    "vsoch/hello-world:latest",
    "vsoch/hello-world:v2",
  ]);
  // bash replaces what follows the ':': the candidates are tags.
  assert.deepEqual(complete("sregistry rmi vsoch/hello-world:"), ["latest", "v2"]);
  assert.deepEqual(complete("sregistry inspect vsoch/hello-world:v"), ["v2"]);
  const version = lines((await sregistry(["images", "--uris", "hello-world:v2"], home)).stdout)[0];
  assert.deepEqual(complete(`sregistry get vsoch/hello-world:v2@`), [version.split(":")[1]]);
  assert.deepEqual(complete("sregistry rename l"), ["lab/tool:1.4"]);
  assert.deepEqual(complete("sregistry import --collection "), ["lab", "vsoch"]);
  assert.deepEqual(complete("sregistry images --client "), ["hub", "oras", "registry"]);
  assert.deepEqual(complete("sregistry images --sort s"), ["size"]);
  assert.deepEqual(complete("sregistry backend ls m"), ["myregistry"]);
  assert.deepEqual(complete("sregistry backend activate o"), ["oras"]);
  assert.deepEqual(complete("sregistry shell r"), ["registry"]);
  assert.deepEqual(complete("sregistry --database . get nothing-like-this"), []);
  assert.deepEqual(complete("sregistry get --h"), ["--help"], "options when one is typed");
  assert.ok(complete("sregistry inspect ./").includes("./sregistry.bash"), "inspect takes paths");
});

Deno.test({
  name: "completions zsh completes names and tags in a real zsh",
  ignore: !installed("zsh"),
  async fn() {
    await using home = await completionHome();
    const script = home.file("_sregistry", (await sregistry(["completions", "zsh"])).stdout);
    // An interactive zsh in a pseudo-terminal: type a line and Tab, then go to the line's start
    // and make it print itself ("COMP""LETED" so that the echo of the typing does not match).
    const typed = ["sregistry get vs", "sregistry rm vsoch/hello-world:v", "sregistry ren"];
    const session = home.file(
      "session.zsh",
      `zmodload zsh/zpty
zpty -b z 'PS1="> " zsh -f -i'
zpty -w z 'bindkey -e; autoload -U compinit && compinit -u && source ${script}'
for line in ${typed.map((line) => `'${line}'`).join(" ")}; do
  zpty -w -n z "$line"$'\\t\\x01print -r -- "COMP""LETED:" \\n'
  zpty -r z chunk '*COMPLETED: *'$'\\n'
  print -r -- "\${\${chunk##*COMPLETED: }%%$'\\r'*}"
done
zpty -d z
`,
    );
    const shown = lines(runShell("zsh", ["-f", session], home.shellEnv));
    assert.deepEqual(shown, [
      "sregistry get vsoch/hello-world:",
      "sregistry rm vsoch/hello-world:v2",
      "sregistry rename",
    ]);
  },
});

Deno.test({
  name: "completions fish completes names, tags, clients and backends in a real fish",
  ignore: !installed("fish"),
  async fn() {
    await using home = await completionHome();
    const script = home.file("sregistry.fish", (await sregistry(["completions", "fish"])).stdout);
    const complete = (line: string) =>
      lines(runShell("fish", ["-c", `source ${script}; complete -C '${line}'`], home.shellEnv))
        .map((candidate) => candidate.split("\t")[0]);
    assert.deepEqual(complete("sregistry get vs"), [
      "vsoch/hello-world:latest",
      "vsoch/hello-world:v2",
    ]);
    assert.deepEqual(complete("sregistry rmi vsoch/hello-world:v"), ["vsoch/hello-world:v2"]);
    assert.deepEqual(complete("sregistry images --client "), ["hub", "oras", "registry"]);
    assert.deepEqual(complete("sregistry images --sort u"), ["used"]);
    assert.deepEqual(complete("sregistry backend remove "), ["myregistry"]);
    assert.deepEqual(complete("sregistry import --collection l"), ["lab"]);
    assert.deepEqual(complete("sregistry ren"), ["rename"]);
  },
});

Deno.test("__complete prints words one per line, and nothing at all without a usable database", async () => {
  await using home = await completionHome();
  const complete = (args: string[], env = home.env) => sregistry(["__complete", ...args], { env });
  const names = await complete(["images", "vsoch/"]);
  assert.deepEqual([names.code, names.stdout, names.stderr], [
    0,
    "vsoch/hello-world:latest\nvsoch/hello-world:v2\n",
    "",
  ]);
  assert.equal((await complete(["collections"])).stdout, "lab\nvsoch\n");
  assert.equal((await complete(["clients"])).stdout, "registry\n");
  assert.equal((await complete(["backends", "my"])).stdout, "myregistry\n");

  // No database: nothing printed, and none created.
  await using empty = await tempHome();
  const none = await complete(["images"], empty.env);
  assert.deepEqual([none.code, none.stdout, none.stderr], [0, "", ""]);
  assert.equal(exists(empty.database), false, "no database folder made");
  const disabled = await complete(["images"], { ...home.env, SREGISTRY_DISABLE: "1" });
  assert.deepEqual([disabled.code, disabled.stdout, disabled.stderr], [0, "", ""]);

  // A database another process holds locked, or a damaged one: nothing, and no error.
  const path = join(home.database, "sregistry.db");
  const holder = new DatabaseSync(path);
  holder.exec("BEGIN EXCLUSIVE");
  try {
    const locked = await complete(["images"]);
    assert.deepEqual([locked.code, locked.stdout, locked.stderr], [0, "", ""]);
  } finally {
    holder.exec("ROLLBACK");
    holder.close();
  }
  Deno.writeTextFileSync(path, "not a database, not at all".repeat(100));
  const damaged = await complete(["images"]);
  assert.deepEqual([damaged.code, damaged.stdout, damaged.stderr], [0, "", ""]);

  assertFailure(await complete(["colours"]), 2, /unknown kind 'colours'; choose images/);
  const help = await sregistry(["--help"]);
  assert.doesNotMatch(help.stdout, /__complete/, "hidden from help");
});
