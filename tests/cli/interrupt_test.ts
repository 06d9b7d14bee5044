/**
 * Interrupted pulls, black-box: Ctrl-C (SIGINT) exits 130 and keeps the part file, an abrupt
 * death (SIGKILL) leaves a stale lock behind; either way the next pull resumes and ends with the
 * right file and one record. The hub is throttled so a pull is caught in the middle.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { sregistry, sregistryInProcess, startSregistry } from "../support/cli.ts";
import { type FakeHub, generatedMd5, startFakeHub } from "../support/fake_hub.ts";
import { type TempHome, tempHome } from "../support/home.ts";
import { md5, records } from "../support/state.ts";
import {
  downloadRequests,
  filesUnder,
  hubEnv,
  imageFiles,
  leftovers,
  partFiles,
  spawnSregistry,
  waitFor,
} from "../support/pulls.ts";

const SIZE = 64 * 1024 * 1024;
const SEED = 5;
// Slow enough to be caught mid-transfer, fast enough to reach a few MiB soon.
const THROTTLE = 8 * 1024 * 1024;
// The writer flushes 128 KiB blocks; wait until a few MiB reached the disk.
const SOME_BYTES = 4 * 1024 * 1024;

async function setup(home: TempHome, hub: FakeHub) {
  const image = hub.addImage("lab", "huge", "latest", { size: SIZE, seed: SEED });
  const digest = await generatedMd5(SIZE, SEED);
  const env = hubEnv(home, hub);
  assert.equal((await sregistry(["images"], { env })).code, 0, "database created up front");
  return { image, digest, env, path: join(home.storage, "lab", "huge", `latest@${digest}.sif`) };
}

function partSize(home: TempHome): number {
  return partFiles(home.storage)[0]?.size ?? 0;
}

/** Resumes at full speed and checks the outcome: Range asked, right MD5, one record, no leftovers. */
async function resumeAndCheck(
  home: TempHome,
  hub: FakeHub,
  expected: Awaited<ReturnType<typeof setup>>,
  keptBytes: number,
) {
  hub.setThrottle(null);
  const resumed = await sregistry(["pull", "hub://lab/huge"], { env: expected.env });
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.equal(resumed.stdout, `${expected.path}\n`);
  const last = downloadRequests(hub, expected.image).at(-1)!;
  assert.equal(last.headers.range, `bytes=${keptBytes}-`, "the pull resumed where it stopped");
  assert.deepEqual(imageFiles(home.storage), [`lab/huge/latest@${expected.digest}.sif`]);
  assert.equal(md5(Deno.readFileSync(expected.path)), expected.digest);
  assert.deepEqual(leftovers(home.storage), []);
  const listed = records(await sregistry(["images", "--json"], { env: expected.env }));
  assert.equal(listed.length, 1);
  assert.equal(listed[0].md5, expected.digest);
  assert.equal(listed[0].size, SIZE);
}

Deno.test("Ctrl-C (SIGINT) exits 130, keeps the part file, and the next pull resumes it", async () => {
  await using hub = await startFakeHub({ throttle: THROTTLE });
  await using home = await tempHome();
  const expected = await setup(home, hub);

  const running = spawnSregistry(["pull", "hub://lab/huge"], expected.env);
  await waitFor(() => partSize(home) >= SOME_BYTES, "the part file to grow");
  const seen = partSize(home);
  running.child.kill("SIGINT");
  const interrupted = await running.result;

  assert.equal(interrupted.code, 130, interrupted.stderr);
  assert.match(interrupted.stderr.trim().split("\n").at(-1)!, /^sregistry: interrupted/);
  assert.equal(interrupted.stdout, "");
  const kept = partSize(home);
  assert.ok(kept >= seen && kept < SIZE, `the part file is kept (${kept} bytes)`);
  assert.deepEqual(imageFiles(home.storage), []);
  assert.ok(!filesUnder(home.storage).some((file) => file.endsWith(".lock")), "lock released");
  assert.deepEqual(records(await sregistry(["images", "--json"], { env: expected.env })), []);

  await resumeAndCheck(home, hub, expected, kept);
});

Deno.test("after an abrupt death (SIGKILL) the next pull takes over the stale lock and resumes", async () => {
  await using hub = await startFakeHub({ throttle: THROTTLE });
  await using home = await tempHome();
  const expected = await setup(home, hub);

  const running = spawnSregistry(["pull", "hub://lab/huge"], expected.env);
  await waitFor(() => partSize(home) >= SOME_BYTES, "the part file to grow");
  running.child.kill("SIGKILL");
  const killed = await running.result;

  assert.equal(killed.signal, "SIGKILL");
  assert.ok(
    filesUnder(home.storage).some((file) => file.endsWith(".lock")),
    "the dead process left its lock",
  );
  assert.deepEqual(records(await sregistry(["images", "--json"], { env: expected.env })), []);
  const kept = partSize(home);
  assert.ok(kept >= SOME_BYTES && kept < SIZE, `the part file is there (${kept} bytes)`);

  await resumeAndCheck(home, hub, expected, kept);
});

