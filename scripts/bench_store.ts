/**
 * Keeping a store: `verify` of 8 images of 256 MiB against `md5sum` of the same files one after
 * another (<= 0.7x: verify hashes several at once on the machine's cores), and `du` and
 * `prune --dry-run` on the 100,000-record database of bench_db.ts (each within 1 s), once with
 * every local record's file present (sparse files of the recorded size, so du and prune read
 * 50,000 files' metadata) and once with none (so prune plans 50,000 record removals).
 */
import { join } from "node:path";
import { buildDatabase, recordName } from "./bench_db.ts";
import {
  type BenchSettings,
  denoScriptSpec,
  formatBytes,
  formatMs,
  makeHome,
  median,
  MIB,
  note,
  ratioRow,
  rounds,
  type Row,
  sregistrySpec,
  timedOk,
  timeRow,
} from "./bench_support.ts";

/** verify may take at most this many times md5sum of the same files one after another. */
const MAX_VERIFY_RATIO = 0.7;
/** du and prune --dry-run on 100,000 records must finish within this. */
const MAX_STORE_MS = 1000;

/** `sregistry verify` of 8 images against `md5sum` of them one after another. */
export async function benchVerify(
  settings: BenchSettings,
  report: (row: Row) => void,
): Promise<void> {
  const size = settings.quick ? 16 * MIB : 256 * MIB;
  const home = await makeHome(settings, "verify");
  const files: string[] = [];
  const started = performance.now();
  for (let i = 0; i < 8; i++) {
    const file = join(home, `image-${i}.sif`);
    await writeRandomFile(file, size);
    const added = await timedOk(
      sregistrySpec(["add", file, "--name", `bench/image-${i}`, "--json"], home, { stdout: true }),
    );
    files.push(JSON.parse(added.stdout).image);
  }
  note(
    `  made and added 8 images of ${formatBytes(size)} in ${formatMs(performance.now() - started)}`,
  );
  const verify = sregistrySpec(["verify"], home);
  const md5sum = { cmd: "md5sum", args: files, home };
  const ours: number[] = [];
  const baseline: number[] = [];
  const runs = settings.quick ? 2 : 3;
  // The first round reads the files into the page cache for both, and is not counted.
  await rounds(1, runs, async (index, warmup) => {
    const sum = await timedOk(md5sum);
    const checked = await timedOk(verify);
    if (warmup) return;
    baseline.push(sum.ms);
    ours.push(checked.ms);
    note(`  run ${index + 1}/${runs}: verify ${formatMs(checked.ms)}, md5sum ${formatMs(sum.ms)}`);
  });
  report(
    ratioRow(
      `verify 8 x ${formatBytes(size)} on ${navigator.hardwareConcurrency} cores (vs md5sum)`,
      median(ours),
      median(baseline),
      MAX_VERIFY_RATIO,
    ),
  );
}

/** `du` and `prune --dry-run` on 100,000 records, with and without their files. */
export async function benchStore(
  settings: BenchSettings,
  report: (row: Row) => void,
): Promise<void> {
  const count = settings.quick ? 10_000 : 100_000;
  const label = settings.quick ? `db${count / 1000}k` : "db100k";
  const indexes = Array.from({ length: count }, (_, i) => i);
  const withFiles = await makeHome(settings, "store-files");
  const withoutFiles = await makeHome(settings, "store-nofiles");
  let started = performance.now();
  await buildDatabase(withFiles, indexes);
  await buildDatabase(withoutFiles, indexes);
  const written = writeSparseFiles(withFiles, indexes);
  note(
    `  wrote 2 x ${count} records and ${written} sparse image files in ` +
      formatMs(performance.now() - started),
  );
  const empty = join(settings.root, "empty.ts");
  await Deno.writeTextFile(empty, "");
  const specs = {
    empty: denoScriptSpec(empty, withFiles),
    duFiles: sregistrySpec(["du"], withFiles),
    pruneFiles: sregistrySpec(["prune", "--dry-run"], withFiles),
    duNoFiles: sregistrySpec(["du"], withoutFiles),
    pruneNoFiles: sregistrySpec(["prune", "--dry-run"], withoutFiles),
  };
  // Untimed: the commands see what was written.
  const planned = await timedOk({ ...specs.pruneNoFiles, stdout: true });
  const removals = planned.stdout.split("\n").filter((line) => line.startsWith("remove")).length;
  if (removals !== written) throw new Error(`prune planned ${removals} removals, not ${written}`);
  const usage = await timedOk({ ...specs.duFiles, stdout: true });
  if (!/^total\s+50000\s/m.test(usage.stdout) && !settings.quick) {
    throw new Error(`du did not count the images: ${usage.stdout.slice(0, 300)}`);
  }
  const times: Record<keyof typeof specs, number[]> = {
    empty: [],
    duFiles: [],
    pruneFiles: [],
    duNoFiles: [],
    pruneNoFiles: [],
  };
  const runs = settings.quick ? 2 : 5;
  started = performance.now();
  await rounds(1, runs, async (_, warmup) => {
    for (const key of Object.keys(specs) as (keyof typeof specs)[]) {
      const result = await timedOk(specs[key]);
      if (!warmup) times[key].push(result.ms);
    }
  });
  note(`  ${runs} rounds in ${formatMs(performance.now() - started)}`);
  const row = (name: string, key: keyof typeof specs) =>
    report(timeRow(`${label}: ${name}`, median(times[key]), median(times.empty), MAX_STORE_MS));
  row("du, files present (vs empty script)", "duFiles");
  row("prune --dry-run, files present", "pruneFiles");
  row("du, no files (vs empty script)", "duNoFiles");
  row(`prune --dry-run, ${written} to remove`, "pruneNoFiles");
}

// A sparse file of the recorded size for every local record: metadata to read, no disk used.
function writeSparseFiles(home: string, indexes: number[]): number {
  const storage = join(home, ".singularity", "shub");
  let written = 0;
  for (const index of indexes.filter((i) => i % 2 === 1)) {
    const image = recordName(index);
    const folder = join(storage, image.collection, image.name);
    Deno.mkdirSync(folder, { recursive: true });
    using file = Deno.openSync(join(folder, `${image.tag}@${image.version}.sif`), {
      write: true,
      createNew: true,
    });
    file.truncateSync(50_000_000 + index);
    written++;
  }
  return written;
}

// Random bytes, a fresh 64 KiB block at a time, so no two images share content.
async function writeRandomFile(path: string, size: number): Promise<void> {
  const block = new Uint8Array(4 * MIB);
  using file = await Deno.open(path, { write: true, createNew: true });
  for (let left = size; left > 0;) {
    const length = Math.min(block.length, left);
    for (let at = 0; at < length; at += 64 * 1024) {
      crypto.getRandomValues(block.subarray(at, Math.min(length, at + 64 * 1024)));
    }
    let written = 0;
    while (written < length) written += await file.write(block.subarray(written, length));
    left -= length;
  }
}
