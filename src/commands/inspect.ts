/**
 * `sregistry inspect <uri|path...>`: a record (or an image file given by its path) with what
 * sregistry reads from the image: format, SIF header and objects, and the apptainer metadata; or,
 * with one of apptainer's selectors, that metadata in apptainer's layout. Every target is found
 * and read before anything is printed: several print a JSON array, or text blocks under headings.
 */
import { resolve } from "../core/paths.ts";
import type { Command } from "../command_line.ts";
import type { Context } from "../context.ts";
import { ConfigError, NotFoundError, SregistryError, UsageError } from "../errors.ts";
import { type Container, findContainers } from "../core/containers.ts";
import type { ImageAttributes } from "../core/image_attributes.ts";
import { type ImageInspection, inspectImage } from "../core/image_inspection.ts";
import { formatImageName, type ImageName } from "../core/names.ts";
import { imageFile, lookupContainers, type Registry, storedImageFile } from "../core/registry.ts";
import {
  apptainerDocument,
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
  /** Records' names, or image files' paths. */
  uris: string[];
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
    .argument(
      "<uri...>",
      "collection/name[:tag][@version] (without @version, the newest), or a path",
    )
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
        "\n\nSeveral targets print a JSON array of what one prints (with a selector and no JSON:\n" +
        "each block under a '==> target <==' line). Every target is found and read first: when\n" +
        "one fails (no record, no image to read), nothing is printed.\n" +
        "\nExamples:\n  sregistry inspect vsoch/hello-world:latest\n" +
        "  sregistry inspect lab/tool:v1 lab/tool:v2 ./candidate.sif\n" +
        "  sregistry inspect --labels vsoch/hello-world\n" +
        "  sregistry inspect --runscript ./lolcow.sif\n" +
        "  sregistry inspect --json --environment --app cowsay ./apps.sif",
    )
    .action((uris, options) =>
      runInspect(ctx, {
        uris,
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
export async function runInspect(
  ctx: Context,
  options: InspectCommandOptions,
): Promise<void> {
  const targets = await chooseTargets(ctx, options.uris);
  const several = targets.length > 1;
  if (!selects(options)) {
    const shown = targets.map((target) => inspection(ctx, target, several));
    ctx.io.out.write(renderJson(several ? shown : shown[0]));
    return;
  }
  const chosen = targets.map((target) => selection(ctx, target, options, several));
  if (options.json || options.all) {
    const documents = chosen.map(apptainerDocument);
    ctx.io.out.write(apptainerJson(several ? documents : documents[0]));
    return;
  }
  const blocks = chosen.map((attributes, i) => {
    const text = safeText(ctx.io.out, apptainerText(attributes, options));
    return several ? `==> ${safeText(ctx.io.out, targets[i].shown)} <==\n${text}` : text;
  });
  ctx.io.out.write(blocks.join(several ? "\n" : ""));
}

// Without a selector: the record (if any) and everything read from its image, as JSON.
function inspection(ctx: Context, target: Target, several: boolean): unknown {
  const inspection = target.path === null ? null : inspectImage(target.path);
  // A file given by its path that is no image, or whose SIF header is damaged: nothing to show.
  if (!target.record && inspection?.problem && !inspection.sif && !inspection.squashfs) {
    if (inspection.format !== "ext3") throw inspection.problem;
  }
  const warn = (warnings: string[]) =>
    writeWarnings(ctx.io.err, several ? warnings.map((w) => `${target.shown}: ${w}`) : warnings);
  if (inspection) warn(problems(inspection));
  else if (target.absent && target.record?.image !== null) warn([target.absent.message]);
  const shown = inspection && inspectionJson(inspection);
  return target.record ? { ...target.record, inspection: shown } : shown;
}

// With apptainer's selectors: the attributes `apptainer inspect` prints for them.
function selection(
  ctx: Context,
  target: Target,
  options: InspectCommandOptions,
  several: boolean,
): ImageAttributes {
  if (target.path === null) throw target.absent;
  const inspection = inspectImage(target.path);
  if (inspection.problem) throw inspection.problem;
  writeWarnings(
    ctx.io.err,
    several ? inspection.warnings.map((w) => `${target.shown}: ${w}`) : inspection.warnings,
  );
  if (
    options.app !== undefined && !options.all &&
    !Object.hasOwn(inspection.attributes.apps ?? {}, options.app)
  ) {
    throw new NotFoundError(
      `${several ? `${target.shown}: ` : ""}the image has no app '${options.app}'`,
      { hint: "'sregistry inspect --list-apps' lists them" },
    );
  }
  return selectAttributes(inspection.attributes, options);
}

/** What `inspect` reads: a file, or a record and its image file. */
interface Target {
  /** The argument as typed, for headings and warnings when there are several. */
  shown: string;
  /** The record, when the argument named one. */
  record: Record<string, unknown> | null;
  /** The image file to read, or null when the record has none. */
  path: string | null;
  /** Why there is no image file to read, when `path` is null. */
  absent: SregistryError | null;
}

// The targets of the arguments, in their order; the names among them are looked up together,
// so that every name without a record is reported at once.
async function chooseTargets(ctx: Context, args: string[]): Promise<Target[]> {
  const chosen = [];
  for (const argument of args) chosen.push(await chooseTarget(ctx, argument));
  const names = chosen.flatMap((choice) => "name" in choice ? [choice.name] : []);
  if (names.length === 0) {
    return chosen.map((choice, i) => fileTarget(args[i], (choice as { file: string }).file));
  }
  using registry = await ctx.openRegistry();
  const containers = lookupContainers(registry.db, names);
  let next = 0;
  return chosen.map((choice, i) =>
    "name" in choice
      ? recordTarget(registry, args[i], containers[next++])
      : fileTarget(args[i], choice.file)
  );
}

// PATH_RULE, in code: the file an argument names, or the name of a record to look up.
async function chooseTarget(
  ctx: Context,
  argument: string,
): Promise<{ file: string } | { name: ImageName }> {
  if (/^(\/|\.\.?\/|~\/)/.test(argument) || argument === "." || argument === "..") {
    const home = argument.startsWith("~/") ? ctx.env.HOME : undefined;
    return { file: resolve(ctx.cwd, home ? home + argument.slice(1) : argument) };
  }
  const file = resolve(ctx.cwd, argument);
  if (!existsAsFile(file)) return { name: nameArgument(argument) };
  // A file of that name exists: it is the target unless a record has the name too.
  let name: ImageName;
  try {
    name = nameArgument(argument);
  } catch (error) {
    if (error instanceof UsageError) return { file };
    throw error;
  }
  if (ctx.settings().disable.value) return { file };
  const found = await withRegistry(ctx, (registry) => findContainers(registry.db, name)[0]);
  if (found === undefined) return { file };
  throw new UsageError(
    `'${argument}' is both a file here and the record ${formatImageName(name)}`,
    { hint: `write ./${argument} for the file, or ${found.uri} for the record` },
  );
}

function fileTarget(shown: string, path: string): Target {
  return { shown, record: null, path, absent: null };
}

function recordTarget(registry: Registry, shown: string, container: Container): Target {
  const record = containerRecord(registry, container);
  const path = imageFile(registry, container);
  if (path === null) {
    const absent = new NotFoundError(`${container.uri} is a remote-only record: no image to read`, {
      hint: "'sregistry pull' it first",
    });
    return { shown, record, path: null, absent };
  }
  // The file the record describes, as `get` takes it: never a link planted in its place.
  try {
    return { shown, record, path: storedImageFile(registry, container), absent: null };
  } catch (error) {
    if (!(error instanceof SregistryError)) throw error;
    return { shown, record, path: null, absent: error };
  }
}

// A registry that cannot be opened (unwritable folder) has no record to confuse a file with.
async function withRegistry<T>(
  ctx: Context,
  use: (registry: Registry) => T,
): Promise<T | undefined> {
  let registry: Registry;
  try {
    registry = await ctx.openRegistry();
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
