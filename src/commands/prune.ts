/**
 * `sregistry prune`: removes records whose file is gone, files no record knows, leftovers of
 * killed runs and, when asked, images not used for some days or all but the newest versions of
 * each name. It asks first (off a terminal it needs --yes); --dry-run shows what it would do.
 */
import type { Command } from "../command_line.ts";
import type { Context } from "../context.ts";
import { STORE_MARKER } from "../core/storage.ts";
import { UsageError } from "../errors.ts";
import { prune, type PruneCriteria, type PruneOutcome } from "../core/prune.ts";
import {
  isEmptyPlan,
  type PlannedFile,
  type PlannedRecord,
  planPrune,
  type PrunePlan,
} from "../core/prune_plan.ts";
import { renderJson } from "../output/records.ts";
import { renderTable } from "../output/table.ts";
import { formatBytes } from "../output/units.ts";
import { confirm } from "./common.ts";

/** Options of `prune`. */
export interface PruneCommandOptions {
  dryRun: boolean;
  yes: boolean;
  json: boolean;
  unused?: string;
  keep?: string;
}

/** Registers `prune`. */
export function registerPrune(program: Command, ctx: Context): void {
  program.command("prune")
    .description("remove records whose file is gone, files no record knows and leftovers")
    .option("--dry-run", "show what would be removed; change nothing")
    .option("-y, --yes", "do not ask for confirmation (required off a terminal)")
    .option("--json", "print what was (or would be) removed as JSON")
    .option("--unused <days>", "also remove images not used (get, pull, add) for this many days")
    .option("--keep <n>", "also remove all but the newest n versions of each collection/name:tag")
    .addHelpText(
      "\nA record whose file is gone is removed (or, when a file an older version was deleting\n" +
        "holds its content, that file is put back); a file in storage no record names, a\n" +
        "temporary copy or partial download no live command holds, and an image a killed rmi\n" +
        "was deleting are deleted. A file shared by hard links frees its bytes with its last\n" +
        "link. --unused and --keep act on images with a file; given together, an image goes\n" +
        "only when both choose it.\n\n" +
        "Examples:\n  sregistry prune --dry-run\n  sregistry prune --yes\n" +
        "  sregistry prune --unused 90 --keep 2",
    )
    .action((options) => runPrune(ctx, options));
}

/** Runs `prune`. */
export async function runPrune(ctx: Context, options: PruneCommandOptions): Promise<void> {
  const criteria: PruneCriteria = {
    unusedDays: count(options.unused, "--unused", "days"),
    keep: count(options.keep, "--keep", "versions"),
    now: new Date(),
  };
  using registry = await ctx.openRegistry();
  const plan = await planPrune(registry, criteria);
  if (isEmptyPlan(plan)) {
    if (options.json) ctx.io.out.write(renderJson(pruneJson(plan, null, options.dryRun)));
    ctx.io.err.line("Nothing to prune.");
    noteKept(ctx, plan);
    return;
  }
  if (options.dryRun) {
    if (options.json) ctx.io.out.write(renderJson(pruneJson(plan, null, true)));
    else ctx.io.out.write(planTable(plan, null));
    ctx.io.err.line(`prune --dry-run: would ${summary(plan)}; nothing was changed`);
    noteKept(ctx, plan);
    return;
  }
  const agreed = await confirm(ctx, `${capitalise(summary(plan))}?`, {
    yes: options.yes,
    flag: "--yes",
    action: "prune",
  });
  if (!agreed) {
    ctx.io.err.line("Nothing removed.");
    return;
  }
  const outcome = prune(registry, plan, criteria);
  const done: PrunePlan = {
    ...plan,
    restores: outcome.restored,
    records: outcome.records.map(({ planned }) => planned),
    files: outcome.files,
    bytes: outcome.bytes,
  };
  if (options.json) ctx.io.out.write(renderJson(pruneJson(done, outcome, false)));
  else if (!isEmptyPlan(done)) ctx.io.out.write(planTable(done, outcome));
  ctx.io.err.line(`prune: ${pastSummary(done)}`);
  if (outcome.skipped > 0) {
    ctx.io.err.line(
      `prune: left ${outcome.skipped} planned step${outcome.skipped === 1 ? "" : "s"} alone: ` +
        "another command changed what they were about meanwhile",
    );
  }
  noteKept(ctx, plan);
}

// A whole number of at least 1, or undefined when the option is absent.
function count(value: string | undefined, flag: string, what: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value.trim()) || Number(value) < 1) {
    throw new UsageError(`${flag} takes a whole number of ${what}, at least 1, not '${value}'`, {
      hint: `e.g. ${flag} ${flag === "--keep" ? 2 : 90}`,
    });
  }
  return Number(value);
}

function summary(plan: PrunePlan): string {
  const parts = [
    ...(plan.restores.length ? [`put back ${plural(plan.restores.length, "image file")}`] : []),
    ...(plan.records.length ? [`remove ${plural(plan.records.length, "record")}`] : []),
    ...(plan.files.length ? [`delete ${plural(plan.files.length, "file")}`] : []),
  ];
  return `${joinList(parts)}, freeing ${formatBytes(plan.bytes)}`;
}

