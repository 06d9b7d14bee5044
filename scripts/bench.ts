/**
 * `deno task bench`: sregistry's benchmarks. Each measurement is compared with a baseline timed
 * in the same run (an empty Deno script, `md5sum`, `curl`), and the table shows both medians,
 * their ratio and the target. Benchmarks inform; they exit 0 unless `--strict` is given.
 *
 *   deno task bench                 every group, full sizes (1 GiB images, 100,000 records)
 *   deno task bench --quick         small sizes, few runs: a sanity check of the benchmarks
 *   deno task bench --only pull     one group: startup, add, db100k, inspect, pull, push, verify,
 *                                   store, oras-pull, oras-push
 *   deno task bench --strict        exit 1 when a target is missed or a group fails
 *
 * Runs are sequential (the machine has few cores); everything temporary lives in one folder
 * that is removed at the end, on failure and on Ctrl-C.
 */
import { benchDb } from "./bench_db.ts";
import { benchInspect } from "./bench_inspect.ts";
import { benchStartup } from "./bench_startup.ts";
import { type BenchSettings, errorRow, note, renderTable, type Row } from "./bench_support.ts";
import { benchStore, benchVerify } from "./bench_store.ts";
import { benchAdd, benchPull, benchPush } from "./bench_transfer.ts";
import { benchOrasPull, benchOrasPush } from "./bench_oras.ts";

type Group = (settings: BenchSettings, report: (row: Row) => void) => Promise<void>;

/** The groups, in the order they run. */
const GROUPS: Record<string, Group> = {
  startup: benchStartup,
  add: benchAdd,
  db100k: benchDb,
  inspect: benchInspect,
  pull: benchPull,
  push: benchPush,
  verify: benchVerify,
  store: benchStore,
  "oras-pull": benchOrasPull,
  "oras-push": benchOrasPush,
};

const USAGE = `usage: deno task bench [--quick] [--strict] [--only <group>]
groups: ${Object.keys(GROUPS).join(", ")}
`;

interface Arguments {
  quick: boolean;
  strict: boolean;
  only: string[];
}

function parseArguments(args: string[]): Arguments {
  const parsed: Arguments = { quick: false, strict: false, only: [] };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--quick") parsed.quick = true;
    else if (arg === "--strict") parsed.strict = true;
    else if (arg === "--only" || arg.startsWith("--only=")) {
      const value = arg === "--only" ? args[++i] : arg.slice("--only=".length);
      if (value === undefined) throw new Error("--only needs a group name");
      for (const name of value.split(",")) {
        if (!(name in GROUPS)) throw new Error(`unknown group '${name}'`);
        parsed.only.push(name);
      }
    } else if (arg === "--help" || arg === "-h") {
      console.log(USAGE);
      Deno.exit(0);
    } else throw new Error(`unknown argument '${arg}'`);
  }
  return parsed;
}

async function main(): Promise<number> {
  let args: Arguments;
  try {
    args = parseArguments(Deno.args);
  } catch (error) {
    console.error(`bench: ${error instanceof Error ? error.message : error}\n${USAGE}`);
    return 2;
  }
  const root = await Deno.makeTempDir({ prefix: "sregistry-bench-" });
  const settings: BenchSettings = { quick: args.quick, root };
  // Ctrl-C: the children get the signal too; remove the big files before going.
  const onInterrupt = () => {
    try {
      Deno.removeSync(root, { recursive: true });
    } catch { /* already gone */ }
    Deno.exit(130);
  };
  Deno.addSignalListener("SIGINT", onInterrupt);

  const loadAtStart = loadAverage();
  const rows: Row[] = [];
  const names = args.only.length ? args.only : Object.keys(GROUPS);
  const started = performance.now();
  try {
    for (const name of names) {
      note(`== ${name}`);
      try {
        await GROUPS[name](settings, (row) => rows.push(row));
      } catch (error) {
        note(`  ${name} failed: ${error instanceof Error ? error.message : error}`);
        rows.push(errorRow(name, error));
      }
    }
  } finally {
    await Deno.remove(root, { recursive: true }).catch(() => {});
    Deno.removeSignalListener("SIGINT", onInterrupt);
  }

  const minutes = ((performance.now() - started) / 60_000).toFixed(1);
  console.log(
    `sregistry benchmarks (${args.quick ? "--quick" : "full"}), deno ${Deno.version.deno}, ` +
      `${navigator.hardwareConcurrency} cores, ${minutes} min; medians of runs in this process, ` +
      "ratio = sregistry / baseline",
  );
  console.log(
    `load average at start ${loadAtStart}, at end ${loadAverage()} ` +
      "(above the core count, other work shared the machine and the numbers are noisy)\n",
  );
  console.log(renderTable(rows));
  const missed = rows.filter((row) => row.verdict === "FAIL" || row.verdict === "ERROR");
  if (missed.length > 0) {
    console.log(`${missed.length} target(s) missed or failed${args.strict ? "" : " (not fatal)"}`);
  }
  return args.strict && missed.length > 0 ? 1 : 0;
}

// The 1-minute load average, or "?" where /proc is missing.
function loadAverage(): string {
  try {
    return Deno.readTextFileSync("/proc/loadavg").split(" ")[0];
  } catch {
    return "?";
  }
}

if (import.meta.main) Deno.exit(await main());
