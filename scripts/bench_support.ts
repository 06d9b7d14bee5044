/**
 * What the benchmark groups share: timed child processes (with peak-RSS sampling), medians,
 * result rows and the table they print, temporary HOMEs and generated big files.
 */
import { join } from "node:path";
import { DENO_DIR, denoRunArgs, sregistryCommand } from "../tests/support/cli.ts";
import { samplePeakRss } from "../tests/support/memory.ts";

/** One MiB. */
export const MIB = 1024 * 1024;

/** How many times, and how big, a run of the benchmarks is. */
export interface BenchSettings {
  /** Smaller files and fewer repetitions: a sanity run, not a measurement. */
  quick: boolean;
  /** The folder everything temporary goes into; removed at the end. */
  root: string;
}

/** What a group reports: one row per measurement. */
export interface Row {
  /** Group and measurement, e.g. `startup: sregistry --version`. */
  name: string;
  /** Our median (or peak), formatted. */
  ours: string;
  /** The baseline's median, formatted, or `-`. */
  baseline: string;
  /** ours / baseline, or `-`. */
  ratio: string;
  /** The target, e.g. `<= 3.00x`. */
  target: string;
  /** The verdict. */
  verdict: "PASS" | "FAIL" | "info" | "skipped" | "ERROR";
}

/** A row judged on ours / baseline <= max. */
export function ratioRow(name: string, ours: number, baseline: number, max: number): Row {
  const ratio = ours / baseline;
  return {
    name,
    ours: formatMs(ours),
    baseline: formatMs(baseline),
    ratio: formatRatio(ratio),
    target: `<= ${max.toFixed(2)}x`,
    verdict: ratio <= max ? "PASS" : "FAIL",
  };
}

/** A row judged on an absolute time, with the ratio shown for information. */
export function timeRow(name: string, ours: number, baseline: number, maxMs: number): Row {
  return {
    name,
    ours: formatMs(ours),
    baseline: formatMs(baseline),
    ratio: formatRatio(ours / baseline),
    target: `<= ${formatMs(maxMs)}`,
    verdict: ours <= maxMs ? "PASS" : "FAIL",
  };
}

/** A row judged on a peak resident set size (information only without a maximum). */
export function rssRow(name: string, peakMb: number, maxMb?: number): Row {
  return {
    name,
    ours: `${peakMb.toFixed(1)} MB`,
    baseline: "-",
    ratio: "-",
    target: maxMb === undefined ? "-" : `< ${maxMb} MB`,
    verdict: maxMb === undefined ? "info" : peakMb < maxMb ? "PASS" : "FAIL",
  };
}

/** A row shown for information only. */
export function infoRow(name: string, ours: number, baseline: number): Row {
  return {
    name,
    ours: formatMs(ours),
    baseline: formatMs(baseline),
    ratio: `${formatRatio(ours / baseline)} (${signedMs(ours - baseline)})`,
    target: "-",
    verdict: "info",
  };
}

/** A row for a group (or measurement) that did not run. */
export function skippedRow(name: string, why: string): Row {
  return { name, ours: why, baseline: "-", ratio: "-", target: "-", verdict: "skipped" };
}

/** A row for a group that failed to run. */
export function errorRow(name: string, error: unknown): Row {
  const message = error instanceof Error ? error.message : String(error);
  const line = message.split("\n").find((text) => text.trim() !== "") ?? message;
  return {
    name,
    ours: line.length > 60 ? `${line.slice(0, 57)}...` : line,
    baseline: "-",
    ratio: "-",
    target: "-",
    verdict: "ERROR",
  };
}

/** Renders rows as an aligned text table. */
export function renderTable(rows: Row[]): string {
  const header: Row = {
    name: "benchmark",
    ours: "sregistry",
    baseline: "baseline",
    ratio: "ratio",
    target: "target",
    verdict: "PASS",
  };
  const cells = (row: Row) => [
    row.name,
    row.ours,
    row.baseline,
    row.ratio,
    row.target,
    row === header ? "verdict" : row.verdict,
  ];
  const all = [header, ...rows].map(cells);
  const widths = all[0].map((_, column) => Math.max(...all.map((line) => line[column].length)));
  const lines = all.map((line) =>
    line.map((cell, column) =>
      column === 0 || column === line.length - 1
        ? cell.padEnd(widths[column])
        : cell.padStart(widths[column])
    ).join("  ").trimEnd()
  );
  lines.splice(1, 0, widths.map((width) => "-".repeat(width)).join("  "));
  return lines.join("\n") + "\n";
}

/** Milliseconds as `12.3 ms` or `4.56 s`. */
export function formatMs(ms: number): string {
  return ms >= 10_000
    ? `${(ms / 1000).toFixed(1)} s`
    : ms >= 1000
    ? `${(ms / 1000).toFixed(2)} s`
    : `${ms.toFixed(1)} ms`;
}

function signedMs(ms: number): string {
  return `${ms < 0 ? "-" : "+"}${formatMs(Math.abs(ms))}`;
}

function formatRatio(ratio: number): string {
  return `${ratio.toFixed(2)}x`;
}

