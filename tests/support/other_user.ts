/**
 * Running the CLI as another user, as root can (setpriv): what root is never refused (reading any
 * file, linking another's file) is tested as `nobody` in a group the test chooses. The user gets
 * a Deno cache of its own, since root's is not theirs to write.
 */
import { DENO_DIR, ROOT, sregistryCommand } from "./cli.ts";
import type { CliResult } from "./cli.ts";

/** True when this process can run commands as another user (root with setpriv). */
export function canSwitchUser(): boolean {
  if (Deno.uid() !== 0) return false;
  try {
    return new Deno.Command("setpriv", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

/** Runs sregistry as uid 65534 (nobody), in group `gid` (65534 unless given). */
export async function sregistryAsOtherUser(
  args: string[],
  options: { env: Record<string, string>; gid?: number; umask?: string },
): Promise<CliResult> {
  const cache = Deno.makeTempDirSync({ prefix: "sregistry-deno-dir-" });
  Deno.chmodSync(cache, 0o777);
  // Compiling the sources anew for the other user costs seconds: start from root's cache.
  new Deno.Command("cp", { args: ["-a", `${DENO_DIR}/.`, cache] }).outputSync();
  new Deno.Command("chmod", { args: ["-R", "a+rwX", cache] }).outputSync();
  const gid = options.gid ?? 65534;
  try {
    const output = await new Deno.Command("setpriv", {
      args: [
        "--reuid=65534",
        `--regid=${gid}`,
        "--clear-groups",
        "sh",
        "-c",
        `umask ${options.umask ?? "022"}; exec "$0" "$@"`,
        Deno.execPath(),
        ...sregistryCommand(args),
      ],
      cwd: ROOT,
      env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", DENO_DIR: cache, ...options.env },
      clearEnv: true,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const decoder = new TextDecoder();
    return {
      code: output.code,
      stdout: decoder.decode(output.stdout),
      stderr: decoder.decode(output.stderr),
    };
  } finally {
    Deno.removeSync(cache, { recursive: true });
  }
}
