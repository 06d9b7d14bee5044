/**
 * `sregistry inspect <uri|path>`: a record (or an image file given by its path) with what sregistry
 * reads from the image: format, SIF header and objects, and the apptainer metadata; or, with one of
 * apptainer's selectors, that metadata in apptainer's layout.
 */
import { resolve } from "../core/paths.ts";
import type { Command } from "../command_line.ts";
import type { Context } from "../context.ts";
import { ConfigError, NotFoundError, SregistryError, UsageError } from "../errors.ts";
import { findContainers } from "../core/containers.ts";
import { type ImageInspection, inspectImage } from "../core/image_inspection.ts";
import { formatImageName, type ImageName } from "../core/names.ts";
import { findContainer, imageFile, type Registry } from "../core/registry.ts";
import {
  apptainerJson,
  apptainerText,
  inspectionJson,
  safeText,
  selectAttributes,
  type Selection,
  selects,
  writeWarnings,
} from "../output/inspection.ts";
import { containerRecord, renderJson } from "../output/records.ts";
import { nameArgument } from "./common.ts";

/** Options of `inspect`. */
export interface InspectCommandOptions extends Selection {
  /** A record's name, or an image file's path. */
  uri: string;
  /** JSON output. */
  json: boolean;
}

const PATH_RULE = "An argument that starts with /, ./, ../ or ~/ is a file path. Any other is a\n" +
  "record's name, unless no record has that name and a file of that name exists; when both\n" +
  "exist, inspect refuses to guess (write ./file for the file).";

/** Registers `inspect`. */
export function registerInspect(program: Command, ctx: Context): void {
  program.command("inspect")
    .description("show a container's record and what its image holds (labels, definition, ...)")
    .argument("<uri>", "collection/name[:tag][@version] (without @version, the newest), or a path")
    .option("-l, --labels", "apptainer's labels (what --app shows when no other selector is given)")
    .option("-d, --deffile", "the definition file the image was built from")
    .option("-r, --runscript", "the runscript")
    .option("-s, --startscript", "the startscript")
    .option("-t, --test", "the test script")
    .option("-e, --environment", "the environment scripts")
    .option("-H, --helpfile", "the runscript's help")
    .option("--list-apps", "the apps in the image")
    .option("--app <name>", "the labels, scripts and environment of one app")
    .option("--all", "every attribute, as apptainer's JSON")
    .option(
      "-j, --json",
      "with a selector, apptainer's JSON; alone it changes nothing (JSON anyway)",
    )
    .addHelpText(
      "\nWithout a selector, inspect prints JSON: the record (for a name) and `inspection`: the\n" +
        "image's format, SIF header and objects, squashfs superblock, architecture, creation time\n" +
        "and apptainer metadata, read by sregistry itself (nothing is run, apptainer is not\n" +
        "needed). With a selector it prints what `apptainer inspect` prints for it.\n\n" +
        PATH_RULE +
        "\n\nExamples:\n  sregistry inspect vsoch/hello-world:latest\n" +
        "  sregistry inspect --labels vsoch/hello-world\n" +
        "  sregistry inspect --runscript ./lolcow.sif\n" +
        "  sregistry inspect --json --environment --app cowsay ./apps.sif",
    )
    .action((uri, options) =>
      runInspect(ctx, {
        uri,
        json: options.json,
        labels: options.labels,
        deffile: options.deffile,
        runscript: options.runscript,
        startscript: options.startscript,
        test: options.test,
        environment: options.environment,
        helpfile: options.helpfile,
        listApps: options.listApps,
        app: options.app,
        all: options.all,
      })
    );
}

/** Runs `inspect`. */
export function runInspect(ctx: Context, options: InspectCommandOptions): void {
  const target = chooseTarget(ctx, options.uri);
  if (selects(options)) showSelection(ctx, target, options);
  else showInspection(ctx, target);
}

// Without a selector: the record (if any) and everything read from its image, as JSON.
function showInspection(ctx: Context, target: Target): void {
  const inspection = target.path === null ? null : inspectImage(target.path);
  // A file given by its path that is no image, or whose SIF header is damaged: nothing to show.
  if (!target.record && inspection?.problem && !inspection.sif && !inspection.squashfs) {
    if (inspection.format !== "ext3") throw inspection.problem;
  }
  if (inspection) writeWarnings(ctx.io.err, problems(inspection));
  else if (target.absent && target.record?.image !== null) {
    writeWarnings(ctx.io.err, [target.absent.message]);
  }
  const shown = inspection && inspectionJson(inspection);
  ctx.io.out.write(
    renderJson(target.record ? { ...target.record, inspection: shown } : shown),
  );
}

