/**
 * Checking registry credentials before `sregistry login` stores them: a GET of /v2/ with what the
 * registry's challenge asks for (Basic: them; Bearer: a token its realm gave for them), which the
 * registry must accept. Credentials that cannot be sent (plain http) are an error, never an
 * anonymous check. A registry that asks for nothing cannot check them, and says so.
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
  await session.origin();
  if (!session.auth.required) return "not asked";
  // The credentials must be sent (the token service or the registry itself refuses to take them
  // over plain http: an error) and the registry must take what they got.
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
