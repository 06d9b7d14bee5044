/**
 * Checking registry credentials before `sregistry login` stores them: the registry's challenge
 * decides how (Basic: a GET of /v2/ with them; Bearer: a token from its realm with them). A
 * registry that asks for nothing cannot check them, and says so.
 */
import { RemoteError } from "../errors.ts";
import { discard } from "../transfer/http.ts";
import type { ClientEnvironment } from "./client.ts";
import { errorText } from "./oci_http.ts";
import { OciSession } from "./oci_session.ts";
import { isInsecureHost } from "./oras_settings.ts";

/** What a check found. */
export type LoginCheck = "accepted" | "not asked";

/** Checks `username` and `password` against the registry at `host`; throws when refused. */
export async function checkLogin(
  environment: ClientEnvironment,
  host: string,
  username: string,
  password: string,
): Promise<LoginCheck> {
  const session = new OciSession({
    registry: host,
    http: environment.http,
    insecure: isInsecureHost(environment, host),
    insecureHost: (other) => isInsecureHost(environment, other),
    credential: () => ({ username, password, source: "the login" }),
  });
  const origin = new URL(await session.origin());
  if (!session.auth.required) return "not asked";
  const header = await session.auth.header([], origin);
  if (header === null) {
    throw new RemoteError(`${host} asks for credentials over plain http`, {
      hint: `sregistry sends them only over https, to loopback hosts, or to hosts listed in ` +
        "SREGISTRY_ORAS_NOHTTPS",
    });
  }
  if (header.startsWith("Bearer ")) return "accepted";
  const response = await session.send("/v2/", { scopes: [] });
  if (response.ok) {
    await discard(response);
    return "accepted";
  }
  throw new RemoteError(
    `${host} refused the username and password: ${await errorText(response, session.http)}`,
    { status: response.status, hint: "check them and try again" },
  );
}
