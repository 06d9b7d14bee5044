/**
 * A backend's settings (`SREGISTRY_<BACKEND>_<VAR>`): from the environment, else the backend's
 * section of the secrets file. Only the commands that reach a remote, and `config`, load it.
 */
import { clientSection, type Secrets } from "./secrets.ts";
import { type Env, present, type Setting } from "./settings.ts";

/** What `clientSetting` looks up: one backend variable and its legacy spellings. */
export interface ClientSettingInput {
  /** The process environment. */
  env: Env;
  /** The secrets file; an unusable one counts as empty. */
  secrets: Secrets;
  /** The backend whose section is read, e.g. `registry`. */
  client: string;
  /** The full variable name, e.g. `SREGISTRY_REGISTRY_BASE`. */
  name: string;
  /** Older keys of the same section read as fallbacks, e.g. `["base"]`. */
  legacy?: string[];
}

/** One backend variable from the environment, else the backend's secrets section, else null. */
export function clientSetting(input: ClientSettingInput): Setting<string | null> {
  const fromEnv = present(input.env[input.name]);
  if (fromEnv !== undefined) return { value: fromEnv, origin: "environment", source: input.name };
  const client = input.client.toLowerCase();
  const section = clientSection(input.secrets.data, client);
  for (const key of [input.name, ...(input.legacy ?? [])]) {
    const stored = sectionKey(section, key);
    if (stored !== undefined) {
      return { value: section[stored], origin: "secrets", source: `${client}.${stored}` };
    }
  }
  return { value: null, origin: "default" };
}

/** The stored spelling of a key: exact first, then any case; skips empty values. */
function sectionKey(section: Record<string, string>, name: string): string | undefined {
  const usable = (key: string) => section[key].trim() !== "";
  if (Object.hasOwn(section, name) && usable(name)) return name;
  const upper = name.toUpperCase();
  return Object.keys(section).find((key) => key.toUpperCase() === upper && usable(key));
}
