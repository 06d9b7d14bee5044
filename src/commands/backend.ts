/**
 * `sregistry backend ls|status|activate|deactivate|add|remove|delete`: edit the secrets file
 * (reference §1.3, its bugs fixed). Only values the user types are written; secret values are
 * masked in every listing.
 */
import type { Command } from "../command_line.ts";
import type { Context } from "../context.ts";
import { activeBackend, clientSection, listBackends, requireSecrets } from "../config/secrets.ts";
import {
  activateBackend,
  addBackendSetting,
  deactivateBackend,
  deleteBackend,
  removeBackendSetting,
  writeSecrets,
} from "../config/backends.ts";
import { NotFoundError } from "../errors.ts";
import { renderJson } from "../output/records.ts";
import { clientArgument } from "./remote.ts";

// AUTH covers the `auths` of OCI logins (base64 of user:password).
const SECRET_KEY = /TOKEN|SECRET|PASSWORD|KEY|RESPONSE|AUTH/i;

/** Registers `backend` and its actions. */
export function registerBackend(program: Command, ctx: Context): void {
  const backend = program.command("backend")
    .description("manage client settings in the secrets file ($SREGISTRY_CLIENT_SECRETS)")
    .addHelpText(
      "\nExamples:\n  sregistry backend add registry base https://registry.example.org\n" +
        "  sregistry backend add registry username dinosaur\n  sregistry backend activate registry\n" +
        "  sregistry backend status",
    );
  backend.command("ls").description("list backends, or one backend's settings (secrets masked)")
    .argument("[backend]", "the backend to show")
    .option("--json", "print as JSON")
    .addHelpText("\nExamples:\n  sregistry backend ls\n  sregistry backend ls registry --json")
    .action((name, options) => runBackendList(ctx, { backend: name, json: options.json }));
  backend.command("status").description("show the active backend and how many have settings")
    .option("--json", "print as JSON")
    .addHelpText("\nExample:\n  sregistry backend status --json")
    .action((options) => runBackendStatus(ctx, options));
  backend.command("activate").description("make a backend the default client")
    .argument("<backend>", "backend name, e.g. registry")
    .addHelpText("\nExample:\n  sregistry backend activate registry")
    .action(async (name) => {
      const client = await clientArgument(name);
      edit(ctx, (data) => {
        const result = activateBackend(data, client);
        ctx.io.err.line(`[activate] ${client}`);
        return result.data;
      });
    });
  backend.command("deactivate").description("clear the active backend (hub becomes the default)")
    .addHelpText("\nExample:\n  sregistry backend deactivate")
    .action(() =>
      edit(ctx, (data) => {
        const result = deactivateBackend(data);
        ctx.io.err.line(
          result.previous ? `[deactivate] ${result.previous}` : "There is no active client.",
        );
        return result.data;
      })
    );
  backend.command("add").description("set SREGISTRY_<BACKEND>_<VARIABLE> for a backend")
    .argument("<backend>", "backend name")
    .argument("<variable>", "variable, with or without the SREGISTRY_<BACKEND>_ prefix")
    .argument("<value>", "value to store")
    .option("-f, --force", "replace an existing value")
    .addHelpText(
      "\nExamples:\n  sregistry backend add registry base https://registry.example.org\n" +
        "  sregistry backend add --force registry token $TOKEN",
    )
    .action(async (name, variable, value, options) => {
      const client = await clientArgument(name);
      edit(ctx, (data) => {
        const result = addBackendSetting(data, client, variable, value, options);
        ctx.io.err.line(`[add] ${result.name}${result.changed ? "" : " (unchanged)"}`);
        return result.data;
      });
    });
  backend.command("remove").alias("rm").description("remove one setting of a backend")
    .argument("<backend>", "backend name")
    .argument("<variable>", "variable, with or without the SREGISTRY_<BACKEND>_ prefix")
    .addHelpText("\nExample:\n  sregistry backend remove registry token")
    .action((name, variable) =>
      edit(ctx, (data) => {
        const result = removeBackendSetting(data, name, variable);
        ctx.io.err.line(`[remove] ${result.removed.join(", ")}`);
        return result.data;
      })
    );
  backend.command("delete").description("delete all settings of a backend")
    .argument("<backend>", "backend name")
    .addHelpText("\nExample:\n  sregistry backend delete registry")
    .action((name) =>
      edit(ctx, (data) => {
        const result = deleteBackend(data, name);
        ctx.io.err.line(`[delete] ${result.backend}${result.deactivated ? " (was active)" : ""}`);
        return result.data;
      })
    );
}

function edit(
  ctx: Context,
  change: (data: Record<string, unknown>) => Record<string, unknown>,
): void {
  const secrets = ctx.secrets();
  const next = change(requireSecrets(secrets));
  if (next !== secrets.data) writeSecrets(secrets.path, next);
}

/** Runs `backend ls [backend]`. */
export function runBackendList(ctx: Context, options: { backend?: string; json: boolean }): void {
  const data = requireSecrets(ctx.secrets());
  const backends = listBackends(data);
  if (options.backend === undefined) {
    if (options.json) ctx.io.out.write(renderJson(backends));
    else backends.forEach((name) => ctx.io.out.line(name));
    return;
  }
  const wanted = options.backend.toLowerCase();
  if (!backends.some((name) => name.toLowerCase() === wanted)) {
    throw new NotFoundError(`${wanted} is not a backend in ${ctx.secrets().path}`, {
      hint: backends.length
        ? `known: ${backends.join(", ")}`
        : "add one with 'sregistry backend add'",
    });
  }
  const section = Object.fromEntries(
    Object.entries(clientSection(data, wanted)).map((
      [key, value],
    ) => [key, SECRET_KEY.test(key) ? "********" : value]),
  );
  if (options.json) ctx.io.out.write(renderJson(section));
  else Object.entries(section).forEach(([key, value]) => ctx.io.out.line(`${key}=${value}`));
}

/** Runs `backend status`. */
export function runBackendStatus(ctx: Context, options: { json: boolean }): void {
  const data = requireSecrets(ctx.secrets());
  const backends = listBackends(data);
  const active = activeBackend(data);
  if (options.json) {
    ctx.io.out.write(renderJson({ active, backends, secrets: ctx.secrets().path }));
    return;
  }
  ctx.io.out.line(
    `There ${
      backends.length === 1 ? "is 1 backend" : `are ${backends.length} backends`
    } in ${ctx.secrets().path}.`,
  );
  ctx.io.out.line(active ? `active: ${active}` : "There is no active client.");
}
