/**
 * `sregistry shell [client]`: reads command lines from stdin and runs them without the
 * `sregistry` word until `exit` or end of input; the banner goes to stderr.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { sregistry, sregistryInProcess } from "../support/cli.ts";
import { tempHome } from "../support/home.ts";
import { lines, md5, records } from "../support/state.ts";
import { splitWords } from "../../src/commands/shell.ts";

Deno.test("shell runs 'images', 'get x' and stops at 'exit'", async () => {
  await using home = await tempHome();
  await sregistry(["add", home.file("a.sif", "hello\n"), "--name", "vsoch/hello"], {
    env: home.env,
  });
  const path = join(home.storage, "vsoch", "hello", `latest@${md5("hello\n")}.sif`);
  const session = await sregistry(["shell"], {
    env: home.env,
    stdin: "images\nget vsoch/hello\nexit\nget vsoch/hello\n",
  });
  assert.equal(session.code, 0, session.stderr);
  const out = lines(session.stdout);
  assert.match(out[0], /^Containers: {3}\[date\]/);
  assert.match(out[1], /^1 {2}.*\tvsoch\/hello:latest@/);
  assert.match(out[2], /^Total: 1 container, /);
  assert.deepEqual(out.slice(3), [path], "nothing runs after exit");
  assert.equal(
    session.stderr,
    `[client|hub] [database|sqlite:///${join(home.database, "sregistry.db")}]\n`,
  );
});

Deno.test("shell ends at end of input, reports a failing line and goes on", async () => {
  await using home = await tempHome();
  await sregistry(["record", "vsoch/r", "--url", "https://example.org/r.sif"], { env: home.env });
  const session = await sregistry(["--quiet", "shell"], {
    env: home.env,
    stdin: "\nsregistry get vsoch/missing\nbogus\nshell\n'unclosed\nget vsoch/r",
  });
  assert.equal(session.code, 0, session.stderr);
  assert.equal(session.stdout, "https://example.org/r.sif\n");
  const err = lines(session.stderr);
  assert.match(err[0], /^sregistry: no record of vsoch\/missing:latest/);
  assert.ok(err.some((line) => /unknown command 'bogus'/.test(line)), session.stderr);
  assert.ok(err.includes("sregistry: already in the shell"));
  assert.ok(err.includes("sregistry: unclosed ' quote"));
  assert.equal(err.some((line) => line.startsWith("[client|")), false, "--quiet: no banner");
});

Deno.test("shell with a client names it in the banner and shows a prompt on a terminal", async () => {
  await using home = await tempHome();
  const session = await sregistryInProcess(["shell", "registry"], {
    env: home.env,
    stdinTerminal: true,
    stderrTerminal: true,
    stdin: "version\n",
  });
  assert.equal(session.code, 0, session.stderr);
  assert.match(session.stderr, /^\[client\|registry\] \[database\|sqlite:\/\/\/.*\]\n/);
  assert.equal(session.stderr.split("sregistry> ").length - 1, 2, "a prompt before each line");
  assert.match(session.stdout, /^\d+\.\d+\.\d+/);
});

Deno.test("shell exits with the status of its last command, or of exit N", async () => {
  await using home = await tempHome();
  const cases: [stdin: string, code: number][] = [
    ["get vsoch/missing\n", 1],
    ["get vsoch/missing\nversion\n", 0],
    ["version\nbogus\n", 2],
    ["get vsoch/missing\nexit\nversion\n", 1],
    ["exit 7\nversion\n", 7],
    ["version\nquit 0\n", 0],
    ["'unclosed\n", 2],
    ["", 0],
  ];
  for (const [stdin, code] of cases) {
    const session = await sregistry(["-q", "shell"], { env: home.env, stdin });
    assert.equal(session.code, code, `${JSON.stringify(stdin)}: ${session.stderr}`);
  }
  const bad = await sregistry(["-q", "shell"], { env: home.env, stdin: "exit two\n" });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^sregistry: exit takes one status from 0 to 255, not 'two'\n$/);
});

Deno.test("shell refuses a client that does not exist, before reading a line", async () => {
  await using home = await tempHome();
  const session = await sregistry(["shell", "nope"], { env: home.env, stdin: "version\n" });
  assert.equal(session.code, 2);
  assert.equal(session.stdout, "", "no line ran");
  assert.equal(
    session.stderr,
    "sregistry: 'nope' is not a client sregistry knows; known clients: hub, registry, oras\n",
  );
  const hub = await sregistry(["shell", "shub://"], { env: home.env, stdin: "version\n" });
  assert.equal(hub.code, 0, hub.stderr);
  assert.match(hub.stderr, /^\[client\|hub\]/);
});

Deno.test("shell lines are split like a shell: quotes and backslashes", () => {
  assert.deepEqual(splitWords("get  vsoch/hello"), ["get", "vsoch/hello"]);
  assert.deepEqual(splitWords(`add "my file.sif" --name 'a/b'`), [
    "add",
    "my file.sif",
    "--name",
    "a/b",
  ]);
  assert.deepEqual(splitWords(`a\\ b "c\\"d" ''`), ["a b", 'c"d', ""]);
  assert.deepEqual(splitWords("   "), []);
  assert.throws(() => splitWords(`get "x`), /unclosed " quote/);
});

Deno.test("the shell's lines keep the global flags of its command line", async () => {
  await using home = await tempHome();
  const database = join(home.path, "other-db");
  const storage = join(home.path, "other-images");
  const file = home.file("a.sif", "hello\n");
  const session = await sregistry(["--database", database, "--storage", storage, "-q", "shell"], {
    env: home.env,
    stdin: `add --copy ${file} --name vsoch/hello\nrm vsoch/hello\nadd --copy ${file} --name x/y\n`,
  });
  assert.equal(session.code, 0, session.stderr);
  assert.equal(session.stderr.includes("[client|"), false, `-q holds: ${session.stderr}`);
  const elsewhere = await sregistry(
    ["--database", database, "--storage", storage, "images", "--json"],
    { env: home.env },
  );
  assert.deepEqual(records(elsewhere).map((record) => record.uri), [
    `x/y:latest@${md5("hello\n")}`,
  ]);
  assert.ok(Deno.statSync(records(elsewhere)[0].image!).isFile, "stored under --storage");
  const usual = await sregistry(["images", "--json"], { env: home.env });
  assert.deepEqual(records(usual), [], "the default database was not touched");
});