/** The median of some numbers. */
export function median(values: number[]): number {
  if (values.length === 0) throw new Error("median of nothing");
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** A progress note on stderr (the table goes to stdout). */
export function note(text: string): void {
  console.error(text);
}

/** One child process to run and time. */
export interface RunSpec {
  /** Executable. */
  cmd: string;
  /** Arguments. */
  args: string[];
  /** HOME of the run (also its working directory). */
  home: string;
  /** Extra environment. */
  env?: Record<string, string>;
  /** Keep stdout (default: discard it, so a big output costs the child only). */
  stdout?: boolean;
  /** Sample the peak resident set size every 20 ms. */
  rss?: boolean;
}

/** What a timed run did. */
export interface RunResult {
  /** Wall time from spawn to exit. */
  ms: number;
  /** Exit code. */
  code: number;
  /** Standard output (empty unless kept). */
  stdout: string;
  /** Standard error. */
  stderr: string;
  /** Peak RSS in MB (VmHWM), when sampled. */
  peakRssMb: number | null;
}

/** Runs a child with a clean environment (PATH, HOME, DENO_DIR, NO_COLOR=1) and times it. */
export async function timed(spec: RunSpec): Promise<RunResult> {
  const env: Record<string, string> = {
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    HOME: spec.home,
    DENO_DIR,
    NO_COLOR: "1",
    ...spec.env,
  };
  // Write back what earlier runs left dirty, so no run pays for its predecessor's writes.
  await new Deno.Command("sync").output();
  const started = performance.now();
  const child = new Deno.Command(spec.cmd, {
    args: spec.args,
    cwd: spec.home,
    env,
    clearEnv: true,
    stdin: "null",
    stdout: spec.stdout ? "piped" : "null",
    stderr: "piped",
  }).spawn();
  let finished = false;
  const sampler = spec.rss ? samplePeakRss(child.pid, () => finished) : Promise.resolve(null);
  const output = await child.output();
  const ms = performance.now() - started;
  finished = true;
  const decoder = new TextDecoder();
  return {
    ms,
    code: output.code,
    stdout: spec.stdout ? decoder.decode(output.stdout) : "",
    stderr: decoder.decode(output.stderr),
    peakRssMb: await sampler,
  };
}

/** Like timed(), but a non-zero exit is an error that quotes the child's stderr. */
export function timedOk(spec: RunSpec): Promise<RunResult> {
  return timedExit(spec, 0);
}

/**
 * Like timed(), but an exit other than `code`, or a stderr without `says`, is an error that
 * quotes the child's stderr.
 */
export async function timedExit(spec: RunSpec, code: number, says = ""): Promise<RunResult> {
  const result = await timed(spec);
  if (result.code !== code || !result.stderr.includes(says)) {
    const shown = spec.cmd === Deno.execPath() ? spec.args.slice(spec.args.indexOf("-P") + 1) : [
      spec.cmd,
      ...spec.args,
    ];
    throw new Error(
      `'${shown.join(" ")}' exited ${result.code}: ${result.stderr.trim().slice(-400)}`,
    );
  }
  return result;
}

/** A spec that runs sregistry from source with the executable's permission set. */
export function sregistrySpec(
  args: string[],
  home: string,
  options: Omit<RunSpec, "cmd" | "args" | "home"> = {},
): RunSpec {
  return { cmd: Deno.execPath(), args: sregistryCommand(args), home, ...options };
}

/** A spec that runs a script exactly as sregistry is run (same flags, same permission set). */
export function denoScriptSpec(script: string, home: string): RunSpec {
  return { cmd: Deno.execPath(), args: denoRunArgs(script), home };
}

/** A fresh temporary HOME inside the bench root. */
export function makeHome(settings: BenchSettings, prefix: string): Promise<string> {
  return Deno.makeTempDir({ dir: settings.root, prefix: `${prefix}-home-` });
}

/** Removes a folder and everything in it, ignoring a missing one. */
export async function removeAll(path: string): Promise<void> {
  await Deno.remove(path, { recursive: true }).catch(() => {});
}

const bigFiles = new Map<string, Promise<string>>();

/**
 * A file of `size` random bytes (a fresh random 64 KiB block each time, so nothing deduplicates),
 * made once per run of the benchmarks and shared by the groups that need it.
 */
export function bigFile(settings: BenchSettings, size: number): Promise<string> {
  const path = join(settings.root, `random-${size}.sif`);
  let made = bigFiles.get(path);
  if (made === undefined) {
    made = writeRandomFile(path, size).then(() => path);
    bigFiles.set(path, made);
  }
  return made;
}

async function writeRandomFile(path: string, size: number): Promise<void> {
  const started = performance.now();
  const block = new Uint8Array(4 * MIB);
  const piece = 64 * 1024; // getRandomValues fills at most 64 KiB per call
  using file = await Deno.open(path, { write: true, create: true, truncate: true });
  let left = size;
  while (left > 0) {
    const length = Math.min(block.length, left);
    for (let at = 0; at < length; at += piece) {
      crypto.getRandomValues(block.subarray(at, Math.min(length, at + piece)));
    }
    let written = 0;
    while (written < length) written += await file.write(block.subarray(written, length));
    left -= length;
  }
  note(`  made ${formatBytes(size)} of random bytes in ${formatMs(performance.now() - started)}`);
}

/** Bytes as `1 GiB`, `128 MiB`. */
export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * MIB && bytes % (1024 * MIB) === 0) return `${bytes / (1024 * MIB)} GiB`;
  return `${Math.round(bytes / MIB)} MiB`;
}

/** Runs `count` rounds of `round` after `warmups` unrecorded ones; returns each round's result. */
export async function rounds<T>(
  warmups: number,
  count: number,
  round: (index: number, warmup: boolean) => Promise<T>,
): Promise<T[]> {
  for (let i = 0; i < warmups; i++) await round(i, true);
  const results: T[] = [];
  for (let i = 0; i < count; i++) results.push(await round(i, false));
  return results;
}
