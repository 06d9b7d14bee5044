/**
 * `sregistry rm <uri>` removes a record and keeps its file; `sregistry rmi <uri>` removes the
 * record and deletes the file. Both take `--all`, which needs confirmation.
 */
import type { Command } from "../command_line.ts";
import type { Context } from "../context.ts";
import { UsageError } from "../errors.ts";
import { type Removal, removeAll, removeContainer } from "../core/remove.ts";
import { countContainers } from "../core/containers.ts";
import { activeClient, confirm, nameArgument, printBanner } from "./common.ts";
import { renderJson } from "../output/records.ts";

/** Options of `rm` and `rmi`. */
export interface RemoveOptions {
  uri?: string;
  all: boolean;
  yes: boolean;
  json: boolean;
  deleteFile: boolean;
}

/** Registers `rm` and `rmi`. */
export function registerRemove(program: Command, ctx: Context): void {
  for (const deleteFile of [false, true]) {
    const verb = deleteFile ? "rmi" : "rm";
    program.command(verb)
      .description(
        deleteFile
          ? "remove a container's record and delete its image file"
          : "remove a container's record but keep its image file",
      )
      .argument("[uri]", "collection/name[:tag][@version]; without @version, the newest")
      .option(
        "--all",
        deleteFile ? "remove every record and image file" : "remove every record",
      )
      .option(
        "-y, --yes",
        "do not ask for confirmation (required with --all off a terminal)",
      )
      .option("--json", "print what was removed as JSON")
      .addHelpText(
        `\nExamples:\n  sregistry ${verb} vsoch/hello-world:latest\n  sregistry ${verb} --all --yes`,
      )
      .action((uri, options) => runRemove(ctx, { uri, ...options, deleteFile }));
  }
}

/** Runs `rm` or `rmi`. */
export async function runRemove(ctx: Context, options: RemoveOptions): Promise<void> {
  const verb = options.deleteFile ? "rmi" : "rm";
  if (options.all === (options.uri !== undefined)) {
    throw new UsageError(`${verb} needs either a uri or --all`, {
      hint: `sregistry ${verb} collection/name:tag`,
    });
  }
  const name = options.uri === undefined ? null : nameArgument(options.uri);
  printBanner(ctx, activeClient(ctx));
  using registry = ctx.openRegistry();
  let removals: Removal[];
  if (name) {
    removals = [removeContainer(registry, name, { deleteFile: options.deleteFile })];
  } else {
    const count = countContainers(registry.db);
    const what = options.deleteFile ? "records and their image files" : "records";
    if (count === 0) {
      ctx.io.err.line("There are no records to remove.");
      removals = [];
    } else if (
      await confirm(ctx, `Remove all ${count} ${what}?`, {
        yes: options.yes,
        flag: "--yes",
        action: `remove all ${what}`,
      })
    ) {
      removals = removeAll(registry, { deleteFile: options.deleteFile });
    } else {
      ctx.io.err.line("Nothing removed.");
      return;
    }
  }
  for (const removal of removals) report(ctx, removal, options.json);
  if (options.json) {
    ctx.io.out.write(renderJson(removals.map((r) => ({
      uri: r.container.uri,
      image: r.file,
      file: r.fileState,
    }))));
  }
}

function report(ctx: Context, removal: Removal, json: boolean): void {
  const uri = removal.container.uri;
  switch (removal.fileState) {
    case "kept":
      ctx.io.err.line(`[rm] ${uri}: record removed; its image file is kept at ${removal.file}`);
      if (!json) ctx.io.out.line(removal.file!);
      break;
    case "deleted":
      ctx.io.err.line(`[rmi] ${uri}: record removed and ${removal.file} deleted`);
      break;
    case "shared":
      ctx.io.err.line(
        `[rmi] ${uri}: record removed; ${removal.file} stays, another record uses it`,
      );
      break;
    case "missing":
      ctx.io.err.line(
        `[rm] ${uri}: record removed; its image file ${removal.file} was already gone`,
      );
      break;
    case "none":
      ctx.io.err.line(`[rm] ${uri}: remote-only record removed`);
  }
}
