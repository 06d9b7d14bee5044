/**
 * Moving big images: `add --copy` against `md5sum`, `pull` from a fake Singularity Hub against
 * `curl` + `md5sum`, `push` to a fake Singularity Registry Server against `curl` sending the
 * same requests. Each of ours runs in a fresh HOME, with its peak RSS sampled.
 */
import { join } from "node:path";
import { authorizationHeader } from "../src/remotes/registry_auth.ts";
import { ROOT } from "../tests/support/cli.ts";
import { startFakeHub } from "../tests/support/fake_hub.ts";
import { startFakeRegistry } from "../tests/support/fake_registry.ts";
import {
  type BenchSettings,
  bigFile,
  formatBytes,
  formatMs,
  infoRow,
  makeHome,
  median,
  MIB,
  note,
  ratioRow,
  removeAll,
  type Row,
  rssRow,
  skippedRow,
  sregistrySpec,
  timedOk,
} from "./bench_support.ts";

/** Peak RSS allowed while moving an image of any size. */
const MAX_RSS_MB = 150;

function imageSize(settings: BenchSettings): number {
  return settings.quick ? 128 * MIB : 1024 * MIB;
}

function transferRuns(settings: BenchSettings): number {
  return settings.quick ? 2 : 3;
}

/** `sregistry add --copy <file>` against `md5sum <file>` (target <= 1.3x). */
export async function benchAdd(settings: BenchSettings, report: (row: Row) => void): Promise<void> {
  const size = imageSize(settings);
  const file = await bigFile(settings, size);
  const runs = transferRuns(settings);
  // Page cache cannot be dropped without root: read the file once so both read from memory.
  const expected = md5Of((await timedOk(md5sumSpec(file, settings.root))).stdout);
  const ours: number[] = [];
  const baseline: number[] = [];
  const floor: number[] = []; // cp + md5sum: what reading, hashing and writing a copy costs
  // MD5 alone in Deno, ours and node:crypto's: the floor of an add on this machine.
  const hashOnly = { ours: [] as number[], "node-crypto": [] as number[] };
  let peak = 0;
  for (let run = 1; run <= runs; run++) {
    const sum = await timedOk(md5sumSpec(file, settings.root));
    baseline.push(sum.ms);
    const copy = join(settings.root, "cp-copy.sif");
    try {
      floor.push(
        sum.ms + (await timedOk({ cmd: "cp", args: [file, copy], home: settings.root })).ms,
      );
    } finally {
      await removeAll(copy);
    }
    for (const which of ["ours", "node-crypto"] as const) {
      const hashed = await timedOk({
        cmd: Deno.execPath(),
        args: ["run", "--allow-read", join(ROOT, "scripts", "md5_file.ts"), file, which],
        home: settings.root,
        stdout: true,
      });
      if (hashed.stdout.trim() !== expected) throw new Error(`${which} MD5 differs from md5sum`);
      hashOnly[which].push(hashed.ms);
    }
    const home = await makeHome(settings, "add");
    try {
      const added = await timedOk(
        sregistrySpec(["add", "--copy", file, "--name", "bench/big"], home, { rss: true }),
      );
      if (!added.stderr.includes(expected)) {
        throw new Error(`add did not record version ${expected}: ${added.stderr.trim()}`);
      }
      ours.push(added.ms);
      peak = Math.max(peak, added.peakRssMb ?? 0);
      note(
        `  run ${run}/${runs}: add ${formatMs(added.ms)}, md5sum ${formatMs(sum.ms)}, ` +
          `cp ${formatMs(floor.at(-1)! - sum.ms)}`,
      );
    } finally {
      await removeAll(home);
    }
  }
  const name = `add --copy ${formatBytes(size)} (vs md5sum)`;
  report(ratioRow(name, median(ours), median(baseline), 1.3));
  report(infoRow(`add --copy ${formatBytes(size)} (vs cp + md5sum)`, median(ours), median(floor)));
  // Writing a copy is part of every add: when cp alone passes 1.3x md5sum, so must add.
  const cpOnly = floor.map((total, i) => total - baseline[i]);
  report(infoRow(`cp ${formatBytes(size)} alone (vs md5sum)`, median(cpOnly), median(baseline)));
  report(rssRow(`add --copy ${formatBytes(size)}: peak RSS`, peak));
  for (const [which, times] of Object.entries(hashOnly)) {
    report(infoRow(`MD5 alone, ${which} (vs md5sum)`, median(times), median(baseline)));
  }
}

