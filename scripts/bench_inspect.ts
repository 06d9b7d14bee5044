/**
 * `sregistry inspect` of a 2 GiB SIF against the same of a 1 MiB one (<= 1.2x: reading metadata
 * must not grow with the image) and both against an empty Deno script (<= 3x). The SIFs hold no
 * inspect-metadata.json, so everything comes from the squashfs, whose tables lie at its end,
 * after two copies of a random file written with -noD (mksquashfs writes the filesystem straight
 * behind the SIF header, so nothing is copied twice).
 */
import { join } from "node:path";
import {
  DataType,
  hasMksquashfs,
  partitionExtra,
  singularityTree,
  writeSif,
} from "../tests/support/images.ts";
import {
  type BenchSettings,
  bigFile,
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
  skippedRow,
  sregistrySpec,
  timedOk,
} from "./bench_support.ts";

/** The big image may cost at most this many times the small one. */
const MAX_SIZE_RATIO = 1.2;
/** Either may cost at most this many times an empty script. */
const MAX_STARTUP_RATIO = 3;
const PARTITION_AT = 32768;

/** Runs the inspect group. */
export async function benchInspect(
  settings: BenchSettings,
  report: (row: Row) => void,
): Promise<void> {
  if (!hasMksquashfs) {
    report(skippedRow("inspect", "no mksquashfs"));
    return;
  }
  // Two copies of the random file the add group uses: 2 GiB (256 MiB with --quick).
  const random = await bigFile(settings, settings.quick ? 128 * MIB : 1024 * MIB);
  const small = await buildSif(settings, "small.sif", [
    `bench-part f 644 0 0 head -c ${900 * 1024} ${random}`,
  ]);
  const big = await buildSif(settings, "big.sif", [
    `bench-copy1 f 644 0 0 cat ${random}`,
    `bench-copy2 f 644 0 0 cat ${random}`,
  ]);
  note(
    `  SIFs of ${formatBytes(Deno.statSync(small).size)} and ` +
      `${formatBytes(Deno.statSync(big).size)}`,
  );
  const home = await makeHome(settings, "inspect");
  const empty = join(settings.root, "empty.ts");
  await Deno.writeTextFile(empty, "");
  const specs = {
    empty: denoScriptSpec(empty, home),
    small: sregistrySpec(["inspect", small], home, { stdout: true }),
    big: sregistrySpec(["inspect", big], home, { stdout: true }),
  };
  // Untimed: both show what their squashfs holds, without a warning.
  for (const key of ["small", "big"] as const) {
    const shown = JSON.parse((await timedOk(specs[key])).stdout);
    if (shown.attributes?.labels?.maintainer !== "bench" || shown.warnings.length > 0) {
      throw new Error(`inspect of the ${key} SIF read ${JSON.stringify(shown).slice(0, 300)}`);
    }
  }
  const times = { empty: [] as number[], small: [] as number[], big: [] as number[] };
  const warmups = settings.quick ? 1 : 2;
  const count = settings.quick ? 5 : 15;
  note(`  inspect (2 GiB, 1 MiB) vs an empty script: ${warmups} warm-ups, ${count} runs`);
  await rounds(warmups, count, async (_, warmup) => {
    for (const key of ["empty", "small", "big"] as const) {
      const result = await timedOk(specs[key]);
      if (!warmup) times[key].push(result.ms);
    }
  });
  const [bigLabel, smallLabel] = [formatBytes(Deno.statSync(big).size), "1 MiB"];
  report(
    ratioRow(
      `inspect: ${bigLabel} SIF (vs ${smallLabel} SIF)`,
      median(times.big),
      median(times.small),
      MAX_SIZE_RATIO,
    ),
  );
  for (const [key, label] of [["big", bigLabel], ["small", smallLabel]] as const) {
    report(
      ratioRow(
        `inspect: ${label} SIF (vs empty script)`,
        median(times[key]),
        median(times.empty),
        MAX_STARTUP_RATIO,
      ),
    );
  }
  note(`  medians: big ${formatMs(median(times.big))}, small ${formatMs(median(times.small))}`);
}

// A SIF whose primary partition is a squashfs of the /.singularity.d tree plus the files that
// mksquashfs pseudo definitions (`name f mode uid gid command`) make.
async function buildSif(
  settings: BenchSettings,
  name: string,
  pseudoFiles: string[],
): Promise<string> {
  const path = join(settings.root, name);
  const tree = await Deno.makeTempDir({ dir: settings.root, prefix: "tree-" });
  const entries = singularityTree();
  entries[".singularity.d/labels.json"] = '{"maintainer": "bench"}';
  for (const [file, entry] of Object.entries(entries)) {
    const target = join(tree, file);
    Deno.mkdirSync(join(target, ".."), { recursive: true });
    if (typeof entry === "string") Deno.writeTextFileSync(target, entry);
    else if (typeof entry === "object" && "content" in entry) {
      Deno.writeTextFileSync(target, entry.content);
    }
  }
  const pseudo = pseudoFiles.flatMap((definition) => ["-p", definition]);
  const made = await new Deno.Command("mksquashfs", {
    args: [
      tree,
      path,
      "-o",
      String(PARTITION_AT),
      "-noappend",
      "-comp",
      "gzip",
      "-noD",
      "-noF",
      "-no-duplicates",
      "-all-root",
      "-no-xattrs",
      "-quiet",
      "-no-progress",
      ...pseudo,
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!made.success) throw new Error(`mksquashfs: ${new TextDecoder().decode(made.stderr)}`);
  // The header and descriptors go in front of the filesystem mksquashfs wrote at 32768.
  const size = Deno.statSync(path).size;
  const head = writeSif({
    launchScript: "#!/usr/bin/env run-singularity\n",
    arch: "02",
    time: 1700000000n,
    id: crypto.getRandomValues(new Uint8Array(16)),
    objects: [
      { type: DataType.deffile, data: "Bootstrap: docker\nFrom: busybox\n" },
      { type: DataType.partition, data: new Uint8Array(), extra: partitionExtra(1, 2, "02") },
    ],
  });
  const view = new DataView(head.buffer);
  const slot = 4096 + 585;
  const padding = view.getBigInt64(slot + 33, true);
  view.setBigInt64(slot + 25, BigInt(size - PARTITION_AT), true);
  view.setBigInt64(slot + 33, padding + BigInt(size - PARTITION_AT), true);
  view.setBigInt64(120, BigInt(size - 32176), true);
  using file = await Deno.open(path, { write: true });
  let written = 0;
  while (written < PARTITION_AT) written += await file.write(head.subarray(written, PARTITION_AT));
  await Deno.remove(tree, { recursive: true });
  return path;
}