// With apptainer's selectors: what `apptainer inspect` prints for them.
function showSelection(ctx: Context, target: Target, options: InspectCommandOptions): void {
  if (target.path === null) throw target.absent;
  const inspection = inspectImage(target.path);
  if (inspection.problem) throw inspection.problem;
  writeWarnings(ctx.io.err, inspection.warnings);
  if (
    options.app !== undefined && !options.all &&
    !Object.hasOwn(inspection.attributes.apps ?? {}, options.app)
  ) {
    throw new NotFoundError(`the image has no app '${options.app}'`, {
      hint: "'sregistry inspect --list-apps' lists them",
    });
  }
  const chosen = selectAttributes(inspection.attributes, options);
  if (options.json || options.all) ctx.io.out.write(apptainerJson(chosen));
  else ctx.io.out.write(safeText(ctx.io.out, apptainerText(chosen, options)));
}

/** What `inspect` reads: a file, or a record and its image file. */
interface Target {
  /** The record, when the argument named one. */
  record: Record<string, unknown> | null;
  /** The image file to read, or null when the record has none. */
  path: string | null;
  /** Why there is no image file to read, when `path` is null. */
  absent: SregistryError | null;
}

// PATH_RULE, in code.
function chooseTarget(ctx: Context, argument: string): Target {
  if (/^(\/|\.\.?\/|~\/)/.test(argument) || argument === "." || argument === "..") {
    const home = argument.startsWith("~/") ? ctx.env.HOME : undefined;
    return fileTarget(resolve(ctx.cwd, home ? home + argument.slice(1) : argument));
  }
  const file = resolve(ctx.cwd, argument);
  if (!existsAsFile(file)) return recordTarget(ctx, nameArgument(argument));
  // A file of that name exists: it is the target unless a record has the name too.
  let name: ImageName;
  try {
    name = nameArgument(argument);
  } catch (error) {
    if (error instanceof UsageError) return fileTarget(file);
    throw error;
  }
  if (ctx.settings().disable.value) return fileTarget(file);
  const found = withRegistry(ctx, (registry) => findContainers(registry.db, name)[0]);
  if (found === undefined) return fileTarget(file);
  throw new UsageError(
    `'${argument}' is both a file here and the record ${formatImageName(name)}`,
    { hint: `write ./${argument} for the file, or ${found.uri} for the record` },
  );
}

function fileTarget(path: string): Target {
  return { record: null, path, absent: null };
}

function recordTarget(ctx: Context, name: ImageName): Target {
  using registry = ctx.openRegistry();
  const container = findContainer(registry, name);
  const record = containerRecord(registry, container);
  const path = imageFile(registry, container);
  if (path === null) {
    const absent = new NotFoundError(`${container.uri} is a remote-only record: no image to read`, {
      hint: "'sregistry pull' it first",
    });
    return { record, path: null, absent };
  }
  if (!existsAsFile(path)) {
    const absent = new NotFoundError(`the image file of ${container.uri} is missing: ${path}`, {
      hint: "'sregistry rmi' the record, or pull or add the image again",
    });
    return { record, path: null, absent };
  }
  return { record, path, absent: null };
}

// A registry that cannot be opened (unwritable folder) has no record to confuse a file with.
function withRegistry<T>(ctx: Context, use: (registry: Registry) => T): T | undefined {
  let registry: Registry;
  try {
    registry = ctx.openRegistry();
  } catch (error) {
    if (error instanceof ConfigError) return undefined;
    throw error;
  }
  using opened = registry;
  return use(opened);
}

// Warnings, and the reason the image's metadata could not be read.
function problems(inspection: ImageInspection): string[] {
  const problem = inspection.problem;
  return problem === null ? inspection.warnings : [...inspection.warnings, messageOf(problem)];
}

function messageOf(error: SregistryError): string {
  return error.hint ? `${error.message}; ${error.hint}` : error.message;
}

function existsAsFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}