Deno.test("an interrupt in-process also exits 130 and keeps what was downloaded", async () => {
  await using hub = await startFakeHub({ throttle: THROTTLE });
  await using home = await tempHome();
  const expected = await setup(home, hub);
  const interrupt = new AbortController();

  const pulling = sregistryInProcess(["pull", "hub://lab/huge"], {
    env: expected.env,
    interrupt: interrupt.signal,
  });
  await waitFor(() => partSize(home) >= SOME_BYTES, "the part file to grow");
  interrupt.abort();
  const interrupted = await pulling;

  assert.equal(interrupted.code, 130, interrupted.stderr);
  const kept = partSize(home);
  assert.ok(kept >= SOME_BYTES && kept < SIZE, `the part file is kept (${kept} bytes)`);

  await resumeAndCheck(home, hub, expected, kept);
});

Deno.test("a second Ctrl-C exits at once, and the next pull still finishes right", async () => {
  await using hub = await startFakeHub({ throttle: THROTTLE });
  await using home = await tempHome();
  const expected = await setup(home, hub);

  const running = spawnSregistry(["pull", "hub://lab/huge"], expected.env);
  await waitFor(() => partSize(home) >= SOME_BYTES, "the part file to grow");
  running.child.kill("SIGINT");
  running.child.kill("SIGINT");
  const interrupted = await running.result;

  assert.equal(interrupted.code, 130, interrupted.stderr);
  assert.deepEqual(records(await sregistry(["images", "--json"], { env: expected.env })), []);
  assert.deepEqual(imageFiles(home.storage), []);

  hub.setThrottle(null);
  const again = await sregistry(["pull", "hub://lab/huge"], { env: expected.env });
  assert.equal(again.code, 0, again.stderr);
  assert.equal(md5(Deno.readFileSync(expected.path)), expected.digest);
  assert.deepEqual(leftovers(home.storage), []);
  assert.equal(records(await sregistry(["images", "--json"], { env: expected.env })).length, 1);
});

Deno.test("pull --name <file> interrupted keeps its part file next to the file and resumes", async () => {
  await using hub = await startFakeHub({ throttle: THROTTLE });
  await using home = await tempHome();
  const expected = await setup(home, hub);
  const partNextToFile = () => partFiles(home.path).find((part) => part.path.endsWith("out.sif"));

  const running = spawnSregistry(
    ["pull", "--name", join(home.path, "out.sif"), "hub://lab/huge"],
    expected.env,
  );
  await waitFor(() => (partNextToFile()?.size ?? 0) >= SOME_BYTES, "the part file to grow");
  running.child.kill("SIGINT");
  const interrupted = await running.result;

  assert.equal(interrupted.code, 130, interrupted.stderr);
  const kept = partNextToFile()!.size;
  assert.ok(kept >= SOME_BYTES && kept < SIZE);

  hub.setThrottle(null);
  const resumed = await sregistry(
    ["pull", "--name", join(home.path, "out.sif"), "hub://lab/huge"],
    {
      env: expected.env,
    },
  );
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.equal(downloadRequests(hub, expected.image).at(-1)?.headers.range, `bytes=${kept}-`);
  assert.equal(md5(Deno.readFileSync(join(home.path, "out.sif"))), expected.digest);
  assert.deepEqual(leftovers(home.path), []);
  assert.deepEqual(records(await sregistry(["images", "--json"], { env: expected.env })), []);
});

Deno.test("in the shell, Ctrl-C stops one pull and the next line's pull still runs", async () => {
  await using hub = await startFakeHub({ throttle: THROTTLE });
  await using home = await tempHome();
  const expected = await setup(home, hub);

  const shell = startSregistry(["shell"], { env: expected.env, stdin: "piped" });
  const input = shell.stdin.getWriter();
  const say = (line: string) => input.write(new TextEncoder().encode(`${line}\n`));
  await say("pull hub://lab/huge");
  await waitFor(() => partSize(home) >= SOME_BYTES, "the part file to grow");
  shell.kill("SIGINT");
  await waitFor(() => !filesUnder(home.storage).some((f) => f.endsWith(".lock")), "the stop");
  hub.setThrottle(null);
  await say("pull hub://lab/huge");
  await input.close();
  const session = await shell.output();

  const stderr = new TextDecoder().decode(session.stderr);
  assert.equal(session.code, 0, stderr);
  assert.match(stderr, /sregistry: interrupted/);
  assert.equal(new TextDecoder().decode(session.stdout), `${expected.path}\n`, stderr);
  assert.equal(md5(Deno.readFileSync(expected.path)), expected.digest);
  assert.deepEqual(leftovers(home.storage), []);
});
