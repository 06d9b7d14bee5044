/**
 * `sregistry import <folder or file>...`: adopt existing images, from folders of SIF files and
 * from Apptainer's and Singularity's caches, copying, moving or hard-linking each as asked.
 */
import type { Command } from "../command_line.ts";
import type { Context } from "../context.ts";
import { InterruptedError, printable, reason, SregistryError, UsageError } from "../errors.ts";
import { addImage } from "../core/add.ts";
import { defaultCacheParents, findImportCandidates } from "../core/import.ts";
import { formatImageName, parseImageName } from "../core/names.ts";
import { renderJson } from "../output/records.ts";
import { writeWarnings } from "../output/inspection.ts";
import { activeClient, printBanner } from "./common.ts";
import { resolve } from "../core/paths.ts";

/** Options of `import`. */
export interface ImportOptions {
  paths: string[];
  cache: boolean;
  collection?: string;
  copy: boolean;
  move: boolean;
  link: boolean;
  dryRun: boolean;
  json: boolean;
}

/** Registers `import`. */
export function registerImport(program: Command, ctx: Context): void {
  program.command("import").description("adopt existing images: folders of SIF files, caches")
    .argument("[path...]", "image files, folders of them, or an Apptainer/Singularity cache")
    .option("--cache", "also the caches: $APPTAINER_CACHEDIR, ~/.apptainer, ~/.singularity")
    .option("--collection <name>", "the collection for every image (else each file's folder)")
    .option("--copy", "copy each file into storage (the default)")
    .option("--move", "move each file into storage")
    .option(
      "--link",
      "hard-link each file into storage: no extra space (a copy across filesystems)",
    )
    .option("--dry-run", "show what would be imported and skipped, change nothing")
    .option("--json", "print what was imported, skipped and failed as JSON")
    .addHelpText(
      "\nFiles are named <collection>/<name>:<tag> from their file name ('lolcow_latest.sif' is\n" +
        "lolcow:latest) and folder; cache entries as <tool>-cache/<kind>-<key>. Files that are not\n" +
        "SIF or Singularity images are skipped, with the reason.\n\nExamples:\n" +
        "  sregistry import ~/images --collection lab\n  sregistry import --cache --link",
    )
    .action((paths, options) => runImport(ctx, { paths, ...options }));
}

/** Runs `import`: exit 1 when any file failed (skipped ones are not failures). */
export async function runImport(ctx: Context, options: ImportOptions): Promise<void> {
  if ([options.copy, options.move, options.link].filter(Boolean).length > 1) {
    throw new UsageError("choose one of --copy, --move and --link");
  }
  const collection = options.collection === undefined
    ? undefined
    : parseImageName(`${options.collection}/x`).collection;
  const paths = options.paths.map((path) => resolve(ctx.cwd, path));
  if (options.cache) paths.push(...defaultCacheParents(ctx.env));
  if (paths.length === 0) {
    throw new UsageError(
      options.cache ? "no Apptainer or Singularity cache was found" : "import needs a path",
      { hint: "sregistry import <folder or file>... (or --cache)" },
    );
  }
  if (!options.json) printBanner(ctx, activeClient(ctx));
  using registry = await ctx.openRegistry();
  const signal = ctx.interrupts();
  const report = { imported: [] as unknown[], skipped: [] as unknown[], failed: [] as unknown[] };
  for (const candidate of findImportCandidates(paths, { collection })) {
    const shown = printable(candidate.path); // a file's name on disk may hold anything
    if (candidate.failed) {
      report.failed.push({ path: candidate.path, error: candidate.skipped });
      ctx.io.err.line(`[failed] ${shown}: ${candidate.skipped}`);
      continue;
    }
    if (candidate.name === null) {
      report.skipped.push({ path: candidate.path, reason: candidate.skipped });
      ctx.io.err.line(`[skip] ${shown}: ${candidate.skipped}`);
      continue;
    }
    if (options.dryRun) {
      const uri = formatImageName(candidate.name);
      report.imported.push({ path: candidate.path, uri, action: "would import" });
      ctx.io.err.line(`[import] ${shown} => ${uri} (dry run)`);
      continue;
    }
    try {
      const placed = await addImage(registry, {
        file: candidate.path,
        name: candidate.name,
        copy: !options.move && !options.link,
        link: options.link,
        metadata: candidate.origin === null ? null : { imported: candidate.origin },
        url: null,
        client: activeClient(ctx),
        signal,
      });
      report.imported.push({
        path: candidate.path,
        uri: placed.container.uri,
        action: placed.action,
      });
      ctx.io.err.line(`[import] ${shown} => ${placed.container.uri} (${placed.action})`);
      writeWarnings(ctx.io.err, placed.warnings ?? []);
    } catch (error) {
      if (error instanceof InterruptedError || !(error instanceof SregistryError)) throw error;
      report.failed.push({ path: candidate.path, error: reason(error) });
      ctx.io.err.line(`[failed] ${shown}: ${printable(reason(error))}`);
    }
  }
  if (options.json) ctx.io.out.write(renderJson(report));
  ctx.io.err.line(
    `${report.imported.length} imported, ${report.skipped.length} skipped, ` +
      `${report.failed.length} failed`,
  );
  if (report.failed.length > 0) {
    throw new SregistryError(`${report.failed.length} file(s) could not be imported`, {
      hint: "see the [failed] lines above",
    });
  }
}
