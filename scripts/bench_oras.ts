/**
 * oras:// against Debian's docker-registry on 127.0.0.1: `pull` of a 1 GiB SIF against `curl` of
 * the same blob then `sha256sum` and `md5sum` of it (target <= 0.8x: one read, both hashes in
 * the same pass), and `push` against `sha256sum` of the file plus `curl` POST and PUT of it
 * (target <= 1.0x); peak RSS of both under 150 MB. Skipped when docker-registry is missing.
 */
import { join } from "node:path";
import { dockerRegistryInstalled, startDockerRegistry } from "../tests/support/docker_registry.ts";
import {
  type BenchSettings,
  bigFile,
  formatBytes,
  formatMs,
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

const MAX_RSS_MB = 150;

/** `sregistry pull oras://…` against curl + sha256sum + md5sum (target <= 0.8x). */
export async function benchOrasPull(
  settings: BenchSettings,
  report: (row: Row) => void,
): Promise<void> {
  if (!dockerRegistryInstalled()) {
    report(skippedRow("oras pull", "skipped: docker-registry is not installed"));
    return;
  }
  const size = imageSize(settings);
  const file = await sifFile(settings, size);
  await using registry = await startDockerRegistry();
  const uri = `oras://${registry.host}/bench/sif:1`;
  await timedOk(sregistrySpec(["push", file, "--name", uri], settings.root));
  const sha256 = firstWord((await timedOk(command("sha256sum", [file], settings))).stdout);
  const blobUrl = `${registry.url}/v2/bench/sif/blobs/sha256:${sha256}`;
  const ours: number[] = [];
  const baseline: number[] = [];
  let peak = 0;
  for (let run = 1; run <= runs(settings); run++) {
    const target = join(settings.root, "curl-blob.sif");
    try {
      const fetched = await timedOk(command("curl", ["-sSf", "-o", target, blobUrl], settings));
      const summed = await timedOk(command("sha256sum", [target], settings));
      const md5 = await timedOk(command("md5sum", [target], settings));
      if (firstWord(summed.stdout) !== sha256) throw new Error("curl fetched other bytes");
      baseline.push(fetched.ms + summed.ms + md5.ms);
      note(
        `  run ${run}: curl ${formatMs(fetched.ms)} + sha256sum ${formatMs(summed.ms)} + ` +
          `md5sum ${formatMs(md5.ms)}`,
      );
    } finally {
      await removeAll(target);
    }
    const home = await makeHome(settings, "oras-pull");
    try {
      const pulled = await timedOk(sregistrySpec(["pull", uri], home, { rss: true }));
      ours.push(pulled.ms);
      peak = Math.max(peak, pulled.peakRssMb ?? 0);
      note(`  run ${run}: pull ${formatMs(pulled.ms)} (${pulled.peakRssMb?.toFixed(1)} MB)`);
    } finally {
      await removeAll(home);
    }
  }
  const name = `oras pull ${formatBytes(size)} (vs curl + sha256sum + md5sum)`;
  report(ratioRow(name, median(ours), median(baseline), 0.8));
  report(rssRow(`oras pull ${formatBytes(size)}: peak RSS`, peak, MAX_RSS_MB));
}

/** `sregistry push … --name oras://…` against sha256sum + curl POST/PUT (target <= 1.0x). */
export async function benchOrasPush(
  settings: BenchSettings,
  report: (row: Row) => void,
): Promise<void> {
  if (!dockerRegistryInstalled()) {
    report(skippedRow("oras push", "skipped: docker-registry is not installed"));
    return;
  }
  const size = imageSize(settings);
  const file = await sifFile(settings, size);
  await using registry = await startDockerRegistry();
  const ours: number[] = [];
  const baseline: number[] = [];
  let peak = 0;
  for (let run = 1; run <= runs(settings); run++) {
    const summed = await timedOk(command("sha256sum", [file], settings));
    const digest = `sha256:${firstWord(summed.stdout)}`;
    const started = await timedOk(command("curl", [
      "-sSf",
      "-X",
      "POST",
      "-o",
      "/dev/null",
      "-w",
      "%header{location}",
      `${registry.url}/v2/bench/curl${run}/blobs/uploads/`,
    ], settings));
    const location = new URL(started.stdout.trim(), registry.url);
    const put = await timedOk(command("curl", [
      "-sSf",
      "-X",
      "PUT",
      "-H",
      "Content-Type: application/octet-stream",
      "-T",
      file,
      `${location.href}${location.search ? "&" : "?"}digest=${digest}`,
    ], settings));
    baseline.push(summed.ms + started.ms + put.ms);
    const home = await makeHome(settings, "oras-push");
    try {
      const pushed = await timedOk(
        sregistrySpec(
          ["push", file, "--name", `oras://${registry.host}/bench/ours${run}:1`],
          home,
          { rss: true },
        ),
      );
      ours.push(pushed.ms);
      peak = Math.max(peak, pushed.peakRssMb ?? 0);
      note(
        `  run ${run}: push ${formatMs(pushed.ms)} (${pushed.peakRssMb?.toFixed(1)} MB), ` +
          `sha256sum ${formatMs(summed.ms)} + curl ${formatMs(started.ms + put.ms)}`,
      );
    } finally {
      await removeAll(home);
    }
  }
  const name = `oras push ${formatBytes(size)} (vs sha256sum + curl POST/PUT)`;
  report(ratioRow(name, median(ours), median(baseline), 1.0));
  report(rssRow(`oras push ${formatBytes(size)}: peak RSS`, peak, MAX_RSS_MB));
}

function imageSize(settings: BenchSettings): number {
  return settings.quick ? 128 * MIB : 1024 * MIB;
}

function runs(settings: BenchSettings): number {
  return settings.quick ? 2 : 3;
}

// The benchmarks' random file with a SIF header in front (oras:// carries SIF files only).
async function sifFile(settings: BenchSettings, size: number): Promise<string> {
  const path = join(settings.root, `sif-${size}.sif`);
  try {
    await Deno.stat(path);
    return path;
  } catch {
    await Deno.copyFile(await bigFile(settings, size), path);
    using file = await Deno.open(path, { write: true });
    const header = new Uint8Array(64);
    header.set(new TextEncoder().encode("#!/usr/bin/env run-singularity\n"), 0);
    header.set(new TextEncoder().encode("SIF_MAGIC\u000001\u000002\u0000"), 32);
    await file.write(header);
    return path;
  }
}

function command(cmd: string, args: string[], settings: BenchSettings) {
  return { cmd, args, home: settings.root, stdout: true };
}

function firstWord(text: string): string {
  return text.trim().split(/\s+/)[0];
}
