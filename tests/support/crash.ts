/**
 * Killing the CLI at a named step of a journaled change (SREGISTRY_FAILPOINT) and checking what
 * a store must hold after any kill: every record's file there with its content, every file in
 * storage known to a record, an empty journal.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { sregistry, startSregistry } from "./cli.ts";
import type { TempHome } from "./home.ts";
import { filesUnder } from "./pulls.ts";
import { exists, journalEntries, md5, records } from "./state.ts";

/**
 * Runs the CLI until it stops at `failpoint`, then kills it with SIGKILL. Fails when the
 * command ends without reaching the failpoint, so every named step is proved to exist.
 */
export async function killAt(
  args: string[],
  env: Record<string, string>,
  failpoint: string,
): Promise<void> {
  const child = startSregistry(args, { env: { ...env, SREGISTRY_FAILPOINT: failpoint } });
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let stderr = "";
  while (!stderr.includes("stopped at failpoint")) {
    const { value, done } = await reader.read();
    if (done) {
      const status = await child.status;
      await child.stdout.cancel();
      assert.fail(`${args[0]} ended (${status.code}) before ${failpoint}:\n${stderr}`);
    }
    stderr += value;
  }
  child.kill("SIGKILL");
  await child.status;
  await reader.cancel();
  await child.stdout.cancel();
}

/** What a store must hold after any kill, once the next command has run. */
export async function assertConsistent(
  home: TempHome,
  env = home.env,
): Promise<ReturnType<typeof records>> {
  const listed = records(await sregistry(["images", "--json"], { env }));
  for (const record of listed.filter((r) => r.image !== null)) {
    assert.ok(exists(record.image!), `${record.uri}: its file ${record.image} exists`);
    assert.equal(md5(Deno.readFileSync(record.image!)), record.md5, `${record.uri}: content`);
  }
  const recorded = new Set(listed.map((r) => r.image));
  for (const file of filesUnder(home.storage)) {
    if (file.split("/").some((part) => part.startsWith(".sregistry-part-"))) continue;
    assert.ok(recorded.has(join(home.storage, file)), `a record knows ${file}`);
  }
  assert.deepEqual(journalEntries(home), [], "the journal is empty");
  return listed;
}
