/**
 * A big database: 100,000 records written straight through the core (one transaction), then
 * `sregistry images --json` on it (within 1 s), the table `images` shows and the table sorted by
 * size (within 1 s each), `images --arch --label` filtering on what was read from the images
 * (within 1 s), and `sregistry get` on it against `get` on a database holding a single record
 * (<= 1.5x).
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { insertContainer } from "../src/core/container_writes.ts";
import { immediate } from "../src/core/database.ts";
import { formatImageName, type ImageName } from "../src/core/names.ts";
import { openRegistry } from "../src/core/registry.ts";
import { lines } from "../tests/support/state.ts";
import {
  type BenchSettings,
  denoScriptSpec,
  formatMs,
  makeHome,
  median,
  note,
  ratioRow,
  rounds,
  type Row,
  rssRow,
  sregistrySpec,
  timedOk,
  timeRow,
} from "./bench_support.ts";

/** `images --json` on the big database must finish within this. */
const MAX_IMAGES_MS = 1000;
/** `get` on the big database may cost at most this many times `get` on a one-record database. */
const MAX_GET_RATIO = 1.5;

/** Runs the big-database group. */
export async function benchDb(settings: BenchSettings, report: (row: Row) => void): Promise<void> {
  const count = settings.quick ? 10_000 : 100_000;
  const label = settings.quick ? `db${count / 1000}k` : "db100k";
  const bigHome = await makeHome(settings, "db-big");
  const oneHome = await makeHome(settings, "db-one");
  const target = Math.floor(count / 2);

  const started = performance.now();
  await buildDatabase(bigHome, Array.from({ length: count }, (_, i) => i));
  note(`  wrote ${count} records in ${formatMs(performance.now() - started)}`);
  await buildDatabase(oneHome, [target]);
  const wanted = recordName(target);
  // With its version: the remote-only record (get refuses a local record whose file is missing,
  // and the odd records here have none).
  const uri = formatImageName(wanted);

  // Untimed checks that the commands see what was written.
  const listed = await timedOk(sregistrySpec(["images", "--json"], bigHome, { stdout: true }));
  const records = JSON.parse(listed.stdout) as unknown[];
  if (records.length !== count) {
    throw new Error(`images --json listed ${records.length} records, not ${count}`);
  }
  const expected = (await timedOk(sregistrySpec(["get", uri], oneHome, { stdout: true }))).stdout;
  const got = (await timedOk(sregistrySpec(["get", uri], bigHome, { stdout: true }))).stdout;
  if (!got.trim().endsWith(expected.trim().slice(oneHome.length))) {
    throw new Error(`get ${uri} printed ${got.trim()}, expected ${expected.trim()}`);
  }

  const empty = join(settings.root, "empty.ts");
  await Deno.writeTextFile(empty, "");
  const filter = ["images", "--json", "--arch", "amd64", "--label", "team=t7"];
  const filtered = JSON.parse(
    (await timedOk(sregistrySpec(filter, bigHome, { stdout: true }))).stdout,
  );
  if (filtered.length !== count / 50) {
    throw new Error(`${filter.join(" ")} listed ${filtered.length} records, not ${count / 50}`);
  }
  const table = lines((await timedOk(sregistrySpec(["images"], bigHome, { stdout: true }))).stdout);
  if (table.length !== count + 2) {
    throw new Error(`images showed ${table.length} lines, not a header, ${count} rows and a total`);
  }
  const sortedTable = ["images", "--sort", "size", "--reverse"];
  const specs = {
    empty: denoScriptSpec(empty, oneHome),
    filter: sregistrySpec(filter, bigHome),
    table: sregistrySpec(["images"], bigHome),
    sorted: sregistrySpec(sortedTable, bigHome),
    getBig: sregistrySpec(["get", uri], bigHome),
    getOne: sregistrySpec(["get", uri], oneHome),
    images: sregistrySpec(["images", "--json"], bigHome, { rss: true }),
  };
  const times = { empty: [] as number[], getBig: [] as number[], getOne: [] as number[] };
  const imagesTimes: number[] = [];
  const filterTimes: number[] = [];
  const tableTimes: number[] = [];
  const sortedTimes: number[] = [];
  let imagesRss = 0;
  const warmups = settings.quick ? 1 : 2;
  const runs = settings.quick ? 5 : 15;
  const imagesRuns = settings.quick ? 2 : 5;
  note(`  get (${runs} runs) and images --json (${imagesRuns} runs), ${warmups} warm-ups`);
  await rounds(warmups, runs, async (index, warmup) => {
    for (const key of ["empty", "getBig", "getOne"] as const) {
      const result = await timedOk(specs[key]);
      if (!warmup) times[key].push(result.ms);
    }
    if (warmup || index < imagesRuns) {
      const result = await timedOk(specs.images);
      imagesRss = Math.max(imagesRss, result.peakRssMb ?? 0);
      if (!warmup) imagesTimes.push(result.ms);
      const narrowed = await timedOk(specs.filter);
      if (!warmup) filterTimes.push(narrowed.ms);
      const shown = await timedOk(specs.table);
      if (!warmup) tableTimes.push(shown.ms);
      const sorted = await timedOk(specs.sorted);
      if (!warmup) sortedTimes.push(sorted.ms);
    }
  });
  report(
    timeRow(
      `${label}: images --json (vs empty script)`,
      median(imagesTimes),
      median(times.empty),
      MAX_IMAGES_MS,
    ),
  );
  report(rssRow(`${label}: images --json peak RSS`, imagesRss));
  report(
    timeRow(
      `${label}: images (table, vs empty script)`,
      median(tableTimes),
      median(times.empty),
      MAX_IMAGES_MS,
    ),
  );
  report(
    timeRow(
      `${label}: ${sortedTable.join(" ")} (vs empty script)`,
      median(sortedTimes),
      median(times.empty),
      MAX_IMAGES_MS,
    ),
  );
  report(
    timeRow(
      `${label}: images --arch --label (vs empty script)`,
      median(filterTimes),
      median(times.empty),
      MAX_IMAGES_MS,
    ),
  );
  report(
    ratioRow(
      `${label}: get (vs get on a 1-record db)`,
      median(times.getBig),
      median(times.getOne),
      MAX_GET_RATIO,
    ),
  );
}

