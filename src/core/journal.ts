/**
 * The crash journal: a change that places, moves or deletes image files together with records
 * survives a kill -9 at any instruction. Its intent (every file step it may take) commits first;
 * the file steps and the record change then commit in one transaction that marks the intent
 * committed; files to drop go after that commit, and the entry last. The next command that
 * opens the registry undoes the file steps of an uncommitted change whose process died, and
 * finishes the drops of a committed one. A process is dead when its owner lock (one per
 * process, core/file_lock.ts) is abandoned.
 */
import type { DatabaseSync } from "node:sqlite";
import { basename, dirname, join } from "./paths.ts";
import { ConfigError, ConflictError, reason } from "../errors.ts";
import { immediate } from "./database.ts";
import { LockFile, removeAbandonedLock } from "./file_lock.ts";
import { makeSharedFolder, shareImageFile } from "./sharing.ts";
import { exists, OWNER_TOKEN, type Storage, TEMP_PREFIX } from "./storage.ts";
import { linkFile, removeIfPresent } from "./file_placement.ts";

/**
 * A file step: `link` places `from` at `to`, never replacing a file (`fresh` when `to` was
 * free as the change was planned); `set-aside` renames `file` to `tombstone`; `drop` deletes
 * `file` after the commit.
 */
export type FileStep =
  | { op: "link"; from: string; to: string; fresh: boolean }
  | { op: "set-aside"; file: string; tombstone: string }
  | { op: "drop"; file: string };

/** What the journal needs of an open registry. */
export interface JournalHost {
  /** The open database. */
  readonly db: DatabaseSync;
  /** The storage folder: paths inside it are journaled relative to it, as records are. */
  readonly storage: Storage;
  /** The folder holding the database and the folder of owner lock files. */
  readonly databaseFolder: string;
  /** The folder of owner lock files. */
  readonly ownersFolder: string;
  /** Whether the database folder is a group's (its lock folder is then made shared). */
  readonly sharedDatabase: boolean;
  /** Stops the process at a named step when a test asks for it. */
  failpoint(step: string): void;
  /** This registry's owner token, written into every entry it makes. */
  readonly owner: string;
  /** The owner's lock file once holdOwnerLock made it; released when the registry closes. */
  ownerLock: LockFile | null;
}

/** Creates the owner's lock file, once, before its first entry or temporary file. */
export function holdOwnerLock(host: JournalHost): void {
  if (host.ownerLock !== null) return;
  try {
    if (host.sharedDatabase) makeSharedFolder(host.ownersFolder);
    host.ownerLock = createOwnerLock(host.ownersFolder, host.owner);
  } catch (error) {
    throw new ConfigError(`cannot write the database folder ${host.databaseFolder}`, {
      hint: `${reason(error)}; check its permissions, or set SREGISTRY_DATABASE`,
      cause: error,
    });
  }
}

/** The planned link of `from` to `to`, noting whether `to` is free now. */
export function linkStep(from: string, to: string): FileStep {
  return { op: "link", from, to, fresh: !exists(to) };
}

/** Takes a change's file steps inside its transaction, only those of its planned intent. */
export class FileSteps {
  readonly #host: JournalHost;
  readonly #command: string;
  readonly #planned: FileStep[];
  readonly #taken: FileStep[] = [];

  constructor(host: JournalHost, command: string, planned: FileStep[]) {
    this.#host = host;
    this.#command = command;
    this.#planned = planned;
  }

  /** Places `from` at `to`; a ConflictError when `to` exists. */
  link(from: string, to: string): void {
    const step = this.#find((s) => s.op === "link" && s.from === from && s.to === to);
    this.#prepareFolder(to);
    linkFile(from, to);
    this.#took(step);
    const storage = this.#host.storage;
    if (storage.shared && storage.contains(to)) shareImageFile(to);
  }

  /**
   * Makes `to` a hard link of `from`, a file other records use: false, with nothing done, where
   * the link cannot be made (another filesystem, too many links), since a rename would take it
   * from them.
   */
  share(from: string, to: string): boolean {
    const step = this.#find((s) => s.op === "link" && s.from === from && s.to === to);
    this.#prepareFolder(to);
    try {
      Deno.linkSync(from, to);
    } catch (error) {
      if (error instanceof Deno.errors.AlreadyExists) {
        throw new ConflictError(`${to} already exists; nothing was overwritten`);
      }
      return false;
    }
    this.#took(step);
    return true;
  }

