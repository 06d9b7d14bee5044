/**
 * Progress of a transfer (or of items counted) on stderr: a redrawn bar on a terminal, a plain
 * line every few seconds off one, nothing with --quiet or --json. Drawing is throttled so it
 * never slows a transfer.
 */
import type { OutputStream } from "./io.ts";
import { formatBytes, formatDuration } from "./units.ts";

/** How progress is shown; chosen once per command. */
export type ProgressMode = "bar" | "lines" | "none";

/** Picks the progress mode from the stream and the flags. */
export function progressMode(
  err: OutputStream,
  options: { quiet: boolean; json?: boolean },
): ProgressMode {
  if (options.quiet || options.json) return "none";
  return err.isTerminal ? "bar" : "lines";
}

/** A progress display for one transfer. */
export interface ProgressDisplay {
  /** Reports bytes done so far (and the total when known). */
  update(done: number, total: number | null): void;
  /** Clears the bar (on a terminal) after the transfer. */
  finish(): void;
}

/** Creates a progress display labelled `label` (e.g. "pull" or the file name). */
export function progressDisplay(
  err: OutputStream,
  mode: ProgressMode,
  label: string,
  options: { now?: () => number; lineIntervalMs?: number } = {},
): ProgressDisplay {
  const now = options.now ?? (() => performance.now());
  const started = now();
  const interval = mode === "bar" ? 100 : options.lineIntervalMs ?? 5000;
  let lastDraw = -Infinity;
  let drawn = false;
  let first = -1;
  const describe = (done: number, total: number | null) => {
    if (first < 0) first = done;
    const elapsed = (now() - started) / 1000;
    const rate = elapsed > 0 ? (done - first) / elapsed : 0;
    const size = total === null
      ? formatBytes(done)
      : `${formatBytes(done)} / ${formatBytes(total)}`;
    const eta = total !== null && rate > 0 ? formatDuration((total - done) / rate) : "--:--";
    return { size, rate: `${formatBytes(rate)}/s`, eta };
  };
  return {
    update(done, total) {
      if (mode === "none") return;
      const at = now();
      if (at - lastDraw < interval && !(total !== null && done >= total)) return;
      lastDraw = at;
      const { size, rate, eta } = describe(done, total);
      if (mode === "lines") {
        if (done === 0) return; // a line saying nothing happened yet is noise in a log
        const percent = total ? ` ${Math.floor((done / total) * 100)}%` : "";
        err.line(`${label}:${percent} ${size} at ${rate}, ETA ${eta}`);
        return;
      }
      const text = `${size}  ${rate}  ETA ${eta}`;
      const width = Math.max(10, err.columns - label.length - text.length - 10);
      const fraction = total ? Math.min(1, done / total) : 0;
      const filled = Math.round(fraction * width);
      const bar = total ? "=".repeat(filled) + " ".repeat(width - filled) : "-".repeat(width);
      const percent = total ? `${String(Math.floor(fraction * 100)).padStart(3)}%` : "";
      err.write(`\r${label} [${bar}] ${percent} ${text}\x1b[K`);
      drawn = true;
    },
    finish() {
      if (mode === "bar" && drawn) err.write("\r\x1b[K");
    },
  };
}

/**
 * A progress display for work counted in items (records asked about): `label: 12/40` redrawn on a
 * terminal, a line every few seconds off one, nothing in mode "none".
 */
export function countDisplay(
  err: OutputStream,
  mode: ProgressMode,
  label: string,
  options: { now?: () => number; lineIntervalMs?: number } = {},
): ProgressDisplay {
  const now = options.now ?? (() => performance.now());
  const interval = mode === "bar" ? 100 : options.lineIntervalMs ?? 5000;
  let lastDraw = mode === "bar" ? -Infinity : now();
  let drawn = false;
  return {
    update(done, total) {
      if (mode === "none") return;
      const at = now();
      if (at - lastDraw < interval) return;
      lastDraw = at;
      const count = total === null ? `${done}` : `${done}/${total}`;
      if (mode === "lines") {
        err.line(`${label}: ${count}`);
        return;
      }
      err.write(`\r${label}: ${count}\x1b[K`);
      drawn = true;
    },
    finish() {
      if (mode === "bar" && drawn) err.write("\r\x1b[K");
    },
  };
}
