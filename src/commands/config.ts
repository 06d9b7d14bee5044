/** `sregistry config`: each effective setting and where it came from. */
import type { Command } from "../command_line.ts";
import type { Context } from "../context.ts";
import { clientSetting } from "../config/client_settings.ts";
import { isTruthy, type Setting } from "../config/settings.ts";
import { type SettingRow, settingsReport } from "../config/settings_report.ts";
import { DEFAULT_HUB_BASE } from "../remotes/hub.ts";
import { normaliseBase } from "../remotes/registry_settings.ts";
import { renderTable } from "../output/table.ts";
import {
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_RETRIES,
  DEFAULT_STALL_TIMEOUT_MS,
} from "../transfer/http.ts";
import { renderJson } from "../output/records.ts";
import { groupName, inspectSharing, type StoreSharing } from "../core/sharing_report.ts";
import { orasSettingRows } from "../remotes/oras_settings.ts";

/** Registers `config`. */
export function registerConfig(program: Command, ctx: Context): void {
  program.command("config").description("show each effective setting and where it came from")
    .option("--json", "print the settings as JSON")
    .addHelpText("\nExample:\n  SREGISTRY_STORAGE=/scratch/images sregistry config")
    .action((options) => runConfig(ctx, options));
}

/** Runs `config`. */
export function runConfig(ctx: Context, options: { json: boolean }): void {
  const settings = ctx.settings();
  const sharing = inspectSharing(settings.database.value, settings.storage.value);
  const rows = [
    ...settingsReport(settings),
    storeRow(sharing),
    ...clientRows(ctx),
    // Settings only: no HTTP options, so a bad SREGISTRY_TIMEOUT does not hide the report.
    ...orasSettingRows({ env: ctx.env, secrets: () => ctx.secrets(), http: { userAgent: "" } }),
  ];
  const problem = ctx.secrets().problem;
  if (problem) ctx.io.err.line(`sregistry: warning: ${problem.message}`);
  for (const line of sharing.problems) ctx.io.err.line(`sregistry: warning: ${line}`);
  if (options.json) {
    ctx.io.out.write(renderJson(rows));
    return;
  }
  ctx.io.out.write(renderTable(
    ["SETTING", "VALUE", "ORIGIN"],
    rows.map((row) => [
      row.name,
      row.value,
      row.source && row.origin !== "default" ? `${row.origin} (${row.source})` : row.origin,
    ]),
  ));
}

// Whether the store is a group's (its folders are setgid) and whether its modes let every
// member work; the problems themselves go to stderr.
function storeRow(sharing: StoreSharing): SettingRow {
  const value = !sharing.shared
    ? "private"
    : `shared with group ${sharing.gid === null ? "?" : groupName(sharing.gid)}; ` +
      (sharing.problems.length === 0
        ? "modes ok"
        : `${sharing.problems.length} mode problem(s), listed above`);
  return { name: "store", value, origin: "filesystem", source: "the folders' modes" };
}

// The remote clients' settings, so a user can see which registry and credentials are in effect.
// A token is only said to be set, never shown.
function clientRows(ctx: Context): SettingRow[] {
  const lookup = (client: string, name: string, legacy: string[] = []) =>
    clientSetting({ env: ctx.env, secrets: ctx.secrets(), client, name, legacy });
  const row = (name: string, setting: Setting<string | null>, value?: string): SettingRow => ({
    name,
    value: value ?? setting.value ?? "",
    origin: setting.origin,
    ...(setting.source === undefined ? {} : { source: setting.source }),
  });
  const hub = lookup("hub", "SREGISTRY_HUB_BASE", ["base"]);
  const base = lookup("registry", "SREGISTRY_REGISTRY_BASE", ["base"]);
  const noHttps = lookup("registry", "SREGISTRY_REGISTRY_NOHTTPS");
  const token = lookup("registry", "SREGISTRY_REGISTRY_TOKEN", ["token"]);
  const fromEnv = (name: string, fallback: string): SettingRow =>
    ctx.env[name]
      ? { name, value: ctx.env[name]!, origin: "environment", source: name }
      : { name, value: fallback, origin: "default" };
  return [
    row("SREGISTRY_HUB_BASE", hub, hub.value ?? DEFAULT_HUB_BASE),
    // As the client uses it: with /api appended.
    row(
      "SREGISTRY_REGISTRY_BASE",
      base,
      base.value === null
        ? undefined
        : normaliseBase(base.value, { noHttps: isTruthy(noHttps.value ?? undefined) }),
    ),
    row(
      "SREGISTRY_REGISTRY_USERNAME",
      lookup("registry", "SREGISTRY_REGISTRY_USERNAME", ["username"]),
    ),
    row("SREGISTRY_REGISTRY_TOKEN", token, token.value === null ? "" : "(set, not shown)"),
    row("SREGISTRY_REGISTRY_NOHTTPS", noHttps),
    fromEnv(
      "SREGISTRY_TIMEOUT",
      `${DEFAULT_CONNECT_TIMEOUT_MS / 1000} s to connect, ` +
        `${DEFAULT_STALL_TIMEOUT_MS / 1000} s without data`,
    ),
    fromEnv("SREGISTRY_RETRIES", String(DEFAULT_RETRIES)),
  ];
}
