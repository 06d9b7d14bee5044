/**
 * What the black-box tests of remote commands share: an environment pointing the CLI at a fake
 * hub, the files a download may leave in storage, and a spawned CLI a test can signal.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { CACHEDIR_TAG } from "../../src/core/storage.ts";
import { STORE_MARKER } from "../../src/core/storage.ts";
import { startSregistry } from "./cli.ts";
import type { FakeHub, FakeImage, RecordedRequest } from "./fake_hub.ts";
import type { TempHome } from "./home.ts";

/** HOME's environment plus SREGISTRY_HUB_BASE set to the fake hub. */
export function hubEnv(
  home: TempHome,
  hub: FakeHub,
  extra: Record<string, string> = {},
): Record<string, string> {
  return { ...home.env, SREGISTRY_HUB_BASE: hub.base, ...extra };
}

/** Every file under `root`, relative to it, sorted (folders and a top CACHEDIR.TAG left out). */
export function filesUnder(root: string): string[] {
  const found: string[] = [];
  const walk = (folder: string, prefix: string) => {
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(folder)];
    } catch {
      return;
    }
    for (const entry of entries) {
      if (prefix === "" && (entry.name === CACHEDIR_TAG || entry.name === STORE_MARKER)) continue;
      if (entry.isDirectory) walk(join(folder, entry.name), `${prefix}${entry.name}/`);
      else found.push(`${prefix}${entry.name}`);
    }
  };
  walk(root, "");
  return found.sort();
}

/**
 * Files a transfer may leave behind: temporary files, partial downloads, their sidecars and
 * locks, anywhere under `root`.
 */
export function leftovers(root: string): string[] {
  return filesUnder(root).filter((file) =>
    (/(^|\/)\.sregistry-/.test(file) || /\.(lock|json)$/.test(file)) &&
    !file.endsWith(`/${STORE_MARKER}`) // the storage's owner, not a leftover
  );
}

/** Partial downloads (without sidecars or locks) under `root`, with their sizes. */
export function partFiles(root: string): { path: string; size: number }[] {
  return filesUnder(root)
    .filter((file) => /(^|\/)\.sregistry-part-[^/]*$/.test(file) && !/\.(lock|json)$/.test(file))
    .map((file) => ({ path: join(root, file), size: Deno.statSync(join(root, file)).size }));
}

/** The image files (`*.sif`) under `root`. */
export function imageFiles(root: string): string[] {
  return filesUnder(root).filter((file) => file.endsWith(".sif") && !file.includes("/.sregistry-"));
}

/** Requests for an image's bytes (download, redirect hops), in order. */
export function downloadRequests(hub: FakeHub, image: FakeImage): RecordedRequest[] {
  return hub.requests.filter((seen) =>
    new RegExp(`^/(download|hop|files)/${image.id}$`).test(seen.path)
  );
}

/** Requests for manifests. */
export function manifestRequests(hub: FakeHub): RecordedRequest[] {
  return hub.requests.filter((seen) => seen.path.startsWith("/api/container/"));
}

/** A CLI process started in the background, for tests that signal or race it. */
export interface RunningCli {
  /** The child process. */
  child: Deno.ChildProcess;
  /** Exit code, stdout and stderr once it ends. */
  result: Promise<{ code: number; signal: Deno.Signal | null; stdout: string; stderr: string }>;
}

/** Spawns the CLI like `sregistry()` does, without waiting for it. */
export function spawnSregistry(args: string[], env: Record<string, string>): RunningCli {
  const child = startSregistry(args, { env });
  const result = child.output().then((output) => {
    const decoder = new TextDecoder();
    return {
      code: output.code,
      signal: output.signal,
      stdout: decoder.decode(output.stdout),
      stderr: decoder.decode(output.stderr),
    };
  });
  return { child, result };
}

/** Polls `probe` every 20 ms until it returns true; fails after `limitMs` (a hang guard only). */
export async function waitFor(
  probe: () => boolean,
  what: string,
  limitMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * Asserts a failed transfer: the exit code, and one error line, the last on stderr, matching
 * `message`. Progress lines and retry notes may come before it; a stack trace may not.
 */
export function assertTransferFailure(
  result: { code: number; stderr: string },
  code: number,
  message: RegExp,
): void {
  assert.equal(result.code, code, `exit code (stderr: ${result.stderr})`);
  const lines = result.stderr.split("\n").filter((line) => line.trim() !== "");
  const errors = lines.filter((line) =>
    line.startsWith("sregistry: ") && !/; retrying in /.test(line)
  );
  assert.equal(errors.length, 1, `one error line expected, got:\n${result.stderr}`);
  assert.equal(lines.at(-1), errors[0], "the error is the last line");
  assert.match(errors[0], message);
  assert.doesNotMatch(result.stderr, /unexpected error|\n\s+at /, "no stack trace");
}
