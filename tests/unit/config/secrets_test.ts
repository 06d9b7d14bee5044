/** The secrets file: tolerant reads, atomic 0600 writes, and the `backend` edits (§8.13, §8.21). */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  activeBackend,
  clientSection,
  listBackends,
  MAX_SECRETS_BYTES,
  readSecrets,
  requireSecrets,
} from "../../../src/config/secrets.ts";
import {
  activateBackend,
  addBackendSetting,
  deactivateBackend,
  deleteBackend,
  removeBackendSetting,
  writeSecrets,
} from "../../../src/config/backends.ts";
import { ConfigError, ConflictError, NotFoundError, UsageError } from "../../../src/errors.ts";
import { canMount, makeReadOnly } from "../../support/state.ts";

function tempFolder(): { path: string } & Disposable {
  const path = Deno.makeTempDirSync({ prefix: "sregistry-secrets-" });
  return { path, [Symbol.dispose]: () => Deno.removeSync(path, { recursive: true }) };
}

function withUmask<T>(mask: number, body: () => T): T {
  const old = Deno.umask(mask);
  try {
    return body();
  } finally {
    Deno.umask(old);
  }
}

const isRoot = Deno.uid() === 0;

// --- reading -------------------------------------------------------------------------------

Deno.test("a missing secrets file reads as empty, with no problem, and is not created", () => {
  using dir = tempFolder();
  const path = join(dir.path, ".sregistry");
  const secrets = readSecrets(path);
  assert.deepEqual(secrets, { path, data: {}, problem: null });
  assert.deepEqual(requireSecrets(secrets), {});
  assert.throws(() => Deno.statSync(path), Deno.errors.NotFound);
});

Deno.test("an empty secrets file reads as empty", () => {
  using dir = tempFolder();
  const path = join(dir.path, ".sregistry");
  Deno.writeTextFileSync(path, "  \n");
  assert.deepEqual(readSecrets(path).data, {});
  assert.equal(readSecrets(path).problem, null);
});

Deno.test("a valid secrets file reads as its object", () => {
  using dir = tempFolder();
  const path = join(dir.path, ".sregistry");
  const data = {
    SREGISTRY_CLIENT: "registry",
    registry: { SREGISTRY_REGISTRY_BASE: "http://127.0.0.1" },
  };
  Deno.writeTextFileSync(path, JSON.stringify(data, null, 4));
  const secrets = readSecrets(path);
  assert.equal(secrets.problem, null);
  assert.deepEqual(secrets.data, data);
});

Deno.test("invalid JSON gives a problem naming the file, without throwing or quoting it", () => {
  using dir = tempFolder();
  const path = join(dir.path, ".sregistry");
  const broken = [
    '{"registry": {"token": "sekrit" x}}',
    'sekrit{"registry": {}}',
    '{"registry": {"SREGISTRY_REGISTRY_TOKEN": "sekrit"',
    '{"registry": }',
  ];
  for (const text of broken) {
    Deno.writeTextFileSync(path, text);
    const secrets = readSecrets(path);
    assert.deepEqual(secrets.data, {});
    assert.ok(secrets.problem instanceof ConfigError);
    assert.match(secrets.problem.message, /^secrets file .*\.sregistry is not valid JSON \(.+\)$/);
    assert.ok(secrets.problem.message.includes(path));
    assert.equal(secrets.problem.hint, "fix or remove it");
    assert.ok(!secrets.problem.message.includes("sekrit"), secrets.problem.message);
    assert.ok(!secrets.problem.message.includes("\n"));
    assert.throws(() => requireSecrets(secrets), (error) => error === secrets.problem);
  }
});

Deno.test("invalid JSON reports the line and column where the parser stopped", () => {
  using dir = tempFolder();
  const path = join(dir.path, ".sregistry");
  Deno.writeTextFileSync(path, '{\n    "hub": {},\n}');
  const problem = readSecrets(path).problem;
  assert.ok(problem);
  assert.match(problem.message, /at line 3, column 1\)$/);
});

Deno.test("a secrets file that is not a JSON object gives a problem", () => {
  using dir = tempFolder();
  const path = join(dir.path, ".sregistry");
  for (const text of ["[]", "null", '"registry"', "42", "true"]) {
    Deno.writeTextFileSync(path, text);
    const secrets = readSecrets(path);
    assert.deepEqual(secrets.data, {});
    assert.ok(secrets.problem instanceof ConfigError);
    assert.equal(secrets.problem.message, `secrets file ${path} does not hold a JSON object`);
    assert.equal(secrets.problem.hint, "fix or remove it");
  }
});

