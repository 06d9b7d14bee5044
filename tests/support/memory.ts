/** Peak memory of a child process, for benchmarks and for tests that stream big files. */

/**
 * Samples a process's peak resident set size until `done()`; MB, or null off Linux. VmHWM is the
 * kernel's own high-water mark, so sampling only has to catch the process alive: the last
 * successful read is the peak up to one interval before it exited. The interval is 20 ms, and
 * 2 ms for the first quarter second so that short runs are caught too.
 */
export async function samplePeakRss(pid: number, done: () => boolean): Promise<number | null> {
  const started = performance.now();
  let peakKb: number | null = null;
  while (!done()) {
    try {
      const status = await Deno.readTextFile(`/proc/${pid}/status`);
      const match = status.match(/^VmHWM:\s+(\d+)\s+kB/m);
      if (match) peakKb = Math.max(peakKb ?? 0, Number(match[1]));
    } catch {
      // exited (or not Linux)
    }
    const interval = performance.now() - started < 250 ? 2 : 20;
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
  return peakKb === null ? null : peakKb * 1024 / 1_000_000;
}
