/**
 * `push` to a Singularity Registry Server, run as a user runs it against a fake server on
 * 127.0.0.1: the signed collection request, the streamed multipart upload (also of a file over
 * 2 GiB, in bounded memory), the MD5 check against the server, progress, and refusals.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { sregistry, sregistryInProcess, startSregistry } from "../support/cli.ts";
import { startFakeRegistry } from "../support/fake_registry.ts";
import { tempHome } from "../support/home.ts";
import {
  downRegistryEnv,
  md5sum,
  registryEnv,
  requestLines,
  requestsTo,
  signedFor,
} from "../support/registry_env.ts";
import { assertFailure, assertUnchanged, md5, snapshot } from "../support/state.ts";
import { assertTransferFailure } from "../support/pulls.ts";

const encoder = new TextEncoder();
const IMAGE = encoder.encode("a Singularity image to push\n");
const IMAGE_MD5 = md5(IMAGE);

/** Bytes that are not all alike, so a reordered or dropped block changes the MD5. */
function patterned(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 7 + (i >> 12)) & 0xff;
  return bytes;
}

Deno.test("push sends a signed collection request, then the file; the server's MD5 equals ours", async () => {
  await using registry = await startFakeRegistry();
  await using home = await tempHome();
  const file = home.file("tacos.sif", IMAGE);
  const env = registryEnv(home, registry);
  delete env.SREGISTRY_CLIENT;

  const pushed = await sregistry(["push", file, "--name", "registry://vsoch/tacos:latest"], {
    env,
  });

  assert.equal(pushed.code, 0, pushed.stderr);
  assert.equal(pushed.stdout, `vsoch/tacos:latest@${IMAGE_MD5}\n`);
  assert.match(pushed.stderr, /^\[client\|registry\]/);
  assert.match(pushed.stderr, /Upload Complete/);
  assert.match(pushed.stderr, new RegExp(`server's MD5 ${IMAGE_MD5} equals the file's`));

  assert.deepEqual(requestLines(registry), [
    "POST /api/upload/chunked_upload",
    "POST /upload",
    "GET /api/container/vsoch/tacos:latest",
  ]);
  const [collection] = requestsTo(registry, "POST", "/api/upload/chunked_upload");
  assert.match(collection.authorization ?? "", signedFor("push"));
  assert.match(collection.headers["content-type"], /^application\/json/);
  const [upload] = requestsTo(registry, "POST", "/upload");
  assert.match(upload.authorization ?? "", signedFor("upload"));
  assert.match(upload.headers["content-type"], /^multipart\/form-data; boundary=/);
  assert.ok(Number(upload.headers["content-length"]) > IMAGE.byteLength, "exact Content-Length");
  assert.equal(upload.headers["transfer-encoding"], undefined, "not chunked (nginx refuses it)");
  assert.deepEqual(registry.unexpected, []);

  const stored = registry.images();
  assert.equal(stored.length, 1);
  assert.equal(stored[0].collection, "vsoch");
  assert.equal(stored[0].name, "tacos");
  assert.equal(stored[0].tag, "latest");
  assert.equal(stored[0].md5, IMAGE_MD5);
  assert.equal(stored[0].size, IMAGE.byteLength);
  assert.deepEqual(Deno.readFileSync(stored[0].path), IMAGE);
});

Deno.test("a pushed image pulls back with identical bytes and MD5", async () => {
  await using registry = await startFakeRegistry();
  await using home = await tempHome();
  const content = patterned(3 * 1024 * 1024 + 17);
  const file = home.file("tool.sif", content);
  const env = registryEnv(home, registry);

  const pushed = await sregistry(["push", file, "--name", "lab/tool", "--tag", "v2", "--json"], {
    env,
  });
  assert.equal(pushed.code, 0, pushed.stderr);
  const result = JSON.parse(pushed.stdout);
  assert.equal(result.uri, `lab/tool:v2@${md5(content)}`);
  assert.equal(result.md5, md5(content));
  assert.equal(result.remote_md5, md5(content));
  assert.equal(result.size, content.byteLength);
  assert.deepEqual(
    registry.images().map((image) => `${image.collection}/${image.name}:${image.tag}`),
    [
      "lab/tool:v2",
    ],
  );

  const pulled = await sregistry(["pull", "--json", "registry://lab/tool:v2"], { env });
  assert.equal(pulled.code, 0, pulled.stderr);
  const record = JSON.parse(pulled.stdout);
  assert.equal(record.md5, md5(content));
  assert.equal(record.version, md5(content));
  assert.deepEqual(Deno.readFileSync(record.image), content);
  assert.deepEqual(registry.unexpected, []);
});

