/**
 * `sregistry rm <uri...>` removes records and keeps their files; `sregistry rmi <uri...>` removes
 * records and deletes their files. Several names are one change: when one has no record, nothing
 * is removed. Both take `--all`, which needs confirmation.
 */
import type { Command } from "../command_line.ts";
import type { Context } from "../context.ts";
import { UsageError } from "../errors.ts";
import { type Removal, removeAll, removeNamed } from "../core/remove.ts";
import { countContainers } from "../core/containers.ts";
import { activeClient, confirm, nameArgument, printBanner } from "./common.ts";
import { renderJson } from "../output/records.ts";

/** Options of `rm` and `rmi`. */
export interface RemoveOptions {
  /** The names to remove; none with `all`. */
  uris: string[];
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
          ? "remove containers' records and delete their image files"
          : "remove containers' records but keep their image files",
      )
      .argument("[uri...]", "collection/name[:tag][@version]; without @version, the newest")
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
        "\nSeveral names are removed together: when one has no record, nothing is removed (the\n" +
          "error names each such name and the nearest recorded ones). A version may be shortened\n" +
          "to its first 8 or more characters." +
          (deleteFile
            ? " A file that another record also uses (a tag) is kept for it.\n"
            : " Each kept file's path is printed on stdout.\n") +
          `\nExamples:\n  sregistry ${verb} vsoch/hello-world:latest\n` +
          `  sregistry ${verb} lab/tool:v1 lab/tool:v2 lab/tool@0b4b1c0e\n` +
          `  sregistry images --missing --uris | xargs sregistry ${verb}\n` +
          `  sregistry ${verb} --all --yes`,
      )
      .action((uris, options) => runRemove(ctx, { uris, ...options, deleteFile }));
  }
}

/** Runs `rm` or `rmi`. */
export async function runRemove(ctx: Context, options: RemoveOptions): Promise<void> {
  const verb = options.deleteFile ? "rmi" : "rm";
  if (options.all === (options.uris.length > 0)) {
    throw new UsageError(`${verb} needs either a uri or --all`, {
      hint: `sregistry ${verb} collection/name:tag`,
    });
  }
  const names = options.uris.map(nameArgument);
  // With --json, stderr carries only the JSON error, if any.
  if (!options.json) printBanner(ctx, activeClient(ctx));
  using registry = await ctx.openRegistry();
  let removals: Removal[];
  if (names.length > 0) {
    removals = removeNamed(registry, names, { deleteFile: options.deleteFile });
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
