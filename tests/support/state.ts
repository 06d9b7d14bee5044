/**
 * What a failed command must leave alone: every file and folder under a home (with sizes and
 * MD5s) plus the records `sregistry images --json` lists. Tests take a snapshot before a bad
 * command and assert that the one after is the same, and that no temporary file remains.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { CACHEDIR_TAG } from "../../src/core/storage.ts";
import { STORE_MARKER } from "../../src/core/storage.ts";
import type { CliResult } from "./cli.ts";
import { sregistryInProcess } from "./cli.ts";
import type { TempHome } from "./home.ts";

/**
 * Every entry under a folder, `path/` for folders and `path size md5` for files, sorted; a
 * CACHEDIR.TAG at its top is left out.
 */
export function fileTree(root: string): string[] {
  const entries: string[] = [];
  const walk = (folder: string, prefix: string) => {
    let children: Deno.DirEntry[];
    try {
      children = [...Deno.readDirSync(folder)];
    } catch {
      return;
    }
    for (const child of children) {
      // Storage's tag for backup tools, written by every command (tests/cli/cachedir_test.ts).
      if (prefix === "" && (child.name === CACHEDIR_TAG || child.name === STORE_MARKER)) continue;
      const path = join(folder, child.name);
      const name = prefix + child.name;
      if (child.isDirectory) {
        entries.push(`${name}/`);
        walk(path, `${name}/`);
      } else if (child.name === "sregistry.db") {
        // Its bytes change with every write, undone or not; the records and the journal are
        // what a snapshot compares.
        entries.push(`${name} (database)`);
      } else {
        let detail: string;
        try {
          const bytes = Deno.readFileSync(path);
          detail = `${bytes.byteLength} ${createHash("md5").update(bytes).digest("hex")}`;
        } catch (error) {
          detail = `unreadable: ${(error as Error).name}`;
        }
        entries.push(`${name} ${detail}`);
      }
    }
  };
  walk(root, "");
  return entries.sort();
}

/** The files under a home, the records the CLI lists, and pending journal entries. */
export interface Snapshot {
  /** fileTree(home). */
  files: string[];
  /** Exit code, stdout and stderr of `images --json`. */
  images: CliResult;
  /** Entries of the crash journal (none once a command has finished). */
  journal: unknown[];
}

/**
 * Takes a snapshot. The listing runs in-process (it only reads) so that snapshots stay cheap;
 * take the first one after the home holds a database, or the listing creates one.
 */
export async function snapshot(
  home: TempHome,
  env: Record<string, string> = home.env,
): Promise<Snapshot> {
  const images = await sregistryInProcess(["images", "--json"], { env, cwd: home.path });
  return { files: fileTree(home.path), images, journal: journalEntries(home) };
}

/** Asserts that nothing under the home and nothing in the database changed. */
export function assertUnchanged(before: Snapshot, after: Snapshot, what = "the command"): void {
  assert.deepEqual(after.files, before.files, `${what} changed files under HOME`);
  assert.deepEqual(after.images, before.images, `${what} changed the records`);
  assert.deepEqual(after.journal, [], `${what} left a journal entry`);
}

/** The crash journal's entries, read without opening the registry (which would repair them). */
export function journalEntries(home: TempHome): unknown[] {
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(join(home.database, "sregistry.db"), { readOnly: true });
  } catch {
    return [];
  }
  try {
    return db.prepare("SELECT * FROM journal").all();
  } catch {
    return []; // no journal table yet
  } finally {
    db.close();
  }
}

/**
 * Names of sregistry's temporary files (`.sregistry-tmp-*`, and rmi's `.sregistry-removed-*`)
 * anywhere under a folder.
 */
export function tempFiles(root: string): string[] {
  return fileTree(root).filter((entry) => /(^|\/)\.sregistry-(tmp|removed)-/.test(entry));
}

/** True when a path exists (file, folder or link). */
export function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Asserts a failed run: exit code, exactly one error line on stderr matching `message`. */
export function assertFailure(result: CliResult, code: number, message: RegExp): void {
  const lines = errorLines(result.stderr);
  assert.equal(result.code, code, `exit code (stderr: ${result.stderr})`);
  assert.equal(lines.length, 1, `one error line expected, got:\n${result.stderr}`);
  assert.match(lines[0], /^sregistry: /);
  assert.match(lines[0], message);
  assert.doesNotMatch(result.stderr, /unexpected error|\n\s+at /, "no stack trace");
}

