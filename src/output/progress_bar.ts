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
  options: DisplayOptions = {},
): ProgressDisplay {
  const now = options.now ?? (() => performance.now());
  const started = now();
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
  return throttledDisplay(err, mode, { ...options, now }, {
    // The end of a transfer is always drawn; a line saying nothing happened yet is noise in a log.
    due: (done, total) => total !== null && done >= total,
    line(done, total) {
      const { size, rate, eta } = describe(done, total);
      if (done === 0) return null;
      const percent = total ? ` ${Math.floor((done / total) * 100)}%` : "";
      return `${label}:${percent} ${size} at ${rate}, ETA ${eta}`;
    },
    bar(done, total) {
      const { size, rate, eta } = describe(done, total);
      const text = `${size}  ${rate}  ETA ${eta}`;
      const width = Math.max(10, err.columns - label.length - text.length - 10);
      const fraction = total ? Math.min(1, done / total) : 0;
      const filled = Math.round(fraction * width);
      const bar = total ? "=".repeat(filled) + " ".repeat(width - filled) : "-".repeat(width);
      const percent = total ? `${String(Math.floor(fraction * 100)).padStart(3)}%` : "";
      return `${label} [${bar}] ${percent} ${text}`;
    },
  });
}

/**
 * A progress display for work counted in items (records asked about): `label: 12/40` redrawn on a
 * terminal, a line every few seconds off one (the first after that long), nothing in mode "none".
 */
export function countDisplay(
  err: OutputStream,
  mode: ProgressMode,
  label: string,
  options: DisplayOptions = {},
): ProgressDisplay {
  const count = (done: number, total: number | null) =>
    `${label}: ${total === null ? done : `${done}/${total}`}`;
  return throttledDisplay(err, mode, options, { line: count, bar: count, lineAfterInterval: true });
}

/** How a display tells time and how often it writes a line off a terminal (for tests). */
interface DisplayOptions {
  now?: () => number;
  lineIntervalMs?: number;
}

/** What a display draws: its line off a terminal (null for none), and its redrawn text on one. */
interface Drawing {
  line(done: number, total: number | null): string | null;
  bar(done: number, total: number | null): string;
  /** True for an update drawn however soon after the last one. */
  due?(done: number, total: number | null): boolean;
  /** Off a terminal, the first line waits an interval too (quick work writes none). */
  lineAfterInterval?: boolean;
}

// What both displays share: nothing in mode "none", at most one draw an interval (100 ms on a
// terminal, a few seconds off one), and a redrawn bar cleared by finish.
function throttledDisplay(
  err: OutputStream,
  mode: ProgressMode,
  options: DisplayOptions,
  drawing: Drawing,
): ProgressDisplay {
  const now = options.now ?? (() => performance.now());
  const interval = mode === "bar" ? 100 : options.lineIntervalMs ?? 5000;
  let lastDraw = mode === "lines" && drawing.lineAfterInterval ? now() : -Infinity;
  let drawn = false;
  return {
    update(done, total) {
      if (mode === "none") return;
      const at = now();
      if (at - lastDraw < interval && !drawing.due?.(done, total)) return;
      lastDraw = at;
      if (mode === "lines") {
        const line = drawing.line(done, total);
        if (line !== null) err.line(line);
        return;
      }
      err.write(`\r${drawing.bar(done, total)}\x1b[K`);
      drawn = true;
    },
    finish() {
      if (mode === "bar" && drawn) err.write("\r\x1b[K");
    },
  };
}
