/**
 * The V8 flags every way of running sregistry passes to Deno: `deno task sregistry` (deno.json
 * spells them out, since a task cannot import), the command `deno task install` writes, the
 * executables `deno task compile` builds, and the tests and the benchmarks, both the processes they
 * start and their own (the `test` and `bench` tasks). V8 refuses a code cache written under other
 * flags and Deno keeps one per module, so a process that loads the sources without them leaves the
 * next start to compile everything again (about 15 ms).
 *
 * `--no-lazy` compiles every function when its module is compiled, not when the function first
 * runs. Deno stores a module's code cache right after compiling it, so by default the cache holds
 * only top-level code and every start compiles again each function a command calls: about 1.6 of
 * the 3.2 ms `get` spends running. With the flag the cache holds them all; loading them costs
 * about 0.4 ms more, so `get` starts about 1.1 ms sooner. The price falls on Node's built-in
 * modules, which are compiled at every start: importing `node:http`, `node:fs` or `node:crypto`
 * costs about 3–5 ms more, on commands that then talk to a network or hash with SHA-256.
 */
export const V8_FLAGS = ["--v8-flags=--no-lazy"];