Deno.test("push leaves the local database and storage alone", async () => {
  await using registry = await startFakeRegistry();
  await using home = await tempHome();
  const env = registryEnv(home, registry);
  const file = home.file("tacos.sif", IMAGE);
  const before = await snapshot(home, env);

  const pushed = await sregistry(["push", file, "--name", "vsoch/tacos"], { env });

  assert.equal(pushed.code, 0, pushed.stderr);
  assertUnchanged(before, await snapshot(home, env), "push");
});

Deno.test("a host in the name overrides the configured base; the API path keeps /api", async () => {
  await using registry = await startFakeRegistry();
  await using configured = await startFakeRegistry();
  await using home = await tempHome();
  const file = home.file("tacos.sif", IMAGE);
  const env = registryEnv(home, configured, { SREGISTRY_REGISTRY_NOHTTPS: "yes" });

  const pushed = await sregistry(
    ["push", file, "--name", `registry://${registry.host}/vsoch/tacos:v1`],
    { env },
  );

  assert.equal(pushed.code, 0, pushed.stderr);
  assert.deepEqual(configured.requests, []);
  assert.deepEqual(requestLines(registry), [
    "POST /api/upload/chunked_upload",
    "POST /upload",
    "GET /api/container/vsoch/tacos:v1",
  ]);
  assert.equal(registry.images()[0]?.md5, IMAGE_MD5);
  assert.deepEqual(registry.unexpected, []);
});

Deno.test("the server's 413 says the upload limit was hit and how big the file is", async () => {
  await using registry = await startFakeRegistry();
  await using home = await tempHome();
  const size = 24 * 1024 * 1024 + 5;
  const file = join(home.path, "big.sif");
  Deno.writeFileSync(file, new Uint8Array());
  Deno.truncateSync(file, size);
  const env = registryEnv(home, registry);
  registry.setMode("413");

  const pushed = await sregistry(["push", file, "--name", "lab/big:v1"], { env });

  // Off a terminal, progress is a plain line now and then; the error is the one other line.
  assertFailure({ ...pushed, stderr: pushed.stderr.replace(/^push: .*\n/gm, "") }, 1, /limit/i);
  assert.match(pushed.stderr, /upload limit/i);
  assert.match(pushed.stderr, new RegExp(`\\b${size}\\b bytes`), "the file's size");
  assert.equal(pushed.stdout, "");
  assert.deepEqual(registry.images(), []);
  assert.deepEqual(registry.unexpected, []);
});

Deno.test("push says so when the server's MD5 of the upload is not ours", async () => {
  await using registry = await startFakeRegistry();
  await using home = await tempHome();
  const file = home.file("tacos.sif", IMAGE);
  registry.setMode("wrong-md5");

  const pushed = await sregistry(["push", file, "--name", "vsoch/tacos"], {
    env: registryEnv(home, registry),
  });

  assertTransferFailure(
    pushed,
    1,
    new RegExp(`stored vsoch/tacos:latest with MD5 0{32}, but the file sent has MD5 ${md5(IMAGE)}`),
  );
});

Deno.test("a registry that disables push gives a clear error, exit 1, and uploads nothing", async () => {
  await using registry = await startFakeRegistry();
  await using home = await tempHome();
  const file = home.file("tacos.sif", IMAGE);
  registry.setMode("push-disabled");

  const pushed = await sregistry(["push", file, "--name", "vsoch/tacos"], {
    env: registryEnv(home, registry),
  });

  assertFailure(pushed, 1, /Push is disabled/);
  assert.deepEqual(requestLines(registry), ["POST /api/upload/chunked_upload"]);
  assert.deepEqual(registry.images(), []);
  assert.deepEqual(registry.unexpected, []);
});

Deno.test("pushing over a frozen image is refused, exit 1, and the image is kept", async () => {
  await using registry = await startFakeRegistry();
  await using home = await tempHome();
  const old = await registry.addImage("vsoch", "tacos", "latest", encoder.encode("frozen\n"), {
    frozen: true,
  });
  const file = home.file("tacos.sif", IMAGE);

  const pushed = await sregistry(["push", file, "--name", "vsoch/tacos"], {
    env: registryEnv(home, registry),
  });

  assertFailure(pushed, 1, /frozen/);
  assert.deepEqual(registry.images().map((image) => image.md5), [old.md5]);
  assert.deepEqual(registry.unexpected, []);
});

