/**
 * `sregistry login [oras://]host` and `sregistry logout host`: OCI registry credentials kept in
 * the secrets file (mode 0600, written atomically), checked against the registry before they are
 * saved. The password is read from stdin or typed unseen, and never printed.
 */
import type { Command } from "../command_line.ts";
import type { Context } from "../context.ts";
import { NotFoundError, UsageError } from "../errors.ts";
import { requireSecrets } from "../config/secrets.ts";
import { writeSecrets } from "../config/backends.ts";
import { withLogin, withoutLogin } from "../config/logins.ts";
import { clientEnvironment } from "./remote.ts";

/** Options of `login`. */
export interface LoginOptions {
  host: string;
  username?: string;
  passwordStdin: boolean;
}

/** Registers `login` and `logout`. */
export function registerLogin(program: Command, ctx: Context): void {
  program.command("login").description("check and save credentials for an OCI registry (oras://)")
    .argument("<host>", "the registry, e.g. ghcr.io or oras://localhost:5000")
    .option("-u, --username <name>", "the username (asked on a terminal when missing)")
    .option("--password-stdin", "read the password (or token) from standard input")
    .addHelpText(
      "\nThe credentials are checked against the registry, then saved in the secrets file\n" +
        "($SREGISTRY_CLIENT_SECRETS, mode 0600). Without --password-stdin the password is asked\n" +
        "on the terminal, unseen.\n" +
        "\nExamples:\n  sregistry login registry.example.org:5000 --username me\n" +
        '  echo "$GITHUB_TOKEN" | sregistry login ghcr.io -u me --password-stdin',
    )
    .action((host, options) => runLogin(ctx, { host, ...options }));
  program.command("logout").description("remove saved credentials for an OCI registry")
    .argument("<host>", "the registry, e.g. ghcr.io")
    .addHelpText("\nExample:\n  sregistry logout ghcr.io")
    .action((host) => runLogout(ctx, { host }));
}

/** Runs `login`. */
export async function runLogin(ctx: Context, options: LoginOptions): Promise<void> {
  const { parseRegistryHost } = await import("../remotes/oci_reference.ts");
  const host = parseRegistryHost(options.host);
  const secrets = ctx.secrets();
  requireSecrets(secrets);
  const username = options.username ?? await ask(ctx, "Username: ", false);
  if (!username) throw new UsageError("no username given", { hint: "add --username <name>" });
  if (username.includes(":")) throw new UsageError("a username cannot contain ':'");
  const password = options.passwordStdin
    ? await ctx.io.in.readLine()
    : await ask(ctx, "Password: ", true);
  if (!password) throw new UsageError("no password given");
  const { checkLogin } = await import("../remotes/oci_login.ts");
  const checked = await checkLogin(clientEnvironment(ctx), host, username, password);
  writeSecrets(secrets.path, withLogin(secrets.data, host, username, password));
  ctx.io.err.line(
    checked === "accepted"
      ? `[login] ${host} accepted ${username}; saved in ${secrets.path}`
      : `[login] ${host} asks for no credentials, so they were not checked; saved in ${secrets.path}`,
  );
}

/** Runs `logout`. */
export async function runLogout(ctx: Context, options: { host: string }): Promise<void> {
  const { parseRegistryHost } = await import("../remotes/oci_reference.ts");
  const host = parseRegistryHost(options.host);
  const secrets = ctx.secrets();
  const { data, removed } = withoutLogin(requireSecrets(secrets), host);
  if (!removed) {
    throw new NotFoundError(`there is no login for ${host} in ${secrets.path}`, {
      hint: "credentials in Docker's, podman's or Apptainer's files are theirs to remove",
    });
  }
  writeSecrets(secrets.path, data);
  ctx.io.err.line(`[logout] removed the login for ${host} from ${secrets.path}`);
}

// Asks on the terminal; off a terminal there is nobody to ask.
async function ask(ctx: Context, prompt: string, secret: boolean): Promise<string | null> {
  if (!ctx.io.in.isTerminal) {
    throw new UsageError(
      `stdin is not a terminal, so the ${secret ? "password" : "username"} ` +
        "cannot be asked",
      {
        hint: secret ? "pipe it in with --password-stdin" : "add --username <name>",
      },
    );
  }
  ctx.io.err.write(prompt);
  if (!secret || ctx.io.in.readSecret === undefined) return await ctx.io.in.readLine();
  const value = await ctx.io.in.readSecret();
  ctx.io.err.line();
  return value;
}
