/** The list of commands: the only file that knows every command. */
import type { Command } from "@commander-js/extra-typings";
import type { Context } from "../context.ts";
import { registerAdd } from "./add.ts";
import { registerBackend } from "./backend.ts";
import { registerCompletions } from "./completions.ts";
import { registerConfig } from "./config.ts";
import { registerDelete } from "./delete.ts";
import { registerGet } from "./get.ts";
import { registerImages } from "./images.ts";
import { registerInspect } from "./inspect.ts";
import { registerLabels } from "./labels.ts";
import { registerMove } from "./move.ts";
import { registerPull } from "./pull.ts";
import { registerPush } from "./push.ts";
import { registerRecord } from "./record.ts";
import { registerRemove } from "./remove.ts";
import { registerSearch } from "./search.ts";
import { type LineRunner, registerShell } from "./shell.ts";
import { registerVersion } from "./version.ts";

/** Registers every command on the root program. */
export function registerCommands(program: Command, ctx: Context, runLine: LineRunner): void {
  registerVersion(program, ctx);
  registerBackend(program, ctx);
  registerShell(program, ctx, runLine);
  registerConfig(program, ctx);
  registerImages(program, ctx);
  registerInspect(program, ctx);
  registerGet(program, ctx);
  registerAdd(program, ctx);
  registerRecord(program, ctx);
  registerPull(program, ctx);
  registerPush(program, ctx);
  registerSearch(program, ctx);
  registerDelete(program, ctx);
  registerLabels(program, ctx);
  registerMove(program, ctx);
  registerRemove(program, ctx);
  registerCompletions(program, ctx);
}
