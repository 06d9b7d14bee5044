/**
 * `sregistry verify [query...]`: re-hashes local images and compares them with their records;
 * without queries, also reports files no record knows and leftovers of killed runs. The problems
 * go to stdout (a table, or JSON with every check); exit 1 when there is any.
 */
import type { Command } from "../command_line.ts";
import type { Context } from "../context.ts";
import { IntegrityError, NotFoundError } from "../errors.ts";
import {
  type ImageCheck,
  isProblem,
  type StoreProblem,
  type VerifyReport,
  verifyStore,
} from "../core/verify.ts";
import { progressDisplay, progressMode } from "../output/progress_bar.ts";
import { renderJson } from "../output/records.ts";
import { renderTable } from "../output/table.ts";
import { formatBytes } from "../output/units.ts";

// Below this much to hash, a progress display is noise.
const PROGRESS_FROM = 64 * 1024 * 1024;

/** Options of `verify`. */
export interface VerifyCommandOptions {
  query: string[];
  quick: boolean;
  json: boolean;
}

/** Registers `verify`. */
export function registerVerify(program: Command, ctx: Context): void {
  program.command("verify")
    .description("check local images against their records, and storage for leftovers")
    .argument(
      "[query...]",
      "check only records whose collection, name, tag or uri contains every query",
    )
    .option("--quick", "check that each file is there with its recorded size; do not re-hash")
    .option("--json", "print every check and a summary as JSON")
    .addHelpText(
      "\nEach image file is re-hashed (MD5), several at once on the machine's cores, and\n" +
        "compared with its record. Without a query, files in storage that no record knows and\n" +
        "leftovers of killed runs are reported too; 'sregistry prune' removes them.\n" +
        "Exit 1 when anything is wrong, 0 when all is well.\n\n" +
        "Examples:\n  sregistry verify\n  sregistry verify --quick lab/\n  sregistry verify --json",
    )
    .action((query, options) => runVerify(ctx, { query, ...options }));
}

/** Runs `verify`. */
export async function runVerify(ctx: Context, options: VerifyCommandOptions): Promise<void> {
  using registry = await ctx.openRegistry();
  const mode = progressMode(ctx.io.err, { quiet: ctx.flags.quiet, json: options.json });
  const progress = progressDisplay(ctx.io.err, mode, "verify");
  const report = await verifyStore(registry, {
    queries: options.query,
    quick: options.quick,
    onProgress: (done, total) => {
      if (total >= PROGRESS_FROM) progress.update(done, total);
    },
  }).finally(() => progress.finish());
  const problems = report.images.filter(isProblem).length + report.problems.length;
  if (options.json) ctx.io.out.write(renderJson(verifyJson(report, options.quick)));
  else if (problems > 0) ctx.io.out.write(problemTable(report));
  const checked = `${report.images.length} image${report.images.length === 1 ? "" : "s"}` +
    (options.quick ? " checked" : ` checked (${formatBytes(report.bytesHashed)} hashed)`);
  const unverified = report.images.filter((check) => check.status === "unverified").length;
  if (unverified > 0 && !options.json) {
    ctx.io.err.line(
      `verify: ${unverified} record${unverified === 1 ? " has" : "s have"} no MD5 to compare ` +
        "with (added by an older client); only their size was checked",
    );
  }
  const queried = options.query.some((query) => query !== "" && query !== "*");
  if (queried && report.images.length === 0 && problems === 0) {
    // A typo must not pass for a clean store.
    throw new NotFoundError(`no local image matches ${options.query.join(" ")}`, {
      hint: "'sregistry images' lists what is recorded",
    });
  }
  if (problems > 0) {
    throw new IntegrityError(
      `verify found ${problems} problem${problems === 1 ? "" : "s"}; ${checked}`,
      {
        hint: hint(report),
      },
    );
  }
  if (!options.json && !ctx.flags.quiet) {
    ctx.io.err.line(`verify: ${checked}${report.complete ? " and storage" : ""}; no problems`);
  }
}

// What to run about the problems found.
function hint(report: VerifyReport): string {
  const statuses = new Set(report.images.filter(isProblem).map((check) => check.status));
  const hints: string[] = [];
  if (report.problems.length > 0 || statuses.has("missing")) {
    hints.push("'sregistry prune' removes leftovers, unknown files and records whose file is gone");
  }
  if (statuses.has("changed")) {
    hints.push("add a good copy again, or 'sregistry pull --force' it ('sregistry rmi' drops it)");
  }
  if (statuses.has("unreadable") || report.problems.some((p) => p.kind === "unreadable")) {
    hints.push("ask the store's owner to make unreadable files group-readable");
  }
  return hints.join("; ");
}

function problemTable(report: VerifyReport): string {
  const rows = [
    ...report.images.filter(isProblem).map((check) => [
      check.status,
      check.record.uri,
      check.path,
      imageDetail(check),
    ]),
    ...report.problems.map((problem) => [problem.kind, "-", problem.path, fileDetail(problem)]),
  ];
  return renderTable(["problem", "image", "file", "detail"], rows);
}

function imageDetail(check: ImageCheck): string {
  const { record } = check;
  switch (check.status) {
    case "missing":
      return "no regular file there (reached through no symlink in storage)";
    case "unreadable":
      return `cannot be read: ${check.reason ?? "permission denied"}`;
    case "changed":
      if (check.size !== null && record.size !== null && check.size !== record.size) {
        return `${check.size} bytes, recorded ${record.size}`;
      }
      return check.md5 !== null && check.md5 !== record.md5
        ? `MD5 ${check.md5}, recorded ${record.md5}`
        : "replaced while it was read";
    default:
      return "";
  }
}

const FILE_DETAILS: Record<StoreProblem["kind"], string> = {
  unknown: "no record names it",
  symlink: "a symlink no record names (never followed)",
  unreadable: "a folder this user cannot read",
  temporary: "a temporary copy left by a run that died",
  partial: "a partial download (or its sidecar or lock) that no pull holds",
  tombstone: "an image a killed rmi was deleting",
  "owner-lock": "the lock of a command that died",
};

function fileDetail(problem: StoreProblem): string {
  const size = problem.kind === "unreadable" || problem.kind === "symlink"
    ? ""
    : `, ${formatBytes(problem.size)}`;
  return FILE_DETAILS[problem.kind] + size;
}

function verifyJson(report: VerifyReport, quick: boolean): unknown {
  const count = (status: string) => report.images.filter((check) => check.status === status).length;
  return {
    images: report.images.map((check) => ({
      uri: check.record.uri,
      image: check.path,
      status: check.status,
      size: check.size,
      md5: check.md5,
      recorded_size: check.record.size,
      recorded_md5: check.record.md5,
      ...(check.reason === null ? {} : { reason: check.reason }),
    })),
    files: report.problems.map((problem) => ({
      path: problem.path,
      problem: problem.kind,
      size: problem.size,
    })),
    summary: {
      images: report.images.length,
      ok: count("ok"),
      unverified: count("unverified"),
      missing: count("missing"),
      changed: count("changed"),
      unreadable: count("unreadable"),
      files: report.problems.length,
      problems: report.images.filter(isProblem).length + report.problems.length,
      bytes_hashed: report.bytesHashed,
      quick,
      storage_checked: report.complete,
    },
  };
}