  /** Renames `file` to `tombstone` and drops the tombstone once the change commits. */
  setAside(file: string, tombstone: string): void {
    const step = this.#find((s) =>
      s.op === "set-aside" && s.file === file && s.tombstone === tombstone
    );
    Deno.renameSync(file, tombstone);
    this.#took(step);
    this.drop(tombstone);
  }

  /** Deletes `file` once the change has committed. */
  drop(file: string): void {
    this.#taken.push({ op: "drop", file });
  }

  /** The steps taken, and the drops to take, in order. */
  get taken(): FileStep[] {
    return this.#taken;
  }

  // Made again if a command that emptied it (rmi, prune) removed it since the change began, and
  // checked once more for planted links.
  #prepareFolder(to: string): void {
    const storage = this.#host.storage;
    if (storage.contains(to)) storage.prepareFolder(dirname(to));
  }

  #find(match: (step: FileStep) => boolean): FileStep {
    const step = this.#planned.find(match);
    // A step outside the intent could not be undone after a crash: a bug, never a user error.
    if (!step) throw new Error(`${this.#command}: a file step outside the journaled intent`);
    return step;
  }

  #took(step: FileStep): void {
    this.#taken.push(step);
    this.#host.failpoint(`${this.#command}:${step.op}`);
  }
}

/** A journaled change: what it plans, and the record change that takes the planned steps. */
export interface JournaledChange<P, T> {
  /** Reads what the change is about and plans its file steps, in the intent's transaction. */
  plan(): { steps: FileStep[]; about: P };
  /** Changes the records and takes file steps, in one transaction. */
  apply(about: P, files: FileSteps): T;
}

/**
 * Runs a change so that a kill at any point leaves a state the next command repairs. Failpoints
 * `<command>:intent`, `:<op>` after each file step, `:commit` (before the commit),
 * `:committed`, `:drop` after each drop.
 */
export function journaled<P, T>(
  host: JournalHost,
  command: string,
  change: JournaledChange<P, T>,
): T {
  return complete(host, command, change, begin(host, command, change));
}

/**
 * journaled, with `stage` run between the intent and the change: a file it makes for a planned
 * step (a copy onto another filesystem, say) is then known to the journal while it is made, and
 * is taken back if the process dies or `stage` fails.
 */
export async function journaledWithStaging<P, T>(
  host: JournalHost,
  command: string,
  change: JournaledChange<P, T>,
  stage: (about: P) => Promise<void>,
): Promise<T> {
  const intent = begin(host, command, change);
  try {
    await stage(intent.about);
  } catch (error) {
    abandon(host, intent.id, intent.steps);
    throw error;
  }
  host.failpoint(`${command}:staged`);
  return complete(host, command, change, intent);
}

interface Intent<P> {
  id: number;
  steps: FileStep[];
  about: P;
}

// The intent, committed before any file is touched.
function begin<P, T>(host: JournalHost, command: string, change: JournaledChange<P, T>): Intent<P> {
  const intent = immediate(host.db, () => {
    const { steps, about } = change.plan();
    // A database that cannot be written says so here, before the lock is made.
    const id = insertEntry(host, steps);
    holdOwnerLock(host);
    return { id, steps, about };
  });
  host.failpoint(`${command}:intent`);
  return intent;
}

// The change and its file steps in one transaction, then the drops, then the entry goes.
function complete<P, T>(
  host: JournalHost,
  command: string,
  change: JournaledChange<P, T>,
  { id, steps, about }: Intent<P>,
): T {
  const files = new FileSteps(host, command, steps);
  let result: T;
  try {
    result = immediate(host.db, () => {
      const result = change.apply(about, files);
      host.db.prepare("UPDATE journal SET state = 'committed', steps = ? WHERE id = ?")
        .run(stepsText(host.storage, files.taken), id);
      host.failpoint(`${command}:commit`);
      return result;
    });
  } catch (error) {
    abandon(host, id, files.taken);
    throw error;
  }
  host.failpoint(`${command}:committed`);
  finish(files.taken, () => host.failpoint(`${command}:drop`));
  immediate(host.db, () => deleteEntry(host.db, id));
  return result;
}

// Rolled back or never begun: take back the steps taken. If that fails too, the entry stays
// and the next command tries again.
function abandon(host: JournalHost, id: number, taken: FileStep[]): void {
  try {
    undo(taken);
    immediate(host.db, () => deleteEntry(host.db, id));
  } catch {
    // left for recovery
  }
}

/**
 * Repairs what dead processes left, when the registry opens (so no entry is this process's):
 * undoes the file steps of their uncommitted changes and finishes the drops of committed ones.
 * Entries of live processes are left alone, and so is an
 * entry whose repair fails (storage this user cannot write, say), for a later command.
 */