/** stderr lines other than the `[client|x] [database|y]` banner. */
export function errorLines(stderr: string): string[] {
  return stderr.split("\n").filter((line) => line !== "" && !line.startsWith("[client|"));
}

/** The lines of a stdout, without the trailing empty one. */
export function lines(text: string): string[] {
  const split = text.split("\n");
  if (split.at(-1) === "") split.pop();
  return split;
}

/** A JSON record as `images --json` prints it. */
export interface ImageRecord {
  id: number;
  collection: string;
  name: string;
  tag: string;
  version: string | null;
  uri: string;
  image: string | null;
  url: string | null;
  client: string;
  created_at: string;
  metadata: unknown;
  md5: string | null;
  size: number | null;
  [field: string]: unknown;
}

/** Parses `images --json` output. */
export function records(result: CliResult): ImageRecord[] {
  assert.equal(result.code, 0, `images --json failed: ${result.stderr}`);
  return JSON.parse(result.stdout) as ImageRecord[];
}

/** MD5 hex of a string or bytes. */
export function md5(content: string | Uint8Array): string {
  return createHash("md5").update(content).digest("hex");
}

let mountable: boolean | undefined;

/** True when this process can mount tmpfs and read-only bind mounts (root on Linux). */
export function canMount(): boolean {
  if (mountable !== undefined) return mountable;
  mountable = false;
  if (Deno.build.os !== "linux" || Deno.uid() !== 0) return mountable;
  const folder = Deno.makeTempDirSync({ prefix: "sregistry-mount-probe-" });
  try {
    if (!command("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", folder])) return mountable;
    command("umount", [folder]);
    if (!command("mount", ["--bind", folder, folder])) return mountable;
    const readOnly = command("mount", ["-o", "remount,bind,ro", folder, folder]);
    command("umount", [folder]);
    mountable = readOnly;
  } finally {
    Deno.removeSync(folder, { recursive: true });
  }
  return mountable;
}

/** Mounts a tmpfs of `size` (e.g. "1m") on `folder`; dispose to unmount. */
export function mountTmpfs(folder: string, size: string): Disposable {
  Deno.mkdirSync(folder, { recursive: true });
  mustRun("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", folder]);
  return { [Symbol.dispose]: () => mustRun("umount", [folder]) };
}

/** Bind-mounts `source` on `target` (one filesystem, two mounts: renames between them fail). */
export function bindMount(source: string, target: string): Disposable {
  Deno.mkdirSync(source, { recursive: true });
  Deno.mkdirSync(target, { recursive: true });
  mustRun("mount", ["--bind", source, target]);
  return { [Symbol.dispose]: () => mustRun("umount", [target]) };
}

/**
 * Makes `folder` read-only: a read-only bind mount as root (permissions do not stop root),
 * chmod 0555 otherwise. Dispose to undo.
 */
export function makeReadOnly(folder: string): Disposable {
  if (Deno.uid() === 0) {
    mustRun("mount", ["--bind", folder, folder]);
    try {
      mustRun("mount", ["-o", "remount,bind,ro", folder, folder]);
    } catch (error) {
      mustRun("umount", [folder]);
      throw error;
    }
    return { [Symbol.dispose]: () => mustRun("umount", [folder]) };
  }
  const mode = Deno.statSync(folder).mode! & 0o7777;
  Deno.chmodSync(folder, 0o555);
  return { [Symbol.dispose]: () => Deno.chmodSync(folder, mode) };
}

/** True when `program` runs here (asked for its version with `versionArgument`). */
export function installed(program: string, versionArgument = "--version"): boolean {
  return command(program, [versionArgument]);
}

function command(name: string, args: string[]): boolean {
  try {
    return new Deno.Command(name, { args, stdout: "null", stderr: "null" }).outputSync().success;
  } catch {
    return false;
  }
}

function mustRun(name: string, args: string[]): void {
  const output = new Deno.Command(name, { args, stdout: "null", stderr: "piped" }).outputSync();
  if (!output.success) {
    throw new Error(`${name} ${args.join(" ")} failed: ${new TextDecoder().decode(output.stderr)}`);
  }
}