Deno.test("an unreadable secrets path (a folder) gives a problem, not an exception", () => {
  using dir = tempFolder();
  const secrets = readSecrets(dir.path);
  assert.deepEqual(secrets.data, {});
  assert.ok(secrets.problem instanceof ConfigError);
  assert.equal(
    secrets.problem.message,
    `secrets file ${dir.path} is a folder, not a regular file`,
  );
  assert.throws(() => requireSecrets(secrets), ConfigError);
});

Deno.test("a FIFO, a device or a file past the cap is a problem, found without reading it", () => {
  using dir = tempFolder();
  const fifo = join(dir.path, "fifo");
  const made = new Deno.Command("mkfifo", { args: [fifo] }).outputSync();
  assert.ok(made.success, "mkfifo");
  const big = join(dir.path, "big.json");
  Deno.writeTextFileSync(big, `{"x": "${"a".repeat(MAX_SECRETS_BYTES)}"}`);
  const cases: [string, RegExp][] = [
    [fifo, /is a FIFO, not a regular file$/],
    ["/dev/zero", /^secrets file \/dev\/zero is a character device, not a regular file$/],
    ["/dev/null", /is a character device/],
    [big, /is larger than 1 MiB, the most sregistry reads$/],
  ];
  for (const [path, message] of cases) {
    const secrets = readSecrets(path);
    assert.ok(secrets.problem instanceof ConfigError, path);
    assert.match(secrets.problem.message, message);
    assert.deepEqual(secrets.data, {});
  }
});

Deno.test({
  name: "a secrets file without read permission gives a problem, not an exception",
  ignore: isRoot,
  fn: () => {
    using dir = tempFolder();
    const path = join(dir.path, ".sregistry");
    Deno.writeTextFileSync(path, "{}");
    Deno.chmodSync(path, 0o000);
    const secrets = readSecrets(path);
    assert.ok(secrets.problem instanceof ConfigError);
    assert.equal(secrets.problem.hint, "check its permissions");
  },
});

// --- writing -------------------------------------------------------------------------------

Deno.test("write creates a mode 0600 file even with umask 022, and leaves no temp file", () => {
  using dir = tempFolder();
  const path = join(dir.path, ".sregistry");
  withUmask(0o022, () => writeSecrets(path, { registry: { SREGISTRY_REGISTRY_TOKEN: "t" } }));
  assert.equal(Deno.statSync(path).mode! & 0o777, 0o600);
  assert.deepEqual([...Deno.readDirSync(dir.path)].map((entry) => entry.name), [".sregistry"]);
});

Deno.test("write is mode 0600 with a permissive umask too", () => {
  using dir = tempFolder();
  const path = join(dir.path, ".sregistry");
  withUmask(0o000, () => writeSecrets(path, {}));
  assert.equal(Deno.statSync(path).mode! & 0o777, 0o600);
});

Deno.test("write replaces an existing 0644 file by a new 0600 file (rename, not rewrite)", () => {
  using dir = tempFolder();
  const path = join(dir.path, ".sregistry");
  Deno.writeTextFileSync(path, '{"hub": {}}', { mode: 0o644 });
  Deno.chmodSync(path, 0o644);
  const before = Deno.statSync(path).ino;
  withUmask(0o022, () => writeSecrets(path, { registry: {} }));
  const after = Deno.statSync(path);
  assert.equal(after.mode! & 0o777, 0o600);
  assert.notEqual(after.ino, before);
  assert.deepEqual(readSecrets(path).data, { registry: {} });
  assert.deepEqual([...Deno.readDirSync(dir.path)].map((entry) => entry.name), [".sregistry"]);
});

Deno.test("write uses the original 4-space layout, and reads back the same object", () => {
  using dir = tempFolder();
  const path = join(dir.path, ".sregistry");
  const data = { SREGISTRY_CLIENT: "registry", registry: { SREGISTRY_REGISTRY_BASE: "http://x" } };
  writeSecrets(path, data);
  assert.equal(
    Deno.readTextFileSync(path),
    '{\n    "SREGISTRY_CLIENT": "registry",\n    "registry": {\n' +
      '        "SREGISTRY_REGISTRY_BASE": "http://x"\n    }\n}\n',
  );
  assert.deepEqual(readSecrets(path), { path, data, problem: null });
});

