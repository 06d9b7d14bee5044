/**
 * One writer per download target: `<part>.lock` is a core LockFile (created exclusively, held
 * under an exclusive flock and refreshed as a heartbeat), so a holder that dies, even by
 * SIGKILL, frees it at once on this host, and a dead holder elsewhere (NFS) within minutes.
 */
import { LockFile, removeAbandonedLock } from "../core/file_lock.ts";
import { sleep } from "./http.ts";

const LOCK_POLL_MS = 200;

/**
 * Runs `fn` while holding `<partPath>.lock`. If another live process holds it, waits until it is
 * released (the caller should then look for the finished image before downloading). A lock is
 * taken over when its holder is gone (see core/file_lock.ts).
 */
export async function withDownloadLock<T>(
  partPath: string,
  fn: () => Promise<T>,
  options: { onWait?: () => void; signal?: AbortSignal } = {},
): Promise<T> {
  const lockPath = `${partPath}.lock`;
  let waited = false;
  let held: LockFile | null;
  while (true) {
    held = LockFile.create(lockPath);
    if (held !== null) break;
    if (removeAbandonedLock(lockPath)) continue;
    if (!waited) {
      waited = true;
      options.onWait?.();
    }
    await sleep(LOCK_POLL_MS, options.signal);
  }
  try {
    return await fn();
  } finally {
    held.release();
  }
}

/** Removes files, ignoring those already gone. */
export async function removeQuietly(...paths: string[]): Promise<void> {
  for (const path of paths) {
    await Deno.remove(path).catch(() => {});
  }
}