/** `sregistry pull hub://...` against `curl -o` then `md5sum` (target <= 1.0x, RSS < 150 MB). */
export async function benchPull(
  settings: BenchSettings,
  report: (row: Row) => void,
): Promise<void> {
  const size = imageSize(settings);
  const runs = transferRuns(settings);
  await using hub = await startFakeHub();
  const image = hub.addImage("bench", "big", "latest", { size, seed: 7 });
  // The hub hashes a generated image on first use: do it now, outside every timing.
  const expected = await image.md5();
  const env = { SREGISTRY_HUB_BASE: hub.base };
  const ours: number[] = [];
  const baseline: number[] = [];
  const curlOnly: number[] = [];
  let peak = 0;
  for (let run = 1; run <= runs; run++) {
    const target = join(settings.root, "curl-download.sif");
    try {
      const fetched = await timedOk({
        cmd: "curl",
        args: ["-sSf", "-o", target, image.downloadUrl],
        home: settings.root,
      });
      const summed = await timedOk(md5sumSpec(target, settings.root));
      if (md5Of(summed.stdout) !== expected) throw new Error("curl downloaded other bytes");
      baseline.push(fetched.ms + summed.ms);
      curlOnly.push(fetched.ms);
    } finally {
      await removeAll(target);
    }
    const home = await makeHome(settings, "pull");
    try {
      const pulled = await timedOk(
        sregistrySpec(["pull", "hub://bench/big"], home, { env, rss: true }),
      );
      ours.push(pulled.ms);
      peak = Math.max(peak, pulled.peakRssMb ?? 0);
      note(
        `  run ${run}/${runs}: pull ${formatMs(pulled.ms)} (${pulled.peakRssMb?.toFixed(1)} MB), ` +
          `curl ${formatMs(curlOnly.at(-1)!)} + md5sum ${
            formatMs(baseline.at(-1)! - curlOnly.at(-1)!)
          }`,
      );
    } finally {
      await removeAll(home);
    }
  }
  const name = `pull ${formatBytes(size)} (vs curl + md5sum)`;
  report(ratioRow(name, median(ours), median(baseline), 1.0));
  report(infoRow(`pull ${formatBytes(size)} (vs curl alone)`, median(ours), median(curlOnly)));
  report(rssRow(`pull ${formatBytes(size)}: peak RSS`, peak, MAX_RSS_MB));

  if (settings.quick) {
    report(skippedRow("pull 4 GiB: peak RSS", "skipped with --quick"));
  } else {
    const huge = hub.addImage("bench", "huge", "latest", { size: 4096 * MIB, seed: 11 });
    await huge.md5();
    const home = await makeHome(settings, "pull-4g");
    try {
      const pulled = await timedOk(
        sregistrySpec(["pull", "hub://bench/huge"], home, { env, rss: true }),
      );
      note(`  pull 4 GiB: ${formatMs(pulled.ms)}, peak RSS ${pulled.peakRssMb?.toFixed(1)} MB`);
      report(rssRow("pull 4 GiB: peak RSS", pulled.peakRssMb ?? 0, MAX_RSS_MB));
    } finally {
      await removeAll(home);
    }
  }
  if (hub.unexpected.length > 0) {
    throw new Error(`the fake hub got unexpected requests: ${hub.unexpected[0].path}`);
  }
}

