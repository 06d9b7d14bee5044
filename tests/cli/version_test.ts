/**
 * `sregistry version` and `--version`, the top-level help, and every command's `--help`
 * carrying an example and the exit codes.
 */
import assert from "node:assert/strict";
import type { AnyCommand } from "../../src/command_line.ts";
import { sregistry, sregistryCommand, sregistryInProcess } from "../support/cli.ts";
import { tempHome } from "../support/home.ts";
import { buildProgram } from "../../src/cli.ts";
import { createContext } from "../../src/context.ts";
import { outputStream } from "../../src/output/io.ts";
import { VERSION } from "../../src/version.ts";
import { fileTree, md5 } from "../support/state.ts";

const EXIT_CODES =
  /Exit codes:\n {2}0 +success\n {2}1 +.*\n {2}2 +bad usage.*\n {2}130 +interrupted/;

Deno.test("version and --version print the version, and read no settings", async () => {
  await using home = await tempHome();
  home.file(".sregistry", "{ corrupt");
  for (const args of [["version"], ["--version"], ["-V"]]) {
    const result = await sregistry(args, { env: home.env });
    assert.deepEqual([result.code, result.stdout, result.stderr], [0, `${VERSION}\n`, ""], args[0]);
  }
  assert.match(VERSION, /^\d+\.\d+\.\d+/);
  assert.deepEqual(fileTree(home.path), [`.sregistry 9 ${md5("{ corrupt")}`], "nothing created");
});

Deno.test("--version to a reader that went away exits 0, as a probe in a pipeline expects", async () => {
  await using home = await tempHome();
  // The reader closes its end at once, before sregistry (tens of milliseconds to start) writes.
  const probe = '"$@" --version | (exec 0<&-; sleep 0.3); echo "${PIPESTATUS[0]}"';
  const { stdout, stderr } = await new Deno.Command("bash", {
    args: ["-c", probe, "bash", Deno.execPath(), ...sregistryCommand([])],
    env: home.env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoded = new TextDecoder().decode(stderr);
  assert.equal(new TextDecoder().decode(stdout), "0\n", decoded);
  assert.equal(decoded, "");
});

Deno.test("sregistry with no arguments or --help prints the help with the exit codes", async () => {
  await using home = await tempHome();
  for (const args of [[], ["--help"]]) {
    const result = await sregistry(args, { env: home.env });
    assert.equal(result.code, 0);
    assert.match(result.stdout, /^Usage: sregistry /);
    assert.match(result.stdout, EXIT_CODES);
  }
});

Deno.test("an unknown command or flag exits 2 with a suggestion", async () => {
  await using home = await tempHome();
  const typo = await sregistry(["imgaes"], { env: home.env });
  assert.equal(typo.code, 2);
  assert.match(typo.stderr, /^sregistry: unknown command 'imgaes'/);
  assert.match(typo.stderr, /did you mean images\?/);
  const flag = await sregistry(["images", "--bogus"], { env: home.env });
  assert.equal(flag.code, 2);
  assert.match(flag.stderr, /^sregistry: unknown option '--bogus'/);
});

/** Every command and subcommand path, e.g. ["add"], ["backend", "ls"]. */
async function commandPaths(): Promise<string[][]> {
  let sink = "";
  const stream = outputStream((text) => sink += text);
  const host = {
    io: {
      out: stream,
      err: stream,
      in: { isTerminal: false, readLine: () => Promise.resolve(null) },
    },
    env: {},
    cwd: "/",
    interrupts: () => new AbortController().signal,
  };
  const program = await buildProgram(host, createContext(host));
  const paths: string[][] = [];
  const walk = (command: AnyCommand, prefix: string[]) => {
    for (const sub of command.commands) {
      paths.push([...prefix, sub.name]);
      walk(sub, [...prefix, sub.name]);
    }
  };
  walk(program, []);
  return paths;
}

Deno.test("every command's --help has an example and the exit codes", async () => {
  const paths = await commandPaths();
  for (const name of ["add", "get", "images", "inspect", "record", "rm", "rmi", "mv", "rename"]) {
    assert.ok(paths.some((path) => path.join(" ") === name), `${name} is a command`);
  }
  for (const path of paths) {
    const result = await sregistryInProcess([...path, "--help"], { env: { HOME: "/nonexistent" } });
    const what = `sregistry ${path.join(" ")} --help`;
    assert.equal(result.code, 0, what);
    assert.match(result.stdout, new RegExp(`^Usage: sregistry ${path.join(" ")}`), what);
    assert.match(
      result.stdout,
      /\nExamples?:\n {2}(sregistry|singularity|SREGISTRY_)/,
      `${what}: example`,
    );
    assert.match(result.stdout, EXIT_CODES, `${what}: exit codes`);
  }
});

Deno.test("a command's --help works from the real executable too", async () => {
  await using home = await tempHome();
  const result = await sregistry(["add", "--help"], { env: home.env });
  assert.equal(result.code, 0);
  assert.match(result.stdout, /Usage: sregistry add \[options\] <file>/);
  assert.match(result.stdout, /Examples:\n {2}sregistry add /);
  assert.match(result.stdout, EXIT_CODES);
  assert.deepEqual(fileTree(home.path), [], "help creates nothing");
});