export function recoverJournal(host: JournalHost): void {
  const entries = host.db.prepare("SELECT id, owner FROM journal").all() as {
    id: number;
    owner: string;
  }[];
  if (entries.length === 0) return;
  const dead = new Map<string, boolean>();
  for (const entry of entries) {
    if (!dead.has(entry.owner)) dead.set(entry.owner, isAbandoned(host, entry.owner));
    if (!dead.get(entry.owner)) continue;
    try {
      immediate(host.db, () => {
        const row = host.db.prepare("SELECT state, steps FROM journal WHERE id = ?")
          .get(entry.id) as { state: string; steps: string } | undefined;
        if (!row) return; // another command repaired it meanwhile
        const steps = parseSteps(host.storage, row.steps);
        if (row.state === "committed") finish(steps);
        else undo(steps);
        deleteEntry(host.db, entry.id);
      });
    } catch {
      // left for a later command
    }
  }
}

/**
 * Every absolute path that a pending entry of another process names (files it links, sets aside
 * or drops, and their tombstones): a live change, or one a later command will repair, may still
 * need each of them.
 */
export function journaledPaths(host: JournalHost): Set<string> {
  const paths = new Set<string>();
  for (const row of host.db.prepare("SELECT steps FROM journal WHERE owner != ?").all(host.owner)) {
    for (const step of parseSteps(host.storage, String(row.steps))) {
      for (const [key, value] of Object.entries(step)) {
        if (PATH_KEYS.has(key)) paths.add(value as string);
      }
    }
  }
  return paths;
}

/** Creates the lock file of an owner token in `folder`. */
export function createOwnerLock(folder: string, owner: string): LockFile {
  const lock = LockFile.create(join(folder, owner));
  if (lock === null) throw new Error(`journal owner ${owner} exists already`);
  return lock;
}

// Owners are uuids this code wrote; anything else in the table names no lock to look at, and
// stays until someone looks into it.
function isAbandoned(host: JournalHost, owner: string): boolean {
  if (!new RegExp(`^${OWNER_TOKEN}$`).test(owner)) return false;
  try {
    return removeAbandonedLock(join(host.ownersFolder, owner));
  } catch {
    return false; // a lock this user cannot look at: its owner may be alive
  }
}

// Takes back, newest first, every step that happened; a planned step that did not is skipped.
function undo(steps: FileStep[]): void {
  for (const step of [...steps].reverse()) {
    if (step.op === "link") unlink(step);
    else if (step.op === "set-aside") {
      if (lstat(step.tombstone) !== null && lstat(step.file) === null) {
        Deno.renameSync(step.tombstone, step.file);
      }
    }
  }
}

function unlink(step: { from: string; to: string; fresh: boolean }): void {
  const to = lstat(step.to);
  const from = lstat(step.from);
  if (to !== null && from !== null) {
    if (from.ino === to.ino && from.dev === to.dev) Deno.removeSync(step.to);
  } else if (to !== null && step.fresh) {
    // Where hard links are unsupported the placing was a rename: put the file back.
    Deno.renameSync(step.to, step.from);
  }
  // A copy made for this change only (add --copy, mv across filesystems) goes with it.
  if (basename(step.from).startsWith(TEMP_PREFIX)) removeIfPresent(step.from);
}

// The drops of a committed change; those already taken are no-ops.
function finish(steps: FileStep[], afterDrop?: () => void): void {
  for (const step of steps) {
    if (step.op !== "drop") continue;
    removeIfPresent(step.file);
    afterDrop?.();
  }
}

function insertEntry(host: JournalHost, steps: FileStep[]): number {
  const result = host.db.prepare(
    "INSERT INTO journal (owner, state, steps, created_at) VALUES (?, 'intent', ?, datetime('now'))",
  ).run(host.owner, stepsText(host.storage, steps));
  return Number(result.lastInsertRowid);
}

function deleteEntry(db: DatabaseSync, id: number): void {
  db.prepare("DELETE FROM journal WHERE id = ?").run(id);
}

const PATH_KEYS = new Set(["from", "to", "file", "tombstone"]);

function stepsText(storage: Storage, steps: FileStep[]): string {
  return JSON.stringify(steps.map((step) => mapPaths(step, (path) => storage.toRecord(path))));
}

function parseSteps(storage: Storage, text: string): FileStep[] {
  return (JSON.parse(text) as FileStep[]).map((step) =>
    mapPaths(step, (path) => storage.fromRecord(path))
  );
}

function mapPaths(step: FileStep, map: (path: string) => string): FileStep {
  const mapped: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(step)) {
    mapped[key] = PATH_KEYS.has(key) ? map(value as string) : value;
  }
  return mapped as FileStep;
}

function lstat(path: string): Deno.FileInfo | null {
  try {
    return Deno.lstatSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}