Deno.test("write creates a missing parent folder", () => {
  using dir = tempFolder();
  const path = join(dir.path, "a", "b", "secrets.json");
  writeSecrets(path, { hub: {} });
  assert.deepEqual(readSecrets(path).data, { hub: {} });
  assert.equal(Deno.statSync(path).mode! & 0o777, 0o600);
});

Deno.test("write goes through a symlink instead of replacing it", () => {
  using dir = tempFolder();
  const real = join(dir.path, "dotfiles-sregistry.json");
  const link = join(dir.path, ".sregistry");
  Deno.writeTextFileSync(real, "{}");
  Deno.symlinkSync(real, link);
  writeSecrets(link, { hub: {} });
  assert.ok(Deno.lstatSync(link).isSymlink);
  assert.deepEqual(readSecrets(real).data, { hub: {} });
  assert.equal(Deno.statSync(real).mode! & 0o777, 0o600);
});

Deno.test("a failed write is a ConfigError and leaves the folder as it was", () => {
  using dir = tempFolder();
  const blocker = join(dir.path, "not-a-folder");
  Deno.writeTextFileSync(blocker, "x");
  assert.throws(
    () => writeSecrets(join(blocker, ".sregistry"), {}),
    (error) => error instanceof ConfigError && error.message.startsWith("cannot write secrets"),
  );
  assert.deepEqual([...Deno.readDirSync(dir.path)].map((entry) => entry.name), ["not-a-folder"]);
});

Deno.test({
  name: "a write into a read-only folder fails and keeps the old file",
  // As root, only a read-only mount stops a write.
  ignore: isRoot && !canMount(),
  fn: () => {
    using dir = tempFolder();
    const path = join(dir.path, ".sregistry");
    Deno.writeTextFileSync(path, '{"hub": {}}');
    {
      using _readOnly = makeReadOnly(dir.path);
      assert.throws(() => writeSecrets(path, { registry: {} }), ConfigError);
    }
    assert.equal(Deno.readTextFileSync(path), '{"hub": {}}');
    assert.deepEqual([...Deno.readDirSync(dir.path)].map((entry) => entry.name), [".sregistry"]);
  },
});

// --- client sections -----------------------------------------------------------------------

Deno.test("clientSection gives one backend's settings as strings", () => {
  const data = {
    SREGISTRY_CLIENT: "registry",
    registry: { SREGISTRY_REGISTRY_BASE: "http://x", port: 80, on: true, nothing: null },
    globus: { GLOBUS_AUTH_RESPONSE: { token: "a" } },
    broken: "not an object",
  };
  assert.deepEqual(clientSection(data, "registry"), {
    SREGISTRY_REGISTRY_BASE: "http://x",
    port: "80",
    on: "true",
  });
  assert.deepEqual(clientSection(data, "globus"), { GLOBUS_AUTH_RESPONSE: '{"token":"a"}' });
  assert.deepEqual(clientSection(data, "broken"), {});
  assert.deepEqual(clientSection(data, "missing"), {});
  assert.deepEqual(clientSection(data, "SREGISTRY_CLIENT"), {});
});

Deno.test("clientSection finds a backend whatever the case of its name", () => {
  assert.deepEqual(clientSection({ Registry: { a: "1" } }, "registry"), { a: "1" });
  assert.deepEqual(clientSection({ registry: { a: "1" } }, "REGISTRY"), { a: "1" });
});

// --- backend add ---------------------------------------------------------------------------

Deno.test("add prefixes the variable with SREGISTRY_<BACKEND>_ and upper-cases it", () => {
  const result = addBackendSetting({}, "Registry", "base", "http://127.0.0.1");
  assert.equal(result.name, "SREGISTRY_REGISTRY_BASE");
  assert.equal(result.backend, "registry");
  assert.equal(result.changed, true);
  assert.deepEqual(result.data, { registry: { SREGISTRY_REGISTRY_BASE: "http://127.0.0.1" } });
});

