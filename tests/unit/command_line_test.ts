/** The command-line parser: what each kind of command line turns into, and its refusals. */
import assert from "node:assert/strict";
import { closest, type Invocation, parseCommandLine, Program } from "../../src/command_line.ts";
import { UsageError } from "../../src/errors.ts";

interface Call {
  command: string;
  values: unknown[];
}

/** A small tree shaped like sregistry's, recording what each action received. */
function tree(): { program: Program; calls: Call[] } {
  const calls: Call[] = [];
  const program = new Program("tool", "1.2.3", "\nExit codes: 0 ok");
  program.description("a test tool")
    .option("-q, --quiet", "say less")
    .option("--database <folder>", "where the database is");
  program.command("add").description("add a file")
    .argument("<file>", "the file")
    .requiredOption("--name <uri>", "the name")
    .option("-c, --copy", "copy it")
    .option("-k, --key <key>", "a key")
    .option("--dry-run", "pretend")
    .addHelpText("\nExample:\n  tool add f --name a/b")
    .action((file, options) => {
      calls.push({ command: "add", values: [file, options] });
    });
  program.command("images").argument("[query...]", "filters")
    .action((query, options) => {
      calls.push({ command: "images", values: [query, options] });
    });
  const backend = program.command("backend").description("settings");
  backend.command("remove").alias("rm").argument("<backend>", "b").argument("[variable]", "v")
    .action((name, variable) => {
      calls.push({ command: "backend remove", values: [name, variable] });
    });
  return { program, calls };
}

async function runLine(args: string[]): Promise<{ invocation: Invocation; calls: Call[] }> {
  const { program, calls } = tree();
  const invocation = parseCommandLine(program, args);
  if (invocation.kind === "action") await invocation.run();
  return { invocation, calls };
}

function refusal(args: string[]): UsageError {
  const { program } = tree();
  try {
    parseCommandLine(program, args);
  } catch (error) {
    assert.ok(error instanceof UsageError, `${args.join(" ")}: ${error}`);
    return error;
  }
  throw new Error(`${args.join(" ")} was accepted`);
}

Deno.test("arguments and options reach the action, typed by their flags", async () => {
  const { invocation, calls } = await runLine(["add", "f.sif", "--name", "a/b", "-c"]);
  assert.equal(invocation.kind, "action");
  assert.deepEqual(calls, [{
    command: "add",
    values: ["f.sif", { name: "a/b", copy: true, key: undefined, dryRun: false }],
  }]);
});

Deno.test("options go anywhere after the command, in every spelling", async () => {
  const { calls } = await runLine(["add", "--name=a/b", "-ck", "v", "--", "-file-"]);
  assert.deepEqual(calls[0].values, ["-file-", {
    name: "a/b",
    copy: true,
    key: "v",
    dryRun: false,
  }]);
  const attached = await runLine(["add", "-kvalue", "f", "--name", "x", "--dry-run"]);
  assert.deepEqual(attached.calls[0].values, ["f", {
    name: "x",
    copy: false,
    key: "value",
    dryRun: true,
  }]);
});

Deno.test("global options are accepted before and after the command", async () => {
  for (const args of [["-q", "--database", "/db", "images"], ["images", "--database=/db", "-q"]]) {
    const { invocation, calls } = await runLine(args);
    assert.ok(invocation.kind === "action");
    assert.deepEqual(invocation.globals, { quiet: true, database: "/db" }, args.join(" "));
    assert.deepEqual(calls[0].values, [[], {}]);
  }
});

Deno.test("a variadic argument takes the rest; subcommands answer to their aliases", async () => {
  assert.deepEqual((await runLine(["images", "a", "b"])).calls[0].values, [["a", "b"], {}]);
  assert.deepEqual((await runLine(["backend", "rm", "registry"])).calls[0], {
    command: "backend remove",
    values: ["registry", undefined],
  });
});

Deno.test("help and version are returned as text, with the command's own help", async () => {
  for (const args of [["add", "--help"], ["add", "-h"], ["help", "add"], ["add", "-ch"]]) {
    const { invocation, calls } = await runLine(args);
    assert.ok(invocation.kind === "help", args.join(" "));
    assert.match(invocation.text, /^Usage: tool add \[options\] <file>\n/);
    assert.match(invocation.text, /--name <uri> +the name/);
    assert.match(invocation.text, /Global options:\n {2}-q, --quiet +say less/);
    assert.match(invocation.text, /Example:\n {2}tool add f --name a\/b\n\nExit codes: 0 ok\n$/);
    assert.deepEqual(calls, [], "help runs nothing");
  }
  const root = await runLine(["--help"]);
  assert.ok(root.invocation.kind === "help");
  assert.match(root.invocation.text, /Commands:\n {2}add \[options\] <file> +add a file/);
  assert.match(root.invocation.text, /backend \[command\] +settings/);
  const nested = await runLine(["help", "backend", "rm"]);
  assert.ok(nested.invocation.kind === "help");
  assert.match(nested.invocation.text, /^Usage: tool backend remove\|rm \[options\] <backend>/);
  // Help wins over whatever else is wrong on the line, but not after `--`.
  const wrongButHelp: [string[], string][] = [
    [["add", "--nmae", "x", "-h"], "tool add"],
    [["zz", "--help"], "tool"],
  ];
  for (const [args, usage] of wrongButHelp) {
    const { invocation } = await runLine(args);
    assert.ok(invocation.kind === "help", args.join(" "));
    assert.match(invocation.text, new RegExp(`^Usage: ${usage} \\[options\\]`));
  }
  assert.match(refusal(["add", "f", "--name", "x", "--", "--help"]).message, /too many arguments/);
  for (const args of [["--version"], ["-V"]]) {
    const { invocation } = await runLine(args);
    assert.deepEqual(invocation, { kind: "version", text: "1.2.3\n" });
  }
});

