/**
 * Where registry credentials are found, in order: environment pairs, the secrets file's logins,
 * Apptainer's and Singularity's docker-config.json, Docker's config.json ($DOCKER_CONFIG or
 * ~/.docker), podman's auth.json; how keys match (URLs, repositories, Docker Hub's key); and the
 * errors for credential helpers and unusable files, none of which shows a secret.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { ConfigError } from "../../../src/errors.ts";
import type { Secrets } from "../../../src/config/secrets.ts";
import { base64, storedLogins, withLogin, withoutLogin } from "../../../src/config/logins.ts";
import { authFiles, findCredential } from "../../../src/remotes/oci_credentials.ts";
import { tempHome } from "../../support/home.ts";

const SECRET = "pw-Cred7-distinct-0042";
const NO_SECRETS: Secrets = { path: "/nowhere/.sregistry", data: {}, problem: null };
const auths = (entries: Record<string, unknown>) => JSON.stringify({ auths: entries });
const entry = (user: string) => ({ auth: base64(`${user}:${SECRET}`) });

Deno.test("environment pairs come first: SREGISTRY_ORAS_*, then APPTAINER_, then SINGULARITY_", () => {
  const env = {
    SREGISTRY_ORAS_USERNAME: "a",
    SREGISTRY_ORAS_PASSWORD: SECRET,
    APPTAINER_DOCKER_USERNAME: "b",
    APPTAINER_DOCKER_PASSWORD: SECRET,
    SINGULARITY_DOCKER_USERNAME: "c",
    SINGULARITY_DOCKER_PASSWORD: SECRET,
  };
  const found = (e: Record<string, string>) =>
    findCredential({ env: e, secrets: NO_SECRETS }, "h.io", "x");
  assert.equal(found(env)?.username, "a");
  const { SREGISTRY_ORAS_USERNAME: _, SREGISTRY_ORAS_PASSWORD: __, ...rest } = env;
  assert.equal(found(rest)?.username, "b");
  assert.equal(
    found({ SINGULARITY_DOCKER_USERNAME: "c", SINGULARITY_DOCKER_PASSWORD: SECRET })
      ?.source,
    "SINGULARITY_DOCKER_USERNAME",
  );
  assert.throws(
    () => found({ SREGISTRY_ORAS_USERNAME: "a" }),
    /SREGISTRY_ORAS_PASSWORD is not set/,
  );
});

Deno.test("each auth file format is read, in order, and the first match wins", async () => {
  await using home = await tempHome();
  const runtime = join(home.path, "run");
  const env = { HOME: home.path, XDG_RUNTIME_DIR: runtime };
  const find = (registry = "h.io") =>
    findCredential({ env, secrets: NO_SECRETS }, registry, "lab/x");
  assert.equal(find(), null, "no file: anonymous");

  home.file("run/containers/auth.json", auths({ "h.io": entry("podman") }));
  assert.deepEqual(find(), {
    username: "podman",
    password: SECRET,
    source: join(runtime, "containers", "auth.json"),
  });
  home.file(".config/containers/auth.json", auths({ "other.io": entry("xdg-config") }));
  assert.equal(find("other.io")?.username, "xdg-config");
  home.file(".docker/config.json", auths({ "https://h.io/v2/": entry("docker") }));
  assert.equal(find()?.username, "docker");
  assert.equal(find()?.source, "~/.docker/config.json");
  home.file(".singularity/docker-config.json", auths({ "h.io": entry("singularity") }));
  assert.equal(find()?.username, "singularity");
  home.file(".apptainer/docker-config.json", auths({ "h.io": entry("apptainer") }));
  assert.equal(find()?.username, "apptainer");
  const secrets: Secrets = {
    path: join(home.path, ".sregistry"),
    data: withLogin({}, "h.io", "sregistry", SECRET),
    problem: null,
  };
  assert.equal(findCredential({ env, secrets }, "h.io", "lab/x")?.username, "sregistry");
});

Deno.test("DOCKER_CONFIG replaces ~/.docker, REGISTRY_AUTH_FILE names podman's file", async () => {
  await using home = await tempHome();
  home.file(".docker/config.json", auths({ "h.io": entry("home-docker") }));
  home.file("elsewhere/config.json", auths({ "h.io": entry("docker-config") }));
  home.file("auth.json", auths({ "p.io": entry("auth-file") }));
  const env = {
    HOME: home.path,
    DOCKER_CONFIG: join(home.path, "elsewhere"),
    REGISTRY_AUTH_FILE: join(home.path, "auth.json"),
  };
  assert.equal(
    findCredential({ env, secrets: NO_SECRETS }, "h.io", "x")?.username,
    "docker-config",
  );
  assert.equal(findCredential({ env, secrets: NO_SECRETS }, "p.io", "x")?.username, "auth-file");
  assert.ok(!authFiles(env).some((file) => file.path.includes(".docker")));
});

Deno.test("keys match by host/repository first, then namespace, then host; URLs by host", async () => {
  await using home = await tempHome();
  home.file(
    ".docker/config.json",
    auths({
      "h.io": entry("host"),
      "h.io/lab": entry("namespace"),
      "h.io/lab/x": entry("repository"),
      "https://index.docker.io/v1/": entry("hub"),
      "q.io:5000": { username: "plain", password: SECRET },
      "t.io": { identitytoken: "refresh-xyz" },
      "r.io": { registrytoken: "ready-token" },
    }),
  );
  const find = (registry: string, repository: string) =>
    findCredential({ env: { HOME: home.path }, secrets: NO_SECRETS }, registry, repository);
  assert.equal(find("h.io", "lab/x")?.username, "repository");
  assert.equal(find("h.io", "lab/y")?.username, "namespace");
  assert.equal(find("h.io", "other/y")?.username, "host");
  assert.equal(find("docker.io", "library/alpine")?.username, "hub");
  assert.equal(find("q.io:5000", "x")?.username, "plain");
  assert.equal(find("q.io", "x"), null, "a port is part of the host");
  assert.equal(find("t.io", "x")?.identityToken, "refresh-xyz");
  assert.equal(find("r.io", "x")?.registryToken, "ready-token");
});

Deno.test("a host only a credential helper knows is a one-line error naming the helper", async () => {
  await using home = await tempHome();
  home.file(
    ".docker/config.json",
    JSON.stringify({
      auths: { "store.io": {} },
      credsStore: "desktop",
      credHelpers: { "gcr.io": "gcloud" },
    }),
  );
  const find = (registry: string) =>
    findCredential({ env: { HOME: home.path }, secrets: NO_SECRETS }, registry, "x");
  assert.throws(() => find("gcr.io"), (error: unknown) => {
    assert.ok(error instanceof ConfigError);
    assert.match(error.message, /docker-credential-gcloud/);
    assert.match(error.hint ?? "", /sregistry login gcr\.io.*SREGISTRY_ORAS_USERNAME/);
    return true;
  });
  assert.throws(() => find("store.io"), /docker-credential-desktop/);
  assert.equal(find("elsewhere.io"), null, "credsStore covers only the hosts it lists");
});

Deno.test("an unusable auth file is an error that never quotes it", async () => {
  await using home = await tempHome();
  home.file(".docker/config.json", `{"auths": {"h.io": {"auth": "${SECRET}"`);
  const find = () => findCredential({ env: { HOME: home.path }, secrets: NO_SECRETS }, "h.io", "x");
  assert.throws(find, (error: unknown) => {
    assert.ok(error instanceof ConfigError);
    assert.match(error.message, /~\/\.docker\/config\.json: it is not valid JSON/);
    assert.ok(!error.message.includes(SECRET));
    return true;
  });
  home.file(".docker/config.json", auths({ "h.io": { auth: btoa("no colon here") } }));
  assert.throws(find, /not base64 of user:password/);
});

Deno.test("logins are stored in Docker's layout in the oras section, and removed", () => {
  const data = withLogin({ registry: { base: "x" } }, "h.io", "me", SECRET);
  assert.deepEqual(data, {
    registry: { base: "x" },
    oras: { auths: { "h.io": { auth: base64(`me:${SECRET}`) } } },
  });
  assert.deepEqual(Object.keys(storedLogins(data)), ["h.io"]);
  const removed = withoutLogin(data, "h.io");
  assert.ok(removed.removed);
  assert.deepEqual(storedLogins(removed.data), {});
  assert.equal(withoutLogin(removed.data, "h.io").removed, false);
});
