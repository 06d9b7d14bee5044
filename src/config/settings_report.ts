/** The rows `sregistry config` shows for the global settings. */
import { join } from "../core/paths.ts";
import { DATABASE_FILE } from "../core/registry.ts";
import type { Origin, Setting, Settings } from "./settings.ts";

/** One row of `sregistry config`: a setting's name, printable value and origin. */
export interface SettingRow {
  /** The variable name, or a description such as `database file`. */
  name: string;
  /** The value as printed; empty when the setting is unset. */
  value: string;
  /** Which layer supplied it. */
  origin: Origin;
  /** The flag, environment variable or secrets key that supplied it. */
  source?: string;
}

/** The rows `sregistry config` shows, in a fixed order. */
export function settingsReport(settings: Settings): SettingRow[] {
  const row = <T>(name: string, setting: Setting<T>, value: string): SettingRow =>
    setting.source === undefined
      ? { name, value, origin: setting.origin }
      : { name, value, origin: setting.origin, source: setting.source };
  return [
    row("SREGISTRY_CLIENT", settings.client, settings.client.value),
    row("SREGISTRY_DATABASE", settings.database, settings.database.value),
    row("database file", settings.database, join(settings.database.value, DATABASE_FILE)),
    row("SREGISTRY_STORAGE", settings.storage, settings.storage.value),
    row("SREGISTRY_DISABLE", settings.disable, String(settings.disable.value)),
    row("SREGISTRY_CLIENT_SECRETS", settings.secrets, settings.secrets.value),
    row("SREGISTRY_TMPDIR", settings.tmpdir, settings.tmpdir.value ?? ""),
  ];
}