Deno.test("add does not prefix a variable that already has the prefix, in any case (§8.21)", () => {
  for (
    const variable of [
      "SREGISTRY_REGISTRY_TOKEN",
      "sregistry_registry_token",
      "Sregistry_Registry_Token",
    ]
  ) {
    const result = addBackendSetting({}, "registry", variable, "abc");
    assert.equal(result.name, "SREGISTRY_REGISTRY_TOKEN");
    assert.deepEqual(result.data, { registry: { SREGISTRY_REGISTRY_TOKEN: "abc" } });
  }
});

Deno.test("add keeps other backends and settings, and does not change its input", () => {
  const data = { SREGISTRY_CLIENT: "hub", registry: { SREGISTRY_REGISTRY_BASE: "http://x" } };
  const copy = structuredClone(data);
  const result = addBackendSetting(data, "registry", "token", "abc");
  assert.deepEqual(data, copy);
  assert.deepEqual(result.data, {
    SREGISTRY_CLIENT: "hub",
    registry: { SREGISTRY_REGISTRY_BASE: "http://x", SREGISTRY_REGISTRY_TOKEN: "abc" },
  });
});

Deno.test("add refuses to replace a different value without force, and does not show it", () => {
  const data = { registry: { SREGISTRY_REGISTRY_TOKEN: "old-sekrit" } };
  assert.throws(
    () => addBackendSetting(data, "registry", "token", "new"),
    (error) =>
      error instanceof ConflictError &&
      error.message === "SREGISTRY_REGISTRY_TOKEN is already set" &&
      error.hint === "use --force to replace it" && !error.message.includes("sekrit"),
  );
});

Deno.test("add with force replaces a value, including one stored in another case", () => {
  const data = { registry: { sregistry_registry_token: "old", other: "x" } };
  const result = addBackendSetting(data, "registry", "token", "new", { force: true });
  assert.equal(result.changed, true);
  assert.deepEqual(result.data, { registry: { other: "x", SREGISTRY_REGISTRY_TOKEN: "new" } });
});

Deno.test("add of the same value again is not a conflict and changes nothing", () => {
  const data = { registry: { SREGISTRY_REGISTRY_BASE: "http://x" } };
  const result = addBackendSetting(data, "registry", "base", "http://x");
  assert.equal(result.changed, false);
  assert.deepEqual(result.data, data);
});

Deno.test("add refuses empty or unusable backend and variable names", () => {
  for (const backend of ["", "  ", "SREGISTRY_CLIENT", "sregistry_client", "a b", "../x", "-x"]) {
    assert.throws(() => addBackendSetting({}, backend, "base", "x"), UsageError, backend);
  }
  assert.throws(() => addBackendSetting({}, "registry", " ", "x"), UsageError);
});

Deno.test("add into a backend entry that is not an object is a ConfigError", () => {
  assert.throws(() => addBackendSetting({ registry: "x" }, "registry", "base", "y"), ConfigError);
});

// --- backend remove ------------------------------------------------------------------------

Deno.test("remove with a lower-case short name removes the stored key (§8.21)", () => {
  const data = { registry: { SREGISTRY_REGISTRY_TOKEN: "abc", SREGISTRY_REGISTRY_BASE: "b" } };
  const result = removeBackendSetting(data, "registry", "token");
  assert.deepEqual(result.removed, ["SREGISTRY_REGISTRY_TOKEN"]);
  assert.deepEqual(result.data, { registry: { SREGISTRY_REGISTRY_BASE: "b" } });
  assert.deepEqual(data.registry, {
    SREGISTRY_REGISTRY_TOKEN: "abc",
    SREGISTRY_REGISTRY_BASE: "b",
  });
});

Deno.test("remove accepts the full name in any case, and a backend name in any case", () => {
  for (const variable of ["SREGISTRY_REGISTRY_TOKEN", "sregistry_registry_token", "TOKEN"]) {
    const data = { registry: { SREGISTRY_REGISTRY_TOKEN: "abc" } };
    assert.deepEqual(removeBackendSetting(data, "REGISTRY", variable).data, { registry: {} });
  }
});

Deno.test("remove also drops the legacy key of the same name, so it is not read as a fallback", () => {
  const data = { registry: { token: "legacy", SREGISTRY_REGISTRY_TOKEN: "new", base: "b" } };
  const result = removeBackendSetting(data, "registry", "token");
  assert.deepEqual(result.removed.sort(), ["SREGISTRY_REGISTRY_TOKEN", "token"]);
  assert.deepEqual(result.data, { registry: { base: "b" } });
});

