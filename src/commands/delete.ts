/** `sregistry delete <uri> [--force]`: delete an image on a remote registry. */
import type { Command } from "../command_line.ts";
import type { Context } from "../context.ts";
import { confirm } from "./common.ts";
import { printable } from "../errors.ts";
import { remoteFor, requireCapability } from "./remote.ts";

/** Registers `delete`. */
export function registerDelete(program: Command, ctx: Context): void {
  program.command("delete").description("delete an image on a remote registry")
    .argument("<uri>", "registry://[host/]collection/name[:tag] or oras://host/repository[:tag]")
    .option("-f, --force", "do not ask for confirmation (required off a terminal)")
    .addHelpText(
      "\nThe local database is not changed; use 'sregistry rmi' for local images.\n" +
        "\nExamples:\n  sregistry delete registry://lab/lolcow:v1 --force\n" +
        "  sregistry delete oras://ghcr.io/lab/lolcow:v1 --force",
    )
    .action((uri, options) => runDelete(ctx, { uri, force: options.force }));
}

/** Runs `delete`. */
export async function runDelete(
  ctx: Context,
  options: { uri: string; force: boolean },
): Promise<void> {
  const { client, rest } = await remoteFor(ctx, options.uri);
  await requireCapability(client, "delete");
  const shown = printable(rest);
  if (
    !await confirm(ctx, `Delete ${shown} on the ${client.name} server?`, {
      yes: options.force,
      flag: "--force",
      action: `delete ${shown}`,
    })
  ) {
    ctx.io.err.line("Delete cancelled.");
    return;
  }
  const deleted = await client.delete!(rest);
  ctx.io.err.line(`[delete] deleted ${deleted}`);
  ctx.io.out.line(deleted);
}