/** `sregistry push` against `curl` making the same two requests (target <= 1.2x, RSS). */
export async function benchPush(
  settings: BenchSettings,
  report: (row: Row) => void,
): Promise<void> {
  const implemented = await Deno.stat(join(ROOT, "src", "remotes", "registry_server.ts")).then(
    () => true,
    () => false,
  );
  if (!implemented) {
    report(skippedRow("push", "skipped: push not implemented"));
    return;
  }
  const size = imageSize(settings);
  const runs = transferRuns(settings);
  const file = await bigFile(settings, size);
  const users = { dino: "sekrit" };
  await using registry = await startFakeRegistry({ users });
  const env = {
    SREGISTRY_CLIENT: "registry",
    SREGISTRY_REGISTRY_BASE: registry.url,
    SREGISTRY_REGISTRY_USERNAME: "dino",
    SREGISTRY_REGISTRY_TOKEN: "sekrit",
  };
  const expected = md5Of((await timedOk(md5sumSpec(file, settings.root))).stdout);
  const ours: number[] = [];
  const baseline: number[] = [];
  let peak = 0;
  for (let run = 1; run <= runs; run++) {
    baseline.push(await curlPush(settings, registry.url, file));
    checkStored(registry.images(), expected, "curl");
    const home = await makeHome(settings, "push");
    try {
      const pushed = await timedOk(
        sregistrySpec(["push", file, "--name", "bench/big:latest"], home, { env, rss: true }),
      );
      checkStored(registry.images(), expected, "sregistry push");
      ours.push(pushed.ms);
      peak = Math.max(peak, pushed.peakRssMb ?? 0);
      note(
        `  run ${run}/${runs}: push ${formatMs(pushed.ms)} (${pushed.peakRssMb?.toFixed(1)} MB), ` +
          `curl ${formatMs(baseline.at(-1)!)}`,
      );
    } finally {
      await removeAll(home);
    }
  }
  if (registry.unexpected.length > 0) {
    throw new Error(`the fake registry got unexpected requests: ${registry.unexpected[0]}`);
  }
  const name = `push ${formatBytes(size)} (vs curl)`;
  report(ratioRow(name, median(ours), median(baseline), 1.2));
  report(rssRow(`push ${formatBytes(size)}: peak RSS`, peak, MAX_RSS_MB));
}

// The two requests a push makes (reference §6.3): ask for the collection id, then send the
// multipart upload nginx's upload module takes; both signed as the server checks.
async function curlPush(settings: BenchSettings, url: string, file: string): Promise<number> {
  const target = { collection: "bench", name: "big", tag: "latest" };
  const sign = (action: "push" | "upload") =>
    authorizationHeader({ action, ...target, username: "dino", token: "sekrit" });
  const asked = await timedOk({
    cmd: "curl",
    args: [
      "-sSf",
      "-X",
      "POST",
      "-H",
      `Authorization: ${sign("push")}`,
      "-H",
      "Content-Type: application/json",
      "--data",
      JSON.stringify(target),
      `${url}/api/upload/chunked_upload`,
    ],
    home: settings.root,
    stdout: true,
  });
  const cid = String((JSON.parse(asked.stdout) as { cid: number }).cid);
  const upload = sign("upload");
  const sent = await timedOk({
    cmd: "curl",
    args: [
      "-sSf",
      "-H",
      "Expect:",
      "-H",
      `Authorization: ${upload}`,
      "--form-string",
      `SREGISTRY_EVENT=${upload}`,
      "--form-string",
      `name=${target.name}`,
      "--form-string",
      `collection=${cid}`,
      "--form-string",
      `tag=${target.tag}`,
      "-F",
      `file1=@${file};filename=big:latest.sif;type=text/plain`,
      `${url}/upload`,
    ],
    home: settings.root,
    stdout: true,
  });
  if (!sent.stdout.includes("Upload Complete")) {
    throw new Error(`curl's upload was refused: ${sent.stdout.trim()}`);
  }
  return asked.ms + sent.ms;
}

function checkStored(images: { name: string; md5: string }[], md5: string, who: string): void {
  const stored = images.find((image) => image.name === "big");
  if (stored?.md5 !== md5) throw new Error(`${who}: the registry did not store the pushed file`);
}

function md5sumSpec(file: string, home: string) {
  return { cmd: "md5sum", args: [file], home, stdout: true };
}

function md5Of(md5sumOutput: string): string {
  return md5sumOutput.trim().split(/\s+/)[0];
}
