/**
 * Lock files that prove their holder alive: created exclusively, held under an exclusive flock
 * (the kernel drops it when the holder dies, even by SIGKILL), and touched as a heartbeat so a
 * process on another node (NFS, where flock may be local to a node) can tell a live holder from
 * a dead one. Liveness never comes from a pid: /proc, signals and Deno.hostname() are outside
 * the executable's permission set.
 */
import { dirname } from "./paths.ts";

// A holder touches its lock every HEARTBEAT_MS; one untouched for STALE_MS is dead.
// The margin covers NFS attribute caching (acregmax defaults to 60 s).
const HEARTBEAT_MS = 15 * 1000;
const STALE_MS = 2 * 60 * 1000;

/** A lock file this process holds until `release()`. */
export class LockFile {
  /** Where the lock file is. */
  readonly path: string;
  readonly #file: Deno.FsFile;
  readonly #heartbeat: ReturnType<typeof setInterval>;

  private constructor(path: string, file: Deno.FsFile) {
    this.path = path;
    this.#file = file;
    // Keep the lock's mtime fresh so a process on another node sees it is in use.
    this.#heartbeat = setInterval(() => {
      const now = new Date();
      Deno.utime(path, now, now).catch(() => {});
    }, HEARTBEAT_MS);
    Deno.unrefTimer(this.#heartbeat);
  }

  /**
   * Creates and locks `path` (and its folder), or returns null when the file exists: someone
   * holds it, or held it and died (see `isAbandoned`).
   */
  static create(path: string): LockFile | null {
    const create = () => Deno.openSync(path, { write: true, createNew: true, mode: 0o644 });
    let file: Deno.FsFile;
    try {
      try {
        file = create();
      } catch (error) {
        // A command elsewhere may have pruned the emptied folder meanwhile.
        if (!(error instanceof Deno.errors.NotFound)) throw error;
        Deno.mkdirSync(dirname(path), { recursive: true });
        file = create();
      }
    } catch (error) {
      if (error instanceof Deno.errors.AlreadyExists) return null;
      throw error;
    }
    try {
      // Other members of a shared store must be able to open it to judge it, whatever the umask.
      Deno.chmodSync(path, 0o644);
      // A waiter may hold the flock for a moment while it looks; wait for it, never for long.
      // The label is written only once the flock is held: a lock with a label and a free flock
      // has lost its holder, an empty one is still being created.
      try {
        file.lockSync(true);
      } catch {
        // filesystems without flock: the heartbeat only
      }
      const label = new TextEncoder().encode(`${Deno.pid} ${hostLabel()}\n`);
      let written = 0;
      while (written < label.byteLength) written += file.writeSync(label.subarray(written));
    } catch (error) {
      file.close();
      removeQuietly(path);
      throw error;
    }
    return new LockFile(path, file);
  }

  /** Removes the lock file (while still flocked, so a waiter sees it is gone) and unlocks. */
  release(): void {
    clearInterval(this.#heartbeat);
    removeQuietly(this.path);
    this.#file.close();
  }
}

/**
 * Removes the lock at `path` if its holder is gone and says whether it is gone now. On this host
 * a holder is alive while it holds the flock; otherwise, or where flock is unsupported, while it
 * refreshes the lock's mtime. A missing lock file counts as gone.
 */
export function removeAbandonedLock(path: string): boolean {
  return judgeLock(path, true);
}

/** True when the lock at `path` has lost its holder (or is missing); changes nothing. */
export function isAbandonedLock(path: string): boolean {
  return judgeLock(path, false);
}

function judgeLock(path: string, remove: boolean): boolean {
  let file: Deno.FsFile;
  try {
    // NFS emulates flock with POSIX locks, whose exclusive form needs a writable descriptor.
    try {
      file = Deno.openSync(path, { read: true, write: true });
    } catch (error) {
      if (!(error instanceof Deno.errors.PermissionDenied)) throw error;
      file = Deno.openSync(path, { read: true });
    }
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return true;
    throw error;
  }
  try {
    let unlocked: boolean | null;
    try {
      unlocked = file.tryLockSync(true);
    } catch {
      unlocked = null;
    }
    if (unlocked === false) return false; // its holder is alive
    // Holding the old file's flock keeps other waiters from judging it at the same time; check
    // that the path still names that file before removing it.
    if (!isStale(path, unlocked === true) || !sameFile(file, path)) return false;
    if (remove) removeQuietly(path);
    return true;
  } finally {
    file.close();
  }
}

function sameFile(file: Deno.FsFile, path: string): boolean {
  try {
    const [opened, named] = [file.statSync(), Deno.statSync(path)];
    return opened.ino === named.ino && opened.dev === named.dev;
  } catch {
    return false;
  }
}

// A free flock proves a holder on this host dead (flock may be local to a node, e.g. Lustre's
// localflock, so not one on another); else its heartbeat must have stopped.
function isStale(path: string, flockFree: boolean): boolean {
  let text: string;
  let mtime: Date | null;
  try {
    text = Deno.readTextFileSync(path);
    mtime = Deno.statSync(path).mtime;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false; // released meanwhile: look again
    throw error;
  }
  const host = hostLabel();
  const age = mtime === null ? Infinity : Date.now() - mtime.getTime();
  const [pid, owner] = text.trim().split(/\s+/);
  if (pid === undefined || pid === "") return age > STALE_MS; // still being created
  // A free flock is proof (this process's own would not be free, even on another descriptor);
  // the pid is only a hint where flock cannot tell: a restarted container reuses it.
  if (flockFree && owner === host && host !== "unknown") return true;
  if (pid === String(Deno.pid) && owner === host) return false;
  return age > STALE_MS;
}

let host: string | undefined;

/** This machine's name, for telling holders on this host from others (read once). */
export function hostLabel(): string {
  // Deno.hostname() needs --allow-sys.
  if (host === undefined) {
    try {
      host = Deno.readTextFileSync("/etc/hostname").trim() || "unknown";
    } catch {
      host = "unknown";
    }
  }
  return host;
}

/** Removes a file, ignoring one already gone. */
export function removeQuietly(path: string): void {
  try {
    Deno.removeSync(path);
  } catch {
    // gone already
  }
}