Deno.test("a missing file or an invalid name is refused before anything is sent", async () => {
  await using registry = await startFakeRegistry();
  await using home = await tempHome();
  const env = registryEnv(home, registry);

  const missing = await sregistry(["push", join(home.path, "nope.sif"), "--name", "vsoch/x"], {
    env,
  });
  assertFailure(missing, 1, /nope\.sif/);

  const file = home.file("tacos.sif", IMAGE);
  const invalid = await sregistry(["push", file, "--name", "vsoch/../x"], { env });
  assertFailure(invalid, 2, /\.\./);

  const noName = await sregistry(["push", file], { env });
  assert.equal(noName.code, 2, noName.stderr);
  assert.match(noName.stderr, /--name/);

  assert.deepEqual(registry.requests, []);
});

Deno.test("the hub client cannot push: a clear error naming a client that can", async () => {
  await using home = await tempHome();
  const file = home.file("tacos.sif", IMAGE);

  const pushed = await sregistry(["push", file, "--name", "hub://vsoch/tacos"], { env: home.env });

  assertFailure(pushed, 1, /hub client cannot push/);
  assert.match(pushed.stderr, /registry/);
});

Deno.test("a registry that is down gives one clear line and exit 1", async () => {
  await using home = await tempHome();
  const file = home.file("tacos.sif", IMAGE);
  const { port, env } = downRegistryEnv(home);

  const pushed = await sregistry(["push", file, "--name", "registry://vsoch/tacos"], { env });

  assertFailure(pushed, 1, new RegExp(`127\\.0\\.0\\.1:${port}`));
  assert.match(pushed.stderr, /could not reach|refused/i);
});

Deno.test("on a terminal the upload shows a progress bar; --quiet shows none", async () => {
  await using registry = await startFakeRegistry();
  await using home = await tempHome();
  const file = home.file("tool.sif", patterned(3 * 1024 * 1024));
  const env = registryEnv(home, registry);

  const shown = await sregistryInProcess(["push", file, "--name", "lab/tool:v1"], {
    env,
    stderrTerminal: true,
  });
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stderr, /\r.*\d+%/, "a redrawn bar with a percentage");
  assert.match(shown.stderr, /100%/);
  assert.doesNotMatch(shown.stdout, /%/, "progress is not on stdout");

  const quiet = await sregistryInProcess(["--quiet", "push", file, "--name", "lab/tool:v2"], {
    env,
    stderrTerminal: true,
  });
  assert.equal(quiet.code, 0, quiet.stderr);
  assert.doesNotMatch(quiet.stderr, /%|\r/);

  const json = await sregistryInProcess(["push", file, "--name", "lab/tool:v3", "--json"], {
    env,
    stderrTerminal: true,
  });
  assert.equal(json.code, 0, json.stderr);
  assert.doesNotMatch(json.stderr, /%|\r/);
  assert.equal(JSON.parse(json.stdout).uri, `lab/tool:v3@${registry.images().at(-1)?.md5}`);
  assert.deepEqual(registry.unexpected, []);
});

Deno.test({
  name:
    "a push over 2 GiB is streamed: the CLI's peak memory stays small and the server gets it whole",
  ignore: Deno.build.os !== "linux",
  async fn() {
    await using registry = await startFakeRegistry();
    await using home = await tempHome();
    const size = Math.round(2.1 * 1024 ** 3);
    const file = join(home.path, "huge.sif");
    Deno.writeFileSync(file, new Uint8Array());
    Deno.truncateSync(file, size); // sparse: no disk or memory needed for the zeros
    const local = await md5sum(file);
    assert.equal(local.size, size);
    const child = startSregistry(["push", file, "--name", "lab/huge:v1"], {
      env: registryEnv(home, registry),
    });
    let running = true;
    let peakKiB = 0;
    const polling = (async () => {
      while (running) {
        try {
          const status = await Deno.readTextFile(`/proc/${child.pid}/status`);
          const hwm = status.match(/^VmHWM:\s+(\d+)\s+kB/m);
          if (hwm) peakKiB = Math.max(peakKiB, Number(hwm[1]));
        } catch {
          // the process has exited
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
    const output = await child.output();
    running = false;
    await polling;
    const stderr = new TextDecoder().decode(output.stderr);

    assert.equal(output.code, 0, stderr);
    assert.ok(peakKiB > 0, "the peak RSS was measured");
    assert.ok(
      peakKiB < 300 * 1024,
      `peak RSS ${(peakKiB / 1024).toFixed(0)} MiB for a ${size}-byte push`,
    );
    const [stored] = registry.images();
    assert.equal(stored.size, local.size, "the server received every byte");
    assert.equal(stored.md5, local.md5, "the server's MD5 equals md5sum's");
    assert.equal(new TextDecoder().decode(output.stdout), `lab/huge:v1@${local.md5}\n`);
    assert.match(stderr, new RegExp(`server's MD5 ${local.md5} equals the file's`));
    assert.deepEqual(registry.unexpected, []);
  },
});