/**
 * The name of record `index`: two versions per name (the newest wins a lookup), 500
 * collections; even records are remote-only with a manifest as metadata, odd ones have a
 * storage-relative path (no file is written).
 */
export function recordName(index: number): ImageName {
  const key = Math.floor(index / 2);
  return {
    registry: null,
    collection: `lab${key % 500}`,
    name: `tool-${Math.floor(key / 500)}`,
    tag: "latest",
    version: createHash("md5").update(`record ${index}`).digest("hex"),
  };
}

/** Writes the records of these indexes (see recordName) into the database of `home`. */
export async function buildDatabase(home: string, indexes: number[]): Promise<void> {
  const databaseFolder = join(home, ".singularity");
  using registry = await openRegistry({
    databaseFolder,
    storageRoot: join(databaseFolder, "shub"),
  });
  immediate(registry.db, () => {
    for (const index of indexes) {
      const image = recordName(index);
      const remote = index % 2 === 0;
      const url = `https://singularity-hub.org/containers/${index}/download`;
      insertContainer(registry.db, {
        image,
        uri: formatImageName(image),
        file: remote ? null : `${image.collection}/${image.name}/${image.tag}@${image.version}.sif`,
        url: remote ? url : null,
        client: remote ? "hub" : "registry",
        metadata: remote
          ? { image: url, name: `${image.collection}/${image.name}`, version: image.version }
          : null,
        size: 50_000_000 + index,
        md5: remote ? null : image.version,
        // What add and pull read from an image: half amd64, 50 teams.
        metrics: {
          format: "sif",
          arch: index % 2 ? "amd64" : "arm64",
          sif_id: null,
          created: null,
          labels: { team: `t${index % 50}`, "org.label-schema.build-date": "2024-01-01" },
        },
      });
    }
  });
}
