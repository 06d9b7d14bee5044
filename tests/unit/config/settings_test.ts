/** Setting resolution: flag > environment > secrets > default, with origins, and HOME handling. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { readSecrets, type Secrets } from "../../../src/config/secrets.ts";
import { clientSetting } from "../../../src/config/client_settings.ts";
import { isTruthy, resolveSettings, secretsPath } from "../../../src/config/settings.ts";
import { settingsReport } from "../../../src/config/settings_report.ts";
import { ConfigError } from "../../../src/errors.ts";

const HOME = "/home/dino";
const CWD = "/work/here";

function secretsOf(data: Record<string, unknown>): Secrets {
  return { path: `${HOME}/.sregistry`, data, problem: null };
}

function settings(
  env: Record<string, string | undefined> = {},
  flags: { database?: string; storage?: string; client?: string } = {},
  data: Record<string, unknown> = {},
) {
  return resolveSettings({ env: { HOME, ...env }, flags, secrets: secretsOf(data), cwd: CWD });
}

// --- defaults and origins ------------------------------------------------------------------

Deno.test("with nothing set, every setting is its default under HOME", () => {
  const resolved = resolveSettings({ env: { HOME }, flags: {}, cwd: CWD });
  assert.deepEqual(resolved, {
    client: { value: "hub", origin: "default" },
    database: { value: "/home/dino/.singularity", origin: "default" },
    storage: { value: "/home/dino/.singularity/shub", origin: "default" },
    disable: { value: false, origin: "default" },
    secrets: { value: "/home/dino/.sregistry", origin: "default" },
    tmpdir: { value: null, origin: "default" },
  });
});

Deno.test("the database folder: flag beats environment beats default", () => {
  const env = { SREGISTRY_DATABASE: "/env/db" };
  assert.deepEqual(settings(env, { database: "/flag/db" }).database, {
    value: "/flag/db",
    origin: "flag",
    source: "--database",
  });
  assert.deepEqual(settings(env).database, {
    value: "/env/db",
    origin: "environment",
    source: "SREGISTRY_DATABASE",
  });
  assert.equal(settings().database.origin, "default");
});

Deno.test("storage: flag beats environment beats default, and does not follow the database", () => {
  const env = { SREGISTRY_STORAGE: "/env/st", SREGISTRY_DATABASE: "/env/db" };
  assert.deepEqual(settings(env, { storage: "/flag/st" }).storage, {
    value: "/flag/st",
    origin: "flag",
    source: "--storage",
  });
  assert.deepEqual(settings(env).storage, {
    value: "/env/st",
    origin: "environment",
    source: "SREGISTRY_STORAGE",
  });
  assert.deepEqual(settings({ SREGISTRY_DATABASE: "/env/db" }).storage, {
    value: "/home/dino/.singularity/shub",
    origin: "default",
  });
});

Deno.test("the client: environment beats secrets beats hub, all lower-cased", () => {
  const env = { SREGISTRY_CLIENT: "Registry" };
  const file = { SREGISTRY_CLIENT: "S3", s3: {} };
  assert.deepEqual(settings(env, {}, file).client, {
    value: "registry",
    origin: "environment",
    source: "SREGISTRY_CLIENT",
  });
  assert.deepEqual(settings({}, {}, file).client, {
    value: "s3",
    origin: "secrets",
    source: "SREGISTRY_CLIENT",
  });
  assert.deepEqual(settings({}, {}, { registry: {} }).client, { value: "hub", origin: "default" });
});

Deno.test("an unusable secrets file does not stop settings from resolving", () => {
  const broken: Secrets = {
    path: "/x/.sregistry",
    data: {},
    problem: new ConfigError("secrets file /x/.sregistry is not valid JSON (x)"),
  };
  const resolved = resolveSettings({ env: { HOME }, flags: {}, secrets: broken, cwd: CWD });
  assert.deepEqual(resolved.client, { value: "hub", origin: "default" });
});

Deno.test("relative paths from flags and environment are resolved against cwd", () => {
  const resolved = settings(
    { SREGISTRY_STORAGE: "images", SREGISTRY_CLIENT_SECRETS: "../s.json", SREGISTRY_TMPDIR: "t" },
    { database: "./db" },
  );
  assert.equal(resolved.database.value, "/work/here/db");
  assert.equal(resolved.storage.value, "/work/here/images");
  assert.equal(resolved.secrets.value, "/work/s.json");
  assert.equal(resolved.tmpdir.value, "/work/here/t");
});

Deno.test("empty flag and environment values count as unset", () => {
  const resolved = settings(
    { SREGISTRY_DATABASE: "", SREGISTRY_CLIENT: " ", SREGISTRY_TMPDIR: "", SREGISTRY_DISABLE: "" },
    { storage: "" },
  );
  assert.equal(resolved.database.origin, "default");
  assert.equal(resolved.storage.origin, "default");
  assert.equal(resolved.client.origin, "default");
  assert.equal(resolved.tmpdir.value, null);
  assert.deepEqual(resolved.disable, { value: false, origin: "default" });
});

Deno.test("a relative HOME is resolved against cwd", () => {
  const resolved = resolveSettings({ env: { HOME: "me" }, flags: {}, cwd: CWD });
  assert.equal(resolved.database.value, "/work/here/me/.singularity");
});

Deno.test("the temporary folder comes from SREGISTRY_TMPDIR, else is null", () => {
  assert.deepEqual(settings({ SREGISTRY_TMPDIR: "/scratch" }).tmpdir, {
    value: "/scratch",
    origin: "environment",
    source: "SREGISTRY_TMPDIR",
  });
  assert.deepEqual(settings().tmpdir, { value: null, origin: "default" });
});

// --- the secrets path ----------------------------------------------------------------------

Deno.test("the secrets path comes from SREGISTRY_CLIENT_SECRETS, else $HOME/.sregistry", () => {
  assert.deepEqual(secretsPath({ HOME, SREGISTRY_CLIENT_SECRETS: "/etc/s.json" }, CWD), {
    value: "/etc/s.json",
    origin: "environment",
    source: "SREGISTRY_CLIENT_SECRETS",
  });
  assert.deepEqual(secretsPath({ HOME }, CWD), {
    value: "/home/dino/.sregistry",
    origin: "default",
  });
  assert.deepEqual(settings({ SREGISTRY_CLIENT_SECRETS: "/etc/s.json" }).secrets, {
    value: "/etc/s.json",
    origin: "environment",
    source: "SREGISTRY_CLIENT_SECRETS",
  });
});

// --- HOME ----------------------------------------------------------------------------------

Deno.test("without HOME, a default that needs it is a ConfigError naming the variable to set", () => {
  assert.throws(
    () => secretsPath({}, CWD),
    (error) =>
      error instanceof ConfigError && error.message.includes("HOME is not set") &&
      error.hint === "set HOME or SREGISTRY_CLIENT_SECRETS",
  );
  const env = { SREGISTRY_CLIENT_SECRETS: "/s", SREGISTRY_STORAGE: "/st" };
  assert.throws(
    () => resolveSettings({ env, flags: {}, cwd: CWD }),
    (error) => error instanceof ConfigError && error.hint === "set HOME or SREGISTRY_DATABASE",
  );
  assert.throws(
    () =>
      resolveSettings({
        env: { SREGISTRY_CLIENT_SECRETS: "/s" },
        flags: { database: "/db", storage: "" },
        cwd: CWD,
      }),
    (error) => error instanceof ConfigError && error.hint === "set HOME or SREGISTRY_STORAGE",
  );
});

Deno.test("without HOME, settings resolve when every path is given", () => {
  const resolved = resolveSettings({
    env: { SREGISTRY_CLIENT_SECRETS: "/s", SREGISTRY_STORAGE: "/st", HOME: "" },
    flags: { database: "/db" },
    cwd: CWD,
  });
  assert.equal(resolved.database.value, "/db");
  assert.equal(resolved.storage.value, "/st");
  assert.equal(resolved.secrets.value, "/s");
});

// --- truthy values and disable -------------------------------------------------------------

Deno.test("isTruthy accepts yes, true, t, 1, y in any case and nothing else", () => {
  for (const value of ["yes", "YES", "true", "True", "t", "T", "1", "y", "Y", " true "]) {
    assert.equal(isTruthy(value), true, value);
  }
  for (const value of [undefined, "", "false", "0", "no", "n", "off", "on", "2", "enabled"]) {
    assert.equal(isTruthy(value), false, String(value));
  }
});

Deno.test("SREGISTRY_DISABLE and SINGULARITY_DISABLE_CACHE disable when truthy", () => {
  assert.deepEqual(settings({ SREGISTRY_DISABLE: "yes" }).disable, {
    value: true,
    origin: "environment",
    source: "SREGISTRY_DISABLE",
  });
  assert.deepEqual(settings({ SINGULARITY_DISABLE_CACHE: "1" }).disable, {
    value: true,
    origin: "environment",
    source: "SINGULARITY_DISABLE_CACHE",
  });
  assert.deepEqual(
    settings({ SREGISTRY_DISABLE: "false", SINGULARITY_DISABLE_CACHE: "t" }).disable,
    {
      value: true,
      origin: "environment",
      source: "SINGULARITY_DISABLE_CACHE",
    },
  );
});

Deno.test("a non-truthy disable value such as false or 0 means enabled, from the environment", () => {
  for (const value of ["false", "0", "no"]) {
    assert.deepEqual(settings({ SREGISTRY_DISABLE: value }).disable, {
      value: false,
      origin: "environment",
      source: "SREGISTRY_DISABLE",
    });
  }
  assert.deepEqual(settings().disable, { value: false, origin: "default" });
});

// --- client settings -----------------------------------------------------------------------

const REGISTRY = { name: "SREGISTRY_REGISTRY_BASE", client: "registry", legacy: ["base"] };

Deno.test("a client setting: environment beats the secrets key beats the legacy key", () => {
  const data = { registry: { SREGISTRY_REGISTRY_BASE: "http://file", base: "http://legacy" } };
  assert.deepEqual(
    clientSetting({
      ...REGISTRY,
      env: { SREGISTRY_REGISTRY_BASE: "http://env" },
      secrets: secretsOf(data),
    }),
    { value: "http://env", origin: "environment", source: "SREGISTRY_REGISTRY_BASE" },
  );
  assert.deepEqual(clientSetting({ ...REGISTRY, env: {}, secrets: secretsOf(data) }), {
    value: "http://file",
    origin: "secrets",
    source: "registry.SREGISTRY_REGISTRY_BASE",
  });
});

Deno.test("the legacy registry keys base, username and token are read as fallbacks", () => {
  const data = { registry: { base: "https://host", username: "dino", token: "sekrit" } };
  for (
    const [variable, legacy, value] of [
      ["BASE", "base", "https://host"],
      ["USERNAME", "username", "dino"],
      ["TOKEN", "token", "sekrit"],
    ]
  ) {
    assert.deepEqual(
      clientSetting({
        env: {},
        secrets: secretsOf(data),
        client: "registry",
        name: `SREGISTRY_REGISTRY_${variable}`,
        legacy: [legacy],
      }),
      { value, origin: "secrets", source: `registry.${legacy}` },
    );
  }
});

Deno.test("a client setting that is nowhere is null from the default", () => {
  assert.deepEqual(clientSetting({ ...REGISTRY, env: {}, secrets: secretsOf({}) }), {
    value: null,
    origin: "default",
  });
  const other = { hub: { SREGISTRY_REGISTRY_BASE: "wrong section" } };
  assert.equal(clientSetting({ ...REGISTRY, env: {}, secrets: secretsOf(other) }).value, null);
});

Deno.test("empty client setting values fall through to the next layer", () => {
  const data = { registry: { SREGISTRY_REGISTRY_BASE: "", base: "http://legacy" } };
  assert.deepEqual(
    clientSetting({ ...REGISTRY, env: { SREGISTRY_REGISTRY_BASE: "" }, secrets: secretsOf(data) }),
    { value: "http://legacy", origin: "secrets", source: "registry.base" },
  );
});

Deno.test("a client setting stored in another case, or under another-case client, is found", () => {
  const data = { Registry: { sregistry_registry_base: "http://x" } };
  assert.deepEqual(clientSetting({ ...REGISTRY, env: {}, secrets: secretsOf(data) }), {
    value: "http://x",
    origin: "secrets",
    source: "registry.sregistry_registry_base",
  });
});

Deno.test("reading client settings never writes the secrets file (§8.13)", () => {
  const dir = Deno.makeTempDirSync({ prefix: "sregistry-settings-" });
  try {
    const missing = join(dir, "missing");
    const env = { SREGISTRY_REGISTRY_TOKEN: "from-env" };
    const name = "SREGISTRY_REGISTRY_TOKEN";
    clientSetting({ env, secrets: readSecrets(missing), client: "registry", name });
    assert.throws(() => Deno.statSync(missing), Deno.errors.NotFound);

    const present = join(dir, "present");
    const text = '{"registry": {"base": "http://x"}}';
    Deno.writeTextFileSync(present, text);
    const secrets = readSecrets(present);
    clientSetting({ env, secrets, client: "registry", name, legacy: ["token"] });
    resolveSettings({ env: { HOME: dir, ...env }, flags: {}, secrets, cwd: dir });
    assert.equal(Deno.readTextFileSync(present), text);
    assert.deepEqual([...Deno.readDirSync(dir)].map((entry) => entry.name), ["present"]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

// --- the config report ---------------------------------------------------------------------

Deno.test("settingsReport lists every setting with its origin, and the database file", () => {
  const resolved = settings({ SREGISTRY_DISABLE: "0", SREGISTRY_TMPDIR: "/scratch" }, {
    database: "/db",
  }, { SREGISTRY_CLIENT: "registry" });
  assert.deepEqual(settingsReport(resolved), [
    { name: "SREGISTRY_CLIENT", value: "registry", origin: "secrets", source: "SREGISTRY_CLIENT" },
    { name: "SREGISTRY_DATABASE", value: "/db", origin: "flag", source: "--database" },
    { name: "database file", value: "/db/sregistry.db", origin: "flag", source: "--database" },
    { name: "SREGISTRY_STORAGE", value: "/home/dino/.singularity/shub", origin: "default" },
    {
      name: "SREGISTRY_DISABLE",
      value: "false",
      origin: "environment",
      source: "SREGISTRY_DISABLE",
    },
    { name: "SREGISTRY_CLIENT_SECRETS", value: "/home/dino/.sregistry", origin: "default" },
    {
      name: "SREGISTRY_TMPDIR",
      value: "/scratch",
      origin: "environment",
      source: "SREGISTRY_TMPDIR",
    },
  ]);
  const unset = settingsReport(settings()).find((row) => row.name === "SREGISTRY_TMPDIR");
  assert.deepEqual(unset, { name: "SREGISTRY_TMPDIR", value: "", origin: "default" });
});
