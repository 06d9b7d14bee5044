/**
 * `deno task install [--root <folder>]`: installs an `sregistry` command (`deno install -g`)
 * that runs this checkout from any folder with exactly the executable's permission set
 * (deno.json's `permissions.default`). The set is spelled out as flags: `deno install -P`
 * leaves it out of the command it writes, which then has no permission at all.
 */
import { V8_FLAGS } from "./v8_flags.ts";

/** deno.json's `permissions.default` as `--allow-*` flags, e.g. `--allow-run=a,b`. */
export function permissionFlags(config: { permissions?: { default?: unknown } }): string[] {
  const set = config.permissions?.default;
  if (typeof set !== "object" || set === null) throw new Error("deno.json has no permission set");
  return Object.entries(set as Record<string, unknown>).flatMap(([name, value]) => {
    if (value === true) return [`--allow-${name}`];
    if (Array.isArray(value) && value.length > 0) return [`--allow-${name}=${value.join(",")}`];
    return [];
  });
}

if (import.meta.main) {
  const root = new URL("../", import.meta.url).pathname;
  const config = JSON.parse(Deno.readTextFileSync(`${root}deno.json`));
  const { code } = await new Deno.Command(Deno.execPath(), {
    args: [
      "install",
      "--global",
      "--force",
      "--name",
      "sregistry",
      "--config",
      `${root}deno.json`,
      ...permissionFlags(config),
      "--no-prompt",
      "--quiet",
      ...V8_FLAGS,
      ...Deno.args,
      `${root}main.ts`,
    ],
  }).spawn().status;
  if (code === 0) console.error("installed sregistry (see `deno install --help` for --root)");
  Deno.exit(code);
}