function pastSummary(plan: PrunePlan): string {
  const parts = [
    ...(plan.restores.length ? [`put back ${plural(plan.restores.length, "image file")}`] : []),
    ...(plan.records.length ? [`removed ${plural(plan.records.length, "record")}`] : []),
    ...(plan.files.length ? [`deleted ${plural(plan.files.length, "file")}`] : []),
  ];
  return parts.length === 0
    ? "nothing removed"
    : `${joinList(parts)}, freeing ${formatBytes(plan.bytes)}`;
}

// Records prune leaves although their file is not right, and why.
function noteKept(ctx: Context, plan: PrunePlan): void {
  const { ownership } = plan;
  if (plan.foreign.length > 0) {
    ctx.io.err.line(
      ownership.own
        ? `prune: left ${plural(plan.foreign.length, "file")} no record names and that are ` +
          "not in sregistry's layout (<collection>/<name>/<file>.sif); remove them by hand"
        : `prune: left ${plural(plan.foreign.length, "file")} no record names: this storage ` +
          `folder belongs to another database (its ${STORE_MARKER} names ` +
          `${ownership.otherId || "none readable"}); delete that file to make it this one's`,
    );
  }
  const changed = plan.kept.filter((kept) => kept.why === "changed").length;
  const unreachable = plan.kept.filter((kept) => kept.why === "unreachable").length;
  const unreadable = plan.kept.filter((kept) => kept.why === "unreadable").length;
  if (changed > 0) {
    ctx.io.err.line(
      `prune: kept ${plural(changed, "record")} whose file changed size; ` +
        "'sregistry verify' lists them, 'sregistry rmi' removes one",
    );
  }
  if (unreachable > 0) {
    ctx.io.err.line(
      `prune: kept ${plural(unreachable, "record")} whose file is outside storage in a folder ` +
        "that is not there (a filesystem not mounted here?); 'sregistry rm' removes one",
    );
  }
  if (unreadable > 0) {
    ctx.io.err.line(
      `prune: kept ${plural(unreadable, "record")} whose file is behind a folder you cannot read`,
    );
  }
}

const RECORD_REASONS: Record<PlannedRecord["reason"], string> = {
  missing: "its file is gone",
  unused: "not used recently",
  "old-version": "an older version",
};

const FILE_REASONS: Record<PlannedFile["reason"], string> = {
  unknown: "no record names it",
  symlink: "a symlink no record names",
  temporary: "temporary copy of a dead run",
  partial: "partial download no pull holds",
  tombstone: "left by a killed rmi",
  "owner-lock": "lock of a dead command",
};

function planTable(plan: PrunePlan, outcome: PruneOutcome | null): string {
  const removed = new Map(
    (outcome?.records ?? []).map(({ planned, removal }) => [planned.record.id, removal.fileState]),
  );
  const rows = [
    ...plan.restores.map((restore) => [
      outcome ? "restored" : "restore",
      restore.record.uri,
      `put back from ${restore.tombstone.path}`,
      "-",
    ]),
    ...plan.records.map((planned) => [
      outcome ? "removed" : "remove",
      planned.record.uri,
      RECORD_REASONS[planned.reason] +
      (removed.get(planned.record.id) === "shared" ? " (another record keeps the file)" : ""),
      freed(planned.entry?.size ?? null, planned.freed),
    ]),
    ...plan.files.map((planned) => [
      outcome ? "deleted" : "delete",
      planned.entry.path,
      FILE_REASONS[planned.reason],
      freed(planned.entry.type === "file" ? planned.entry.size : null, planned.freed),
    ]),
  ];
  return renderTable(["action", "what", "why", "freed"], rows);
}

// Bytes freed, or why none are although the file has some.
function freed(size: number | null, bytes: number): string {
  if (size === null) return "-";
  return bytes === 0 && size > 0 ? "0 B (linked elsewhere)" : formatBytes(bytes);
}

function pruneJson(plan: PrunePlan, outcome: PruneOutcome | null, dryRun: boolean): unknown {
  const removed = new Map(
    (outcome?.records ?? []).map(({ planned, removal }) => [planned.record.id, removal.fileState]),
  );
  return {
    dry_run: dryRun,
    restored: plan.restores.map((restore) => ({
      uri: restore.record.uri,
      image: restore.path,
      tombstone: restore.tombstone.path,
    })),
    records: plan.records.map((planned) => ({
      uri: planned.record.uri,
      image: planned.path,
      reason: planned.reason,
      size: planned.entry?.size ?? null,
      freed: planned.freed,
      ...(outcome ? { file: removed.get(planned.record.id) } : {}),
    })),
    files: plan.files.map((planned) => ({
      path: planned.entry.path,
      reason: planned.reason,
      size: planned.entry.size,
      freed: planned.freed,
    })),
    kept: plan.kept.map((kept) => ({ uri: kept.record.uri, image: kept.path, reason: kept.why })),
    left: plan.foreign.map((entry) => entry.path),
    skipped: outcome?.skipped ?? 0,
    freed: plan.bytes,
  };
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

function joinList(parts: string[]): string {
  return parts.length <= 1
    ? parts.join("")
    : `${parts.slice(0, -1).join(", ")} and ${parts.at(-1)}`;
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
