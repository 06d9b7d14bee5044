/**
 * `sregistry refresh [query...]`: asks the remotes that stored images came from whether they still
 * have them, and with --pull fetches the newer ones. The report goes to stdout (a table of what is
 * not current, or JSON of every record asked about); exit 1 when a remote could not be asked or a
 * pull failed, 0 otherwise, whether or not anything is out of date.
 */
import type { Command } from "../command_line.ts";
import type { Context } from "../context.ts";
import { printable, RemoteError, UsageError } from "../errors.ts";
import type { RefreshEntry, RefreshReport, RefreshStatus } from "../remotes/refresh.ts";
import {
  countDisplay,
  type ProgressDisplay,
  progressDisplay,
  progressMode,
} from "../output/progress_bar.ts";
import { containerRecord, renderJson } from "../output/records.ts";
import { renderTable } from "../output/table.ts";
import { writeWarnings } from "../output/inspection.ts";
import type { Registry } from "../core/registry.ts";
import { clientEnvironment } from "./remote.ts";

const DEFAULT_JOBS = 4;
const MAX_JOBS = 16;

/** Options of `refresh`. */
export interface RefreshCommandOptions {
  query: string[];
  pull: boolean;
  json: boolean;
  jobs?: string;
}

/** Registers `refresh`. */
export function registerRefresh(program: Command, ctx: Context): void {
  program.command("refresh")
    .description("check stored images against their remotes; --pull fetches newer ones")
    .argument("[query...]", "check only records whose collection, name, tag or uri contains one")
    .option("--pull", "pull the newer images (a remote-only record records the new version)")
    .option("--jobs <n>", `remotes asked at once, 1 to ${MAX_JOBS} (default ${DEFAULT_JOBS})`)
    .option("--json", "print every record asked about and a summary as JSON")
    .addHelpText(
      "\nThe newest record of each collection/name:tag that came from a remote (hub://,\n" +
        "registry://, oras://, a URL) is compared with what the remote has now: the MD5 its\n" +
        "manifest names, the manifest digest its tag names (a HEAD), or the ETag/Last-Modified\n" +
        "of a plain URL (a conditional HEAD). Records without a remote are not asked about.\n" +
        "Each remote gets at most two requests at a time; one that does not answer is not asked\n" +
        "again in the run. --pull keeps the older version as its own record.\n" +
        "Exit 0 when every remote answered (out of date or not), 1 when one could not be asked\n" +
        "or a pull failed.\n\n" +
        "Examples:\n  sregistry refresh\n  sregistry refresh --pull lab/\n" +
        "  sregistry refresh --json",
    )
    .action((query, options) => runRefresh(ctx, { query, ...options }));
}

/** Runs `refresh`. */
export async function runRefresh(ctx: Context, options: RefreshCommandOptions): Promise<void> {
  const jobs = jobsOption(options.jobs);
  const { refreshRecords } = await import("../remotes/refresh.ts");
  using registry = await ctx.openRegistry();
  const mode = progressMode(ctx.io.err, { quiet: ctx.flags.quiet, json: options.json });
  const checking = countDisplay(ctx.io.err, mode, "refresh");
  let pulling: ProgressDisplay | null = null;
  const report = await refreshRecords(registry, {
    queries: options.query,
    pull: options.pull,
    jobs,
    environment: clientEnvironment(ctx),
    onChecked: (done, total) => {
      checking.update(done, total);
      if (done === total) checking.finish();
    },
    onPull: (entry) => {
      pulling?.finish();
      pulling = progressDisplay(ctx.io.err, mode, "pull");
      if (mode !== "none") ctx.io.err.line(`[refresh] pulling ${printable(entry.remote!)}`);
    },
    onPulled: (entry) => {
      pulling?.finish();
      pulling = null;
      for (const note of entry.notes) ctx.io.err.line(`[refresh] note: ${printable(note)}`);
      writeWarnings(ctx.io.err, entry.warnings);
      if (entry.pulled !== null) {
        ctx.io.err.line(`[container][new] ${entry.pulled.container.uri}`);
      }
    },
    onProgress: ({ done, total }) => pulling?.update(done, total),
    onWait: () =>
      ctx.io.err.line("[refresh] another sregistry is pulling this image; waiting for it"),
  }).finally(() => {
    checking.finish();
    pulling?.finish();
  });
  if (options.json) ctx.io.out.write(renderJson(refreshJson(registry, report)));
  else {
    const rows = report.entries.filter((entry) => entry.status !== "current").map(row);
    if (rows.length > 0) {
      ctx.io.out.write(renderTable(["status", "image", "remote", "detail"], rows));
    }
    if (!ctx.flags.quiet) {
      for (const line of summary(report, options.pull)) ctx.io.err.line(line);
    }
  }
  const failed = report.entries.filter((entry) => entry.status === "failed");
  if (failed.length > 0) {
    const [first] = failed;
    const what = failed.length === 1
      ? `could not refresh ${first.container.uri}`
      : `could not refresh ${failed.length} images; the first, ${first.container.uri}`;
    throw new RemoteError(`${what}: ${first.detail}`, {
      hint: first.hint ?? "run it again when the remote answers",
    });
  }
}

