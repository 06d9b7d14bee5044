/**
 * oras:// credentials against Debian's docker-registry with htpasswd Basic and with Bearer tokens:
 * wrong passwords, private repositories, every file users keep credentials in, refresh tokens,
 * credential helpers, `login`/`logout`, and no password or token in any output, even --debug.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { type CliResult, sregistry } from "../support/cli.ts";
import {
  type DockerRegistry,
  REFRESH_TOKEN,
  REGISTRY_PASSWORD,
  REGISTRY_USER,
  registryTest,
  startDockerRegistry,
  TOKEN_PREFIX,
} from "../support/docker_registry.ts";
import { type TempHome, tempHome } from "../support/home.ts";
import { pushShape, sifBytes } from "../support/oci_artifacts.ts";
import { assertTransferFailure } from "../support/pulls.ts";
import { assertFailure, exists } from "../support/state.ts";

const BASIC = btoa(`${REGISTRY_USER}:${REGISTRY_PASSWORD}`);
const WRONG = "wrong-Pz2-distinct-7781";
const SECRETS = [REGISTRY_PASSWORD, WRONG, TOKEN_PREFIX, REFRESH_TOKEN, BASIC];

function assertNoSecrets(...results: CliResult[]): void {
  for (const result of results) {
    for (const secret of SECRETS) {
      assert.ok(
        !(result.stdout + result.stderr).includes(secret),
        `a secret shows:\n${result.stderr}`,
      );
    }
  }
}

async function withImage(registry: DockerRegistry, repository = "t/sif"): Promise<Uint8Array> {
  const bytes = sifBytes(100_000, 5);
  await pushShape(registry, repository, "1", bytes, "apptainer-1.3.1");
  return bytes;
}

function pull(
  home: TempHome,
  registry: DockerRegistry,
  env: Record<string, string> = {},
  repository = "t/sif",
) {
  return sregistry(["pull", "--debug", `oras://${registry.host}/${repository}:1`], {
    env: { ...home.env, ...env },
  });
}

registryTest(
  "a wrong password is refused in one line that does not show it (Basic, Bearer)",
  async () => {
    for (const auth of ["basic", "bearer"] as const) {
      await using registry = await startDockerRegistry({ auth });
      await using home = await tempHome();
      await withImage(registry);
      const result = await pull(home, registry, {
        SREGISTRY_ORAS_USERNAME: REGISTRY_USER,
        SREGISTRY_ORAS_PASSWORD: WRONG,
      });
      assertTransferFailure(
        result,
        1,
        auth === "basic"
          ? /refused the credentials from SREGISTRY_ORAS_USERNAME/
          : /token service of .* refused the credentials from SREGISTRY_ORAS_USERNAME/,
      );
      assertNoSecrets(result);
    }
  },
);

registryTest(
  "without credentials: a Basic registry needs them, a private repository says so",
  async () => {
    {
      await using registry = await startDockerRegistry({ auth: "basic" });
      await using home = await tempHome();
      await withImage(registry);
      assertTransferFailure(
        await pull(home, registry),
        1,
        /was not found or needs credentials.*sregistry login/,
      );
    }
    await using registry = await startDockerRegistry({ auth: "bearer" });
    await using home = await tempHome();
    await withImage(registry, "private/sif");
    await withImage(registry, "public/sif");
    assert.equal((await pull(home, registry, {}, "public/sif")).code, 0, "anonymous public pull");
    const refused = await pull(home, registry, {}, "private/sif");
    assertTransferFailure(refused, 1, /refused an anonymous token.*may be private/);
    const allowed = await pull(home, registry, {
      SREGISTRY_ORAS_USERNAME: REGISTRY_USER,
      SREGISTRY_ORAS_PASSWORD: REGISTRY_PASSWORD,
    }, "private/sif");
    assert.equal(allowed.code, 0, allowed.stderr);
    assertNoSecrets(refused, allowed);
  },
);

const auths = (key: string, entry: Record<string, string>) =>
  JSON.stringify({ auths: { [key]: entry } });

// Where users keep credentials: each must let a Basic registry's pull through.
const SOURCES: [string, (home: TempHome, host: string) => Record<string, string>][] = [
  ["SREGISTRY_ORAS_USERNAME/PASSWORD", () => ({
    SREGISTRY_ORAS_USERNAME: REGISTRY_USER,
    SREGISTRY_ORAS_PASSWORD: REGISTRY_PASSWORD,
  })],
  ["APPTAINER_DOCKER_USERNAME/PASSWORD", () => ({
    APPTAINER_DOCKER_USERNAME: REGISTRY_USER,
    APPTAINER_DOCKER_PASSWORD: REGISTRY_PASSWORD,
  })],
  ["SINGULARITY_DOCKER_USERNAME/PASSWORD", () => ({
    SINGULARITY_DOCKER_USERNAME: REGISTRY_USER,
    SINGULARITY_DOCKER_PASSWORD: REGISTRY_PASSWORD,
  })],
  ["the secrets file's login", (home, host) => {
    home.file(
      ".sregistry",
      auths(host, { auth: BASIC }).replace('"auths"', '"oras":{"auths"') + "}",
    );
    return {};
  }],
  ["~/.apptainer/docker-config.json", (home, host) => {
    home.file(".apptainer/docker-config.json", auths(host, { auth: BASIC }));
    return {};
  }],
  ["~/.singularity/docker-config.json", (home, host) => {
    home.file(".singularity/docker-config.json", auths(`https://${host}/v2/`, { auth: BASIC }));
    return {};
  }],
  ["~/.docker/config.json", (home, host) => {
    home.file(".docker/config.json", auths(`${host}/t/sif`, { auth: BASIC }));
    return {};
  }],
  ["$DOCKER_CONFIG/config.json", (home, host) => {
    home.file(
      "dc/config.json",
      auths(host, { username: REGISTRY_USER, password: REGISTRY_PASSWORD }),
    );
    return { DOCKER_CONFIG: join(home.path, "dc") };
  }],
  ["podman's $XDG_RUNTIME_DIR/containers/auth.json", (home, host) => {
    home.file("run/containers/auth.json", auths(host, { auth: BASIC }));
    return { XDG_RUNTIME_DIR: join(home.path, "run") };
  }],
  ["podman's $REGISTRY_AUTH_FILE", (home, host) => {
    home.file("podman-auth.json", auths(host, { auth: BASIC }));
    return { REGISTRY_AUTH_FILE: join(home.path, "podman-auth.json") };
  }],
];

registryTest("credentials are read from every place users keep them", async () => {
  await using registry = await startDockerRegistry({ auth: "basic" });
  const bytes = await withImage(registry);
  for (const [where, prepare] of SOURCES) {
    await using home = await tempHome();
    const env = prepare(home, registry.host);
    const result = await sregistry(["pull", "--json", `oras://${registry.host}/t/sif:1`], {
      env: { ...home.env, ...env },
    });
    assert.equal(result.code, 0, `${where}: ${result.stderr}`);
    assert.deepEqual(Deno.readFileSync(JSON.parse(result.stdout).image), bytes, where);
    assertNoSecrets(result);
  }
});

registryTest("a refresh token (identitytoken) is exchanged at the realm with a POST", async () => {
  await using registry = await startDockerRegistry({ auth: "bearer" });
  await using home = await tempHome();
  await withImage(registry, "private/sif");
  home.file(".docker/config.json", auths(registry.host, { identitytoken: REFRESH_TOKEN }));
  const result = await pull(home, registry, {}, "private/sif");
  assert.equal(result.code, 0, result.stderr);
  assert.ok(
    registry.tokenRequests.some((seen) =>
      seen.method === "POST" && seen.user === "<refresh>" && seen.status === 200 &&
      seen.scopes.includes("repository:private/sif:pull")
    ),
  );
  assertNoSecrets(result);
});

registryTest(
  "a host whose credentials sit in a credential helper is a one-line error",
  async () => {
    await using registry = await startDockerRegistry({ auth: "basic" });
    await using home = await tempHome();
    await withImage(registry);
    home.file(
      ".docker/config.json",
      JSON.stringify({ auths: {}, credHelpers: { [registry.host]: "secretservice" } }),
    );
    assertTransferFailure(
      await pull(home, registry),
      1,
      /docker-credential-secretservice \(~\/\.docker\/config\.json\), which sregistry cannot run; .*sregistry login/,
    );
  },
);

registryTest(
  "login checks the credentials, saves them 0600 and never shows them; logout removes them",
  async () => {
    for (const auth of ["basic", "bearer"] as const) {
      await using registry = await startDockerRegistry({ auth });
      await using home = await tempHome();
      await withImage(registry, "private/sif");
      const secrets = join(home.path, ".sregistry");
      home.file(
        ".sregistry",
        JSON.stringify({ registry: { SREGISTRY_REGISTRY_BASE: "https://r" } }),
      );
      const env = { ...home.env, SREGISTRY_ORAS_PASSWORD: "from-env-never-stored" };

      const wrong = await sregistry([
        "login",
        `oras://${registry.host}`,
        "-u",
        REGISTRY_USER,
        "--password-stdin",
      ], {
        env: home.env,
        stdin: `${WRONG}\n`,
      });
      assertFailure(wrong, 1, /refused/);
      assert.deepEqual(JSON.parse(Deno.readTextFileSync(secrets)), {
        registry: { SREGISTRY_REGISTRY_BASE: "https://r" },
      }, "nothing saved");

      const login = await sregistry(
        ["login", registry.host, "--username", REGISTRY_USER, "--password-stdin"],
        { env, stdin: `${REGISTRY_PASSWORD}\n` },
      );
      assert.equal(login.code, 0, login.stderr);
      assert.match(login.stderr, /accepted oras-user; saved in/);
      assert.equal(Deno.statSync(secrets).mode! & 0o777, 0o600);
      const saved = JSON.parse(Deno.readTextFileSync(secrets));
      assert.deepEqual(saved, {
        registry: { SREGISTRY_REGISTRY_BASE: "https://r" },
        oras: { auths: { [registry.host]: { auth: BASIC } } },
      });
      assert.ok(!Deno.readTextFileSync(secrets).includes("from-env-never-stored"));

      const pulled = await pull(home, registry, {}, "private/sif");
      assert.equal(pulled.code, 0, pulled.stderr);
      const listed = await sregistry(["backend", "ls", "oras"], { env: home.env });
      assert.equal(listed.code, 0, listed.stderr);
      assertNoSecrets(wrong, login, pulled, listed);

      const logout = await sregistry(["logout", registry.host], { env: home.env });
      assert.equal(logout.code, 0, logout.stderr);
      assert.deepEqual(JSON.parse(Deno.readTextFileSync(secrets)).oras, { auths: {} });
      assertFailure(
        await sregistry(["logout", registry.host], { env: home.env }),
        1,
        /no login for/,
      );
    }
  },
);

registryTest("login to a registry that asks for nothing says it could not check", async () => {
  await using registry = await startDockerRegistry();
  await using home = await tempHome();
  const result = await sregistry(["login", registry.host, "-u", "me", "--password-stdin"], {
    env: home.env,
    stdin: "whatever\n",
  });
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stderr, /asks for no credentials, so they were not checked/);
});

registryTest(
  "login off a terminal needs --password-stdin and --username; bad hosts are refused",
  async () => {
    await using home = await tempHome();
    assertFailure(
      await sregistry(["login", "localhost:5000", "-u", "me"], { env: home.env }),
      2,
      /cannot be asked; pipe it in with --password-stdin/,
    );
    assertFailure(
      await sregistry(["login", "localhost:5000", "--password-stdin"], {
        env: home.env,
        stdin: "x\n",
      }),
      2,
      /add --username/,
    );
    assertFailure(
      await sregistry(["login", "host/with/path", "-u", "me", "--password-stdin"], {
        env: home.env,
        stdin: "x\n",
      }),
      2,
      /a host has no path/,
    );
    assert.ok(!exists(join(home.path, ".sregistry")));
  },
);