Deno.test("bad command lines are usage errors that say what is wrong", () => {
  const cases: [string[], RegExp, RegExp?][] = [
    [["ad"], /^unknown command 'ad'$/, /did you mean add\?/],
    [["backend", "rn", "x"], /^unknown command 'rn'$/, /did you mean rm\?/],
    [["zzzzzz"], /^unknown command 'zzzzzz'$/, /see 'tool --help'/],
    [["add", "f", "--nmae", "x"], /^unknown option '--nmae'$/, /did you mean --name\?/],
    [["add", "f", "-z"], /^unknown option '-z'$/],
    [["add", "--name", "x"], /^missing required argument 'file'$/, /usage: tool add/],
    [["add", "f", "g", "--name", "x"], /^too many arguments for 'tool add': expected 1, got 2$/],
    [["add", "f"], /^option '--name <uri>' is required$/],
    [["add", "f", "--name"], /^option '--name <uri>' needs a value$/],
    [["add", "f", "--name", "x", "--copy=yes"], /^option '--copy' does not take a value$/],
    [["backend"], /^'tool backend' needs a command: remove$/],
  ];
  for (const [args, message, hint] of cases) {
    const error = refusal(args);
    assert.match(error.message, message, args.join(" "));
    assert.equal(error.exitCode, 2);
    if (hint) assert.match(error.hint ?? "", hint, args.join(" "));
  }
});

Deno.test("suggestions are close words only", () => {
  assert.equal(closest("imgaes", ["images", "inspect", "get"]), "images");
  assert.equal(closest("rmii", ["rm", "rmi"]), "rmi");
  assert.equal(closest("xyz", ["images", "inspect"]), undefined);
});

Deno.test("an option with <value...> collects every value it is given, in order", async () => {
  const program = new Program("tool", "1.2.3", "");
  const seen: string[][] = [];
  program.command("images").option("--label <key=value...>", "repeatable")
    .option("--arch <arch>", "once").action((options) => {
      const labels: string[] = options.label;
      seen.push(labels);
    });
  for (
    const [args, expected] of [
      [["images"], []],
      [["images", "--label", "a=b"], ["a=b"]],
      [["images", "--label=a=b", "--arch", "x", "--label", "c"], ["a=b", "c"]],
    ] as const
  ) {
    const invocation = parseCommandLine(program, [...args]);
    assert.equal(invocation.kind, "action");
    if (invocation.kind === "action") await invocation.run();
    assert.deepEqual(seen.pop(), expected, args.join(" "));
  }
});

Deno.test("option and argument specs are read into their parts, and a malformed one is refused", async () => {
  const program = new Program("tool", "1", "");
  const seen: unknown[] = [];
  program.command("tag").argument("<from>", "f").argument("[to...]", "t")
    .option("-n, --dry-run", "pretend")
    .option("--label <key=value...>", "labels")
    .option("--max-size <bytes>", "a limit")
    .action((from, to, options) => {
      seen.push(from, to, options);
    });
  const invocation = parseCommandLine(program, [
    "tag",
    "a",
    "b",
    "c",
    "-n",
    "--label",
    "x=1",
    "--label",
    "y",
    "--max-size",
    "9",
  ]);
  assert.equal(invocation.kind, "action");
  if (invocation.kind === "action") await invocation.run();
  assert.deepEqual(seen, ["a", ["b", "c"], { dryRun: true, label: ["x=1", "y"], maxSize: "9" }]);

  const command = new Program("tool", "1", "").command("x");
  for (
    const flags of [
      "--Name",
      "--dry-Run",
      "-n --name",
      "-n. --name",
      "-1, --name",
      "--name <value",
      "--name [value]",
      "--name <1st>",
      "--name <a b>",
      "--",
      "name",
    ]
  ) {
    assert.throws(() => command.option(flags, ""), /bad option flags/, flags);
  }
  assert.throws(() => command.requiredOption("--name", ""), /a required option takes a value/);
  for (const spec of ["name", "<name]", "[name>", "<>", "<1st>", "<a b>", "[na.me]", "<a=b>"]) {
    assert.throws(() => command.argument(spec, ""), /bad argument spec/, spec);
  }
});