function jobsOption(value: string | undefined): number {
  if (value === undefined) return DEFAULT_JOBS;
  const jobs = Number(value.trim());
  if (!/^\d+$/.test(value.trim()) || jobs < 1 || jobs > MAX_JOBS) {
    throw new UsageError(`--jobs takes a whole number from 1 to ${MAX_JOBS}, not '${value}'`, {
      hint: `e.g. --jobs ${DEFAULT_JOBS}`,
    });
  }
  return jobs;
}

function row(entry: RefreshEntry): string[] {
  const detail = entry.status === "updated" && entry.pulled !== null
    ? `now ${entry.pulled.container.uri}`
    : entry.detail ?? "";
  return [entry.status, entry.container.uri, entry.remote ?? "-", detail];
}

const ORDER: RefreshStatus[] = [
  "current",
  "outdated",
  "updated",
  "gone",
  "unknown",
  "skipped",
  "failed",
];

// The lines on stderr after the table: counts, and what to run next.
function summary(report: RefreshReport, pulled: boolean): string[] {
  const counts = countStatuses(report.entries);
  const asked = ORDER.filter((status) => counts[status] > 0)
    .map((status) => `${counts[status]} ${status}`);
  const notAsked = [
    ...(report.withoutRemote ? [plural(report.withoutRemote, "record") + " without a remote"] : []),
    ...(report.olderVersions ? [plural(report.olderVersions, "older version")] : []),
  ];
  const lines = [
    `refresh: ${plural(report.entries.length, "image")}` +
    (asked.length ? ` (${asked.join(", ")})` : "") +
    (notAsked.length ? `; not asked about: ${notAsked.join(", ")}` : ""),
  ];
  if (counts.outdated > 0 && !pulled) {
    lines.push(
      `refresh: 'sregistry refresh --pull' fetches the newer ${
        counts.outdated === 1 ? "image" : "images"
      } (the older version stays as its own record)`,
    );
  }
  if (counts.gone > 0) {
    lines.push(
      `refresh: ${plural(counts.gone, "image")} no longer on ${
        counts.gone === 1 ? "its remote" : "their remotes"
      }; what is stored is kept`,
    );
  }
  return lines;
}

function countStatuses(entries: RefreshEntry[]): Record<RefreshStatus, number> {
  const counts = Object.fromEntries(ORDER.map((status) => [status, 0])) as Record<
    RefreshStatus,
    number
  >;
  for (const entry of entries) counts[entry.status]++;
  return counts;
}

function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? "" : "s"}`;
}

function refreshJson(registry: Registry, report: RefreshReport): unknown {
  const counts = countStatuses(report.entries);
  return {
    images: report.entries.map((entry) => ({
      id: entry.container.id,
      uri: entry.container.uri,
      client: entry.container.client,
      url: entry.container.url,
      location: entry.container.image === null ? "remote" : "local",
      version: entry.container.version,
      status: entry.status,
      remote: entry.remote,
      remote_version: entry.remoteVersion,
      detail: entry.detail,
      ...(entry.hint === null ? {} : { hint: entry.hint }),
      pulled: entry.pulled === null ? null : containerRecord(registry, entry.pulled.container),
      notes: entry.notes,
    })),
    summary: {
      images: report.entries.length,
      ...counts,
      without_remote: report.withoutRemote,
      older_versions: report.olderVersions,
    },
  };
}
