/**
 * Start-up: `sregistry --version`, `images` and `get` on an empty database (issue 9's measure),
 * `get` of a record and `images` listing it, against an empty Deno script run with the same flags
 * and permission set; then, for information, what importing each heavy module costs on its own.
 */
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import {
  type BenchSettings,
  denoScriptSpec,
  infoRow,
  makeHome,
  median,
  note,
  ratioRow,
  rounds,
  type Row,
  rssRow,
  type RunSpec,
  skippedRow,
  sregistrySpec,
  timedExit,
  timedOk,
} from "./bench_support.ts";
import { ROOT } from "../tests/support/cli.ts";

/** `--version` may cost at most this many times an empty script. */
const MAX_RATIO = 3;
/** `get` and `images`, which scripts call in loops, at most this many (issue 9). */
const MAX_LOOKUP_RATIO = 1.5;

/** Modules whose import cost is shown, with the specifier a script imports. */
const MODULES: [label: string, specifier: string][] = [
  ["node:fs", "node:fs"],
  ["node:process", "node:process"],
  ["node:child_process", "node:child_process"],
  ["node:crypto", "node:crypto"],
  ["node:path", "node:path"],
  ["node:sqlite", "node:sqlite"],
  ["node:http", "node:http"],
  ["src/command_line.ts (the parser)", pathToFileURL(join(ROOT, "src", "command_line.ts")).href],
  ["src/cli.ts (whole command tree)", pathToFileURL(join(ROOT, "src", "cli.ts")).href],
];

/** Runs the start-up group. */
export async function benchStartup(
  settings: BenchSettings,
  report: (row: Row) => void,
): Promise<void> {
  const warmups = settings.quick ? 1 : 2;
  const runs = settings.quick ? 5 : 15;
  const home = await makeHome(settings, "startup");
  const emptyHome = await makeHome(settings, "startup-empty");
  const empty = join(settings.root, "empty.ts");
  await Deno.writeTextFile(empty, "");

  // One record, so that `get` has something to print; `images` then lists it.
  const image = join(settings.root, "startup.sif");
  await Deno.writeTextFile(image, "an image\n");
  await timedOk(sregistrySpec(["add", image, "--name", "bench/startup"], home));
  const commands = {
    empty: denoScriptSpec(empty, home),
    version: sregistrySpec(["--version"], home),
    imagesEmpty: sregistrySpec(["images"], emptyHome),
    getEmpty: sregistrySpec(["get", "bench/startup"], emptyHome),
    images: sregistrySpec(["images"], home),
    get: sregistrySpec(["get", "bench/startup"], home),
  };
  const times = {
    empty: [] as number[],
    version: [] as number[],
    imagesEmpty: [] as number[],
    getEmpty: [] as number[],
    images: [] as number[],
    get: [] as number[],
  };
  note(
    `  sregistry --version / images / get vs an empty script: ${warmups} warm-ups, ${runs} runs`,
  );
  await rounds(warmups, runs, async (_, warmup) => {
    // Interleaved, so a slow spell of the machine hits them all alike.
    for (const key of ["empty", "version", "imagesEmpty", "getEmpty", "images", "get"] as const) {
      // `get` on an empty database finds nothing: the not-found exit 1.
      const result = key === "getEmpty"
        ? await timedExit(commands[key], 1, "no record of")
        : await timedOk(commands[key]);
      if (!warmup) times[key].push(result.ms);
    }
  });
  const baseline = median(times.empty);
  report(ratioRow("startup: sregistry --version", median(times.version), baseline, MAX_RATIO));
  report(
    ratioRow(
      "startup: sregistry images (empty database)",
      median(times.imagesEmpty),
      baseline,
      MAX_LOOKUP_RATIO,
    ),
  );
  report(
    ratioRow(
      "startup: sregistry get (empty database)",
      median(times.getEmpty),
      baseline,
      MAX_LOOKUP_RATIO,
    ),
  );
  report(
    ratioRow("startup: sregistry get (1 record)", median(times.get), baseline, MAX_LOOKUP_RATIO),
  );
  // A table to draw and a file to look at: what `images` costs beyond the empty case.
  report(infoRow("startup: sregistry images (1 record)", median(times.images), baseline));

  // What a process of each kind holds at its peak, as a yardstick for the transfer groups' RSS.
  // These runs are too short for sampling /proc to catch their end, so GNU time's rusage
  // figure is used instead, when it is installed.
  for (
    const [label, spec] of [["empty script", commands.empty], [
      "sregistry --version",
      commands.version,
    ]] as const
  ) {
    const peak = await rusagePeakMb(spec);
    report(
      peak === null
        ? skippedRow(`startup: ${label} peak RSS`, "no /usr/bin/time")
        : rssRow(`startup: ${label} peak RSS`, peak),
    );
  }

  const scripts = await Promise.all(MODULES.map(async ([label, specifier], index) => {
    const path = join(settings.root, `import_${index}.ts`);
    await Deno.writeTextFile(path, `import ${JSON.stringify(specifier)};\n`);
    return { label, spec: denoScriptSpec(path, home), times: [] as number[] };
  }));
  const emptyTimes: number[] = [];
  const importRuns = settings.quick ? 3 : 11;
  note(`  import costs of ${scripts.length} modules: ${warmups} warm-ups, ${importRuns} runs`);
  await rounds(warmups, importRuns, async (_, warmup) => {
    const result = await timedOk(commands.empty);
    if (!warmup) emptyTimes.push(result.ms);
    for (const script of scripts) {
      const timing = await timedOk(script.spec);
      if (!warmup) script.times.push(timing.ms);
    }
  });
  const importBaseline = median(emptyTimes);
  for (const script of scripts) {
    report(infoRow(`startup: import ${script.label}`, median(script.times), importBaseline));
  }
}

// The child's maximum resident set size as GNU time reports it (from wait4's rusage).
async function rusagePeakMb(spec: RunSpec): Promise<number | null> {
  const time = "/usr/bin/time";
  if (!(await Deno.stat(time).then(() => true, () => false))) return null;
  const result = await timedOk({
    ...spec,
    cmd: time,
    args: ["-f", "maxrss %M", spec.cmd, ...spec.args],
  });
  const match = result.stderr.match(/maxrss (\d+)\s*$/);
  return match ? Number(match[1]) * 1024 / 1_000_000 : null;
}