Deno.test("remove of a setting that is not there is a NotFoundError, not silence", () => {
  const data = { registry: { SREGISTRY_REGISTRY_BASE: "b" } };
  assert.throws(
    () => removeBackendSetting(data, "registry", "token"),
    (error) =>
      error instanceof NotFoundError &&
      error.message === "backend registry has no setting SREGISTRY_REGISTRY_TOKEN",
  );
  assert.throws(
    () => removeBackendSetting(data, "nvidia", "token"),
    (error) => error instanceof NotFoundError && error.message === "nvidia is not a known backend",
  );
});

// --- activate, deactivate, delete, list ----------------------------------------------------

Deno.test("activate sets SREGISTRY_CLIENT lower-cased and reports the previous backend", () => {
  const first = activateBackend({ registry: {} }, "Registry");
  assert.deepEqual(first.data, { registry: {}, SREGISTRY_CLIENT: "registry" });
  assert.equal(first.previous, null);
  const second = activateBackend(first.data, "hub");
  assert.equal(second.previous, "registry");
  assert.equal(activeBackend(second.data), "hub");
  assert.equal(activeBackend(first.data), "registry");
  assert.throws(() => activateBackend({}, ""), UsageError);
});

Deno.test("deactivate removes SREGISTRY_CLIENT and says whether one was active", () => {
  const active = deactivateBackend({ SREGISTRY_CLIENT: "registry", registry: {} });
  assert.deepEqual(active, { data: { registry: {} }, previous: "registry" });
  const none = deactivateBackend({ registry: {} });
  assert.deepEqual(none, { data: { registry: {} }, previous: null });
});

Deno.test("activeBackend is null for a missing, empty or non-string SREGISTRY_CLIENT", () => {
  assert.equal(activeBackend({}), null);
  assert.equal(activeBackend({ SREGISTRY_CLIENT: "" }), null);
  assert.equal(activeBackend({ SREGISTRY_CLIENT: 3 }), null);
  assert.equal(activeBackend({ SREGISTRY_CLIENT: "Registry" }), "registry");
});

Deno.test("delete removes a backend and clears SREGISTRY_CLIENT when it pointed at it", () => {
  const data = { SREGISTRY_CLIENT: "registry", registry: { a: "1" }, hub: {} };
  const result = deleteBackend(data, "Registry");
  assert.deepEqual(result, { data: { hub: {} }, backend: "registry", deactivated: true });
  assert.equal(activeBackend(result.data), null);
});

Deno.test("delete of another backend keeps SREGISTRY_CLIENT", () => {
  const data = { SREGISTRY_CLIENT: "registry", registry: {}, hub: {} };
  const result = deleteBackend(data, "hub");
  assert.deepEqual(result.data, { SREGISTRY_CLIENT: "registry", registry: {} });
  assert.equal(result.deactivated, false);
});

Deno.test("delete of an unknown backend is a NotFoundError; an active-only one is cleared", () => {
  assert.throws(() => deleteBackend({ hub: {} }, "docker"), NotFoundError);
  assert.deepEqual(deleteBackend({ SREGISTRY_CLIENT: "hub" }, "hub").data, {});
});

Deno.test("listBackends does not count SREGISTRY_CLIENT as a backend (§8.21)", () => {
  const data = { SREGISTRY_CLIENT: "registry", hub: { base: "x" }, registry: {}, junk: "x" };
  assert.deepEqual(listBackends(data), ["hub", "registry"]);
  assert.equal(listBackends({ SREGISTRY_CLIENT: "registry" }).length, 0);
  assert.deepEqual(listBackends({}), []);
});

Deno.test("a backend session round-trips through the file", () => {
  using dir = tempFolder();
  const path = join(dir.path, ".sregistry");
  let data = requireSecrets(readSecrets(path));
  data = addBackendSetting(data, "registry", "base", "http://127.0.0.1").data;
  data = addBackendSetting(data, "registry", "token", "abc").data;
  data = activateBackend(data, "registry").data;
  writeSecrets(path, data);
  const back = readSecrets(path).data;
  assert.deepEqual(listBackends(back), ["registry"]);
  assert.equal(activeBackend(back), "registry");
  assert.deepEqual(clientSection(back, "registry"), {
    SREGISTRY_REGISTRY_BASE: "http://127.0.0.1",
    SREGISTRY_REGISTRY_TOKEN: "abc",
  });
});
