/**
 * Plain-URL pulls against a server that cannot be trusted to keep its word: a resume continues
 * only when the server proves it is the same file; the stored image is kept while the server
 * says it has not changed (a conditional request); a download with no checksum says it is
 * unverified; credentials in the URL are used but never recorded or shown, and never follow a
 * redirect to another origin.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { sregistry, startSregistry } from "../support/cli.ts";
import { generatedBytes, generatedMd5, startFakeHub } from "../support/fake_hub.ts";
import { tempHome } from "../support/home.ts";
import { installed, records } from "../support/state.ts";
import {
  downloadRequests,
  hubEnv,
  imageFiles,
  partFiles,
  spawnSregistry,
  waitFor,
} from "../support/pulls.ts";
import { siteCertificates } from "../support/tls.ts";

const SIZE = 300_000;

async function bytesOf(size: number, seed: number): Promise<Uint8Array> {
  return new Uint8Array(await new Response(generatedBytes(size, seed)).arrayBuffer());
}

Deno.test("a resume answered by a 206 that ends early is not taken for the whole image", async () => {
  await using hub = await startFakeHub({ mode: "truncate" });
  await using home = await tempHome();
  const image = hub.addImage("lab", "tool", "latest", { size: SIZE, seed: 1 });
  const env = hubEnv(home, hub, { SREGISTRY_RETRIES: "0" });
  const args = ["pull", image.downloadUrl, "--name", "lab/tool"];
  const cut = await sregistry(args, { env });
  assert.equal(cut.code, 1, cut.stderr);
  assert.equal(partFiles(home.storage).length, 1, "the part file is kept to resume");

  hub.setMode("short-206");
  const resumed = await sregistry(args, { env });
  assert.equal(resumed.code, 0, resumed.stderr);
  const [record] = records(await sregistry(["images", "--json"], { env }));
  assert.equal(record.md5, await generatedMd5(SIZE, 1), "the whole image, not a splice");
  assert.equal(record.size, SIZE);
  const gets = downloadRequests(hub, image).filter((seen) => seen.method === "GET");
  assert.equal(gets.at(-2)!.headers["range"] !== undefined, true, "a resume was asked for");
  assert.equal(gets.at(-1)!.headers["range"], undefined, "then the whole file, from the start");
});

Deno.test("a resume of a file that changed on a server ignoring If-Range starts over", async () => {
  await using hub = await startFakeHub({ mode: "truncate" });
  await using home = await tempHome();
  const image = hub.addImage("lab", "tool", "latest", { size: SIZE, seed: 1 });
  const env = hubEnv(home, hub, { SREGISTRY_RETRIES: "0" });
  const args = ["pull", image.downloadUrl, "--name", "lab/tool"];
  assert.equal((await sregistry(args, { env })).code, 1);

  hub.replaceContent(image, { size: SIZE, seed: 2 });
  hub.setMode("ignore-if-range");
  const resumed = await sregistry(args, { env });
  assert.equal(resumed.code, 0, resumed.stderr);
  const [record] = records(await sregistry(["images", "--json"], { env }));
  assert.equal(record.md5, await generatedMd5(SIZE, 2), "the new file whole, never spliced");
  assert.deepEqual(Deno.readFileSync(record.image!), await bytesOf(SIZE, 2));
});

Deno.test("a plain URL is asked whether it changed: kept when not, downloaded when it did or with --force", async () => {
  await using hub = await startFakeHub();
  await using home = await tempHome();
  const image = hub.addImage("lab", "tool", "latest", { size: SIZE, seed: 1 });
  const env = hubEnv(home, hub);
  const args = ["pull", image.downloadUrl, "--name", "lab/tool"];
  const first = await sregistry(args, { env });
  assert.equal(first.code, 0, first.stderr);

  const again = await sregistry(args, { env });
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /is already in storage; use --force to download it again/);
  assert.equal(again.stdout, first.stdout);
  const asked = downloadRequests(hub, image).at(-1)!;
  assert.equal(asked.headers["if-none-match"], `"gen-1-${SIZE}"`, "a conditional request");

  const forced = await sregistry([...args, "--force"], { env });
  assert.equal(forced.code, 0, forced.stderr);
  assert.match(forced.stderr, /\[container\]\[update\]/);
  assert.equal(downloadRequests(hub, image).at(-1)!.headers["if-none-match"], undefined);

  hub.replaceContent(image, { size: SIZE, seed: 3 });
  const changed = await sregistry(args, { env });
  assert.equal(changed.code, 0, changed.stderr);
  assert.match(changed.stderr, /\[container\]\[new\] lab\/tool:latest@/);
  const all = records(await sregistry(["images", "--json"], { env }));
  assert.deepEqual(all.map((record) => record.md5), [
    await generatedMd5(SIZE, 1),
    await generatedMd5(SIZE, 3),
  ]);
  assert.equal(imageFiles(home.storage).length, 2);
});

Deno.test("a second pull of a URL that waited for the first uses its result, asking nothing", async () => {
  const size = 4 * 1024 * 1024;
  // Slow until the second pull is seen waiting, so the two overlap on any machine.
  await using hub = await startFakeHub({ throttle: 64 * 1024 });
  await using home = await tempHome();
  const image = hub.addImage("lab", "big", "latest", { size, seed: 5 });
  const env = hubEnv(home, hub);
  assert.equal((await sregistry(["images"], { env })).code, 0, "database created up front");
  const args = ["pull", image.downloadUrl, "--name", "lab/big"];
  const first = spawnSregistry(args, env);
  await waitFor(() => downloadRequests(hub, image).length === 1, "the first download");
  const second = startSregistry(args, { env });
  const stdout = new Response(second.stdout).text();
  const stderr = second.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let said = "";
  while (!said.includes("waiting for it")) {
    const { value, done } = await stderr.read();
    if (done) break;
    said += value;
  }
  hub.setThrottle(null);
  for (let next = await stderr.read(); !next.done; next = await stderr.read()) said += next.value;
  const [one, two] = [await first.result, await second.status];
  assert.equal(one.code, 0, one.stderr);
  assert.equal(two.code, 0, said);
  assert.match(said, /waiting for it/, "the second waited");
  assert.match(said, /is already in storage/);
  assert.equal(await stdout, one.stdout);
  assert.equal(downloadRequests(hub, image).length, 1, "one request in all");
  assert.equal(records(await sregistry(["images", "--json"], { env })).length, 1);
});

Deno.test("a download with no checksum says it is unverified, in its output and its record", async () => {
  await using hub = await startFakeHub();
  await using home = await tempHome();
  const image = hub.addImage("lab", "tool", "latest", { size: SIZE, seed: 1 });
  const env = hubEnv(home, hub);
  const pulled = await sregistry(["pull", image.downloadUrl, "--name", "lab/tool"], { env });
  assert.equal(pulled.code, 0, pulled.stderr);
  assert.match(
    pulled.stderr,
    /\[pull\] note: 127\.0\.0\.1:\d+ named no checksum, so the image is unverified \(only its length was checked\)/,
  );
  const inspected = JSON.parse((await sregistry(["inspect", "lab/tool"], { env })).stdout);
  assert.deepEqual(inspected.metadata.sregistry, {
    verified: false,
    checked: "length",
    etag: `"gen-1-${SIZE}"`,
    last_modified: "Mon, 01 Jan 2024 00:00:00 GMT",
    content_type: "application/octet-stream",
  });

  hub.setMode("no-length");
  const blind = await sregistry(["pull", image.downloadUrl, "--name", "lab/blind"], { env });
  assert.equal(blind.code, 0, blind.stderr);
  assert.match(blind.stderr, /unverified \(not even its length was announced\)/);
  const [, record] = records(await sregistry(["images", "--json"], { env }));
  assert.equal(
    (record.metadata as { sregistry: { checked: string } }).sregistry.checked,
    "nothing",
  );
});

Deno.test("credentials in a URL are used, but never recorded, printed or shown", async () => {
  await using hub = await startFakeHub();
  await using home = await tempHome();
  const image = hub.addImage("lab", "tool", "latest", { size: SIZE, seed: 1 });
  const env = hubEnv(home, hub);
  const url = image.downloadUrl.replace("http://", "http://alice:s3cr3t-pw@") +
    "?access_token=t0k3n-value&v=1";
  const pulled = await sregistry(["pull", url, "--name", "lab/tool"], { env });
  assert.equal(pulled.code, 0, pulled.stderr);
  const seen = hub.requests.find((request) => request.path.startsWith(`/download/${image.id}?`))!;
  assert.equal(seen.headers["authorization"], `Basic ${btoa("alice:s3cr3t-pw")}`);
  assert.match(seen.path, /\?access_token=t0k3n-value&v=1$/, "the token is sent");

  // A signed URL in a hub manifest, too.
  hub.addImage("lab", "signed", "latest", { size: 1000, seed: 4 }, {
    imageUrl: `${hub.url}/download/2?Signature=s1gn4ture&Expires=99`,
  });
  const signed = await sregistry(["pull", "hub://lab/signed", "--json"], { env });
  assert.equal(signed.code, 0, signed.stderr);

  const shown = [pulled.stdout, pulled.stderr, signed.stdout, signed.stderr];
  for (const command of [["images"], ["images", "--json"], ["inspect", "lab/tool"]]) {
    const result = await sregistry(command, { env });
    shown.push(result.stdout, result.stderr);
  }
  shown.push((await sregistry(["inspect", "lab/signed"], { env })).stdout);
  const database = new TextDecoder().decode(
    Deno.readFileSync(join(home.database, "sregistry.db")),
  );
  for (const secret of ["s3cr3t-pw", "alice", "t0k3n-value", "s1gn4ture"]) {
    for (const text of [...shown, database]) assert.ok(!text.includes(secret), secret);
  }
  const [tool, signedRecord] = records(await sregistry(["images", "--json"], { env }));
  assert.equal(tool.url, `${image.downloadUrl}?access_token=REDACTED&v=1`);
  assert.equal(signedRecord.url, `${hub.url}/download/2?Signature=REDACTED&Expires=99`);
});

Deno.test({
  name: "credentials do not follow a redirect from https to http on the same host",
  ignore: !installed("openssl", "version"),
  async fn() {
    await using hub = await startFakeHub();
    await using home = await tempHome();
    const image = hub.addImage("lab", "tool", "latest", { size: SIZE, seed: 1 });
    const pki = siteCertificates(join(home.path, "pki"));
    const seen: (string | null)[] = [];
    await using tls = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      cert: Deno.readTextFileSync(pki.cert),
      key: Deno.readTextFileSync(pki.key),
      onListen() {},
    }, (request) => {
      seen.push(request.headers.get("authorization"));
      return new Response(null, { status: 302, headers: { location: image.downloadUrl } });
    });
    const url = `https://alice:s3cr3t@127.0.0.1:${tls.addr.port}/tool.sif`;
    const pulled = await sregistry(["pull", url, "--name", "lab/tool"], {
      env: hubEnv(home, hub, { DENO_CERT: pki.ca }),
    });
    assert.equal(pulled.code, 0, pulled.stderr);
    assert.deepEqual(seen, [`Basic ${btoa("alice:s3cr3t")}`], "sent to the https origin");
    const [followed] = downloadRequests(hub, image);
    assert.equal(followed.headers["authorization"], undefined, "not sent on to http");
  },
});
