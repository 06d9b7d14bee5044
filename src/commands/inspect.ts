/**
 * `sregistry inspect <uri|path>`: a record (or an image file given by its path) with what sregistry
 * reads from the image: format, SIF header and objects, and the apptainer metadata; or, with one of
 * apptainer's selectors, that metadata in apptainer's layout.
 */
import { resolve } from "node:path";
import type { Command } from "../command_line.ts";
import type { Context } from "../context.ts";
import { ConfigError, NotFoundError, SregistryError, UsageError } from "../errors.ts";
import { findContainers } from "../core/containers.ts";
import { type ImageInspection, inspectImage } from "../core/image_inspection.ts";
import { formatImageName, type ImageName } from "../core/names.ts";
import { findContainer, imageFile } from "../core/registry.ts";
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
    .option("-l, --labels", "apptainer's labels (the default selector)")
    .option("-d, --deffile", "the definition file the image was built from")
    .option("-r, --runscript", "the runscript")
    .option("-s, --startscript", "the startscript")
    .option("-t, --test", "the test script")
    .option("-e, --environment", "the environment scripts")
    .option("-H, --helpfile", "the runscript's help")
    .option("--list-apps", "the apps in the image")
    .option("--app <name>", "the labels, scripts and environment of one app")
    .option("--all", "every attribute, as apptainer's JSON")
    .option("-j, --json", "JSON output (apptainer's JSON with a selector)")
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
  if (!selects(options)) {
    const inspection = target.path === null ? null : inspectImage(target.path);
    // A file given by its path that is no image, or whose SIF header is damaged: nothing to show.
    if (target.kind === "path" && inspection?.problem && !inspection.sif && !inspection.squashfs) {
      if (inspection.format !== "ext3") throw inspection.problem;
    }
    if (inspection) writeWarnings(ctx.io.err, problems(inspection));
    else if (target.kind === "record" && target.path === null && target.record.image !== null) {
      writeWarnings(ctx.io.err, [target.absent.message]);
    }
    const shown = inspection && inspectionJson(inspection);
    ctx.io.out.write(
      renderJson(target.kind === "record" ? { ...target.record, inspection: shown } : shown),
    );
    return;
  }
  if (target.path === null) throw target.absent;
  const inspection = inspectImage(target.path);
  if (inspection.problem) throw inspection.problem;
  writeWarnings(ctx.io.err, inspection.warnings);
  if (options.app !== undefined && !options.all && !inspection.attributes.apps?.[options.app]) {
    throw new NotFoundError(`the image has no app '${options.app}'`, {
      hint: "'sregistry inspect --list-apps' lists them",
    });
  }
  const chosen = selectAttributes(inspection.attributes, options);
  if (options.json || options.all) ctx.io.out.write(apptainerJson(chosen));
  else ctx.io.out.write(safeText(ctx.io.out, apptainerText(chosen, options)));
}

type Target =
  | { kind: "path"; path: string }
  | { kind: "record"; record: Record<string, unknown>; path: string }
  | { kind: "record"; record: Record<string, unknown>; path: null; absent: SregistryError };

// PATH_RULE, in code. A record's image file is read when it exists; a missing one is reported.
function chooseTarget(ctx: Context, argument: string): Target {
  if (/^(\/|\.\.?\/|~\/)/.test(argument) || argument === "." || argument === "..") {
    const expanded = argument.startsWith("~/") && ctx.env.HOME
      ? ctx.env.HOME + argument.slice(1)
      : argument;
    return { kind: "path", path: resolve(ctx.cwd, expanded) };
  }
  const file = resolve(ctx.cwd, argument);
  const isFile = existsAsFile(file);
  let name: ImageName;
  try {
    name = nameArgument(argument);
  } catch (error) {
    if (isFile && error instanceof UsageError) return { kind: "path", path: file };
    throw error;
  }
  if (isFile && ctx.settings().disable.value) return { kind: "path", path: file };
  let registry;
  try {
    registry = ctx.openRegistry();
  } catch (error) {
    if (isFile && error instanceof ConfigError) return { kind: "path", path: file };
    throw error;
  }
  using opened = registry;
  const found = findContainers(opened.db, name)[0];
  if (found && isFile) {
    throw new UsageError(
      `'${argument}' is both a file here and the record ${formatImageName(name)}`,
      { hint: `write ./${argument} for the file, or ${found.uri} for the record` },
    );
  }
  if (!found && isFile) return { kind: "path", path: file };
  const container = findContainer(opened, name);
  const record = containerRecord(opened, container);
  const path = imageFile(opened, container);
  if (path === null) {
    const absent = new NotFoundError(`${container.uri} is a remote-only record: no image to read`, {
      hint: "'sregistry pull' it first",
    });
    return { kind: "record", record, path: null, absent };
  }
  if (!existsAsFile(path)) {
    const absent = new NotFoundError(`the image file of ${container.uri} is missing: ${path}`, {
      hint: "'sregistry rmi' the record, or pull or add the image again",
    });
    return { kind: "record", record, path: null, absent };
  }
  return { kind: "record", record, path };
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
