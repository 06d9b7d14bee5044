/**
 * One writer per download target: `<part>.lock` is created exclusively and held under an
 * exclusive flock, so a holder that dies (even by SIGKILL) frees it at once on this host; a
 * holder elsewhere (NFS) proves it is alive by touching the lock file.
 */
import { dirname } from "node:path";
import { sleep } from "./http.ts";

const LOCK_POLL_MS = 200;
// A holder touches its lock every LOCK_HEARTBEAT_MS; one untouched for LOCK_STALE_MS is dead.
// The margin covers NFS attribute caching (acregmax defaults to 60 s).
const LOCK_HEARTBEAT_MS = 15 * 1000;
const LOCK_STALE_MS = 2 * 60 * 1000;
// A lock younger than this may still be between its creation and its holder's flock.
const LOCK_GRACE_MS = 2 * 1000;

/**
 * Runs `fn` while holding `<partPath>.lock`. If another live process holds it, waits until it is
 * released (the caller should then look for the finished image before downloading). A lock is
 * taken over when its holder on this host no longer holds its flock (it died, even by SIGKILL),
 * or when a holder elsewhere stopped refreshing it for two minutes.
 */
export async function withDownloadLock<T>(
  partPath: string,
  fn: () => Promise<T>,
  options: { onWait?: () => void; signal?: AbortSignal } = {},
): Promise<T> {
  const lockPath = `${partPath}.lock`;
  const host = await hostName();
  let waited = false;
  let held: Deno.FsFile | null;
  while (true) {
    held = await createLock(lockPath, `${Deno.pid} ${host}\n`);
    if (held !== null) break;
    if (await takeOverStaleLock(lockPath, host)) continue;
    if (!waited) {
      waited = true;
      options.onWait?.();
    }
    await sleep(LOCK_POLL_MS, options.signal);
  }
  // Keep the lock's mtime fresh so a process on another node sees it is in use.
  const heartbeat = setInterval(() => {
    const now = new Date();
    Deno.utime(lockPath, now, now).catch(() => {});
  }, LOCK_HEARTBEAT_MS);
  Deno.unrefTimer(heartbeat);
  try {
    return await fn();
  } finally {
    clearInterval(heartbeat);
    // Removed while still flocked, so a waiter that locks the old file sees it is gone.
    await removeQuietly(lockPath);
    held.close();
  }
}

// Creates the lock file and keeps it open with an exclusive flock, which the kernel drops when
// this process dies however it dies; null when the file exists.
async function createLock(lockPath: string, content: string): Promise<Deno.FsFile | null> {
  let file: Deno.FsFile;
  const create = () => Deno.open(lockPath, { write: true, createNew: true, mode: 0o644 });
  try {
    file = await create().catch(async (error) => {
      // A failed pull (or rmi) elsewhere may have pruned the emptied folder meanwhile.
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      await Deno.mkdir(dirname(lockPath), { recursive: true });
      return await create();
    });
  } catch (error) {
    if (error instanceof Deno.errors.AlreadyExists) return null;
    throw error;
  }
  try {
    // A waiter may hold the flock for a moment while it looks; wait for it, never for long.
    await file.lock(true).catch(() => {}); // filesystems without flock: the heartbeat only
    await file.write(new TextEncoder().encode(content));
  } catch (error) {
    file.close();
    await removeQuietly(lockPath);
    throw error;
  }
  return file;
}

/**
 * Removes the lock if its holder is gone and says whether it did. On this host a holder is alive
 * while it holds the lock's flock (the kernel releases it when a process dies, even by SIGKILL);
 * otherwise, or where flock is unsupported, while it refreshes the lock's mtime.
 */
async function takeOverStaleLock(lockPath: string, host: string): Promise<boolean> {
  let file: Deno.FsFile;
  try {
    // NFS emulates flock with POSIX locks, whose exclusive form needs a writable descriptor.
    file = await Deno.open(lockPath, { read: true, write: true })
      .catch((error) => {
        if (error instanceof Deno.errors.PermissionDenied) {
          return Deno.open(lockPath, { read: true });
        }
        throw error;
      });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return true; // released meanwhile: retry now
    throw error;
  }
  try {
    const unlocked = await file.tryLock(true).catch(() => null);
    if (unlocked === false) return false; // its holder is alive
    const dead = await isStaleLock(lockPath, host, unlocked === true);
    // Holding the old file's flock keeps other waiters from judging it at the same time; check
    // that the path still names that file before removing it.
    if (!dead || !(await sameFile(file, lockPath))) return false;
    await removeQuietly(lockPath);
    return true;
  } finally {
    file.close();
  }
}

async function sameFile(file: Deno.FsFile, path: string): Promise<boolean> {
  try {
    const [opened, named] = [await file.stat(), await Deno.stat(path)];
    return opened.ino === named.ino && opened.dev === named.dev;
  } catch {
    return false;
  }
}

// Liveness never comes from the holder's pid: /proc, Deno.hostname() and signals are outside the
// binary's permission set. A free flock proves a holder on this host dead (flock may be local to
// a node, e.g. Lustre's localflock, so not one on another); else its heartbeat must have stopped.
async function isStaleLock(lockPath: string, host: string, flockFree: boolean): Promise<boolean> {
  let text: string;
  let mtime: Date | null;
  try {
    text = await Deno.readTextFile(lockPath);
    mtime = (await Deno.stat(lockPath)).mtime;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false; // released meanwhile: retry now
    throw error;
  }
  const [pid, owner] = text.trim().split(/\s+/);
  if (pid === String(Deno.pid) && owner === host) return false; // this process holds it
  const age = mtime === null ? Infinity : Date.now() - mtime.getTime();
  if (flockFree && owner === host && host !== "unknown" && age > LOCK_GRACE_MS) return true;
  return age > LOCK_STALE_MS;
}

async function hostName(): Promise<string> {
  // Only a label for people reading the lock file; Deno.hostname() needs --allow-sys.
  try {
    return (await Deno.readTextFile("/etc/hostname")).trim() || "unknown";
  } catch {
    return "unknown";
  }
}

/** Removes files, ignoring those already gone. */
export async function removeQuietly(...paths: string[]): Promise<void> {
  for (const path of paths) {
    await Deno.remove(path).catch(() => {});
  }
}
