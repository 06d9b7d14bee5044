/**
 * `record hub://...`, black-box: the manifest is fetched, no image, and the entry stays remote
 * until a pull of the same image downloads it and makes that same entry local.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { sregistry } from "../support/cli.ts";
import { startFakeHub } from "../support/fake_hub.ts";
import { tempHome } from "../support/home.ts";
import { assertFailure, assertUnchanged, md5, records, snapshot } from "../support/state.ts";
import {
  downloadRequests,
  filesUnder,
  hubEnv,
  leftovers,
  manifestRequests,
} from "../support/pulls.ts";

const CONTENT = new TextEncoder().encode("a recorded image\n");
const DIGEST = md5(CONTENT);

Deno.test("record hub:// fetches only the manifest and keeps a remote entry with its URL", async () => {
  await using hub = await startFakeHub();
  await using home = await tempHome();
  const image = hub.addImage("vsoch", "hello-world", "latest", CONTENT);
  const env = hubEnv(home, hub);

  const recorded = await sregistry(["record", "hub://vsoch/hello-world"], { env });

  assert.equal(recorded.code, 0, recorded.stderr);
  assert.equal(recorded.stdout, "");
  assert.match(recorded.stderr, /\[client\|hub\]/);
  assert.match(
    recorded.stderr,
    new RegExp(`\\[container\\]\\[new\\] vsoch/hello-world:latest@${DIGEST}`),
  );
  assert.deepEqual(manifestRequests(hub).map((seen) => seen.path), [
    "/api/container/vsoch/hello-world:latest",
  ]);
  assert.deepEqual(downloadRequests(hub, image), [], "no download");
  assert.deepEqual(filesUnder(home.storage), [], "no file in storage");

  const [record] = records(await sregistry(["images", "--json"], { env }));
  assert.equal(record.uri, `vsoch/hello-world:latest@${DIGEST}`);
  assert.equal(record.image, null);
  assert.equal(record.location, "remote");
  assert.equal(record.url, image.downloadUrl);
  assert.equal(record.client, "hub");
  assert.equal((record.metadata as { version: string }).version, DIGEST);

  const got = await sregistry(["get", "vsoch/hello-world"], { env });
  assert.equal(got.code, 0, got.stderr);
  assert.equal(got.stdout, `${image.downloadUrl}\n`);

  const table = await sregistry(["images"], { env });
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /remote\s+-\s+\[hub\]\s+vsoch\/hello-world:latest@/);

  const inspected = await sregistry(["inspect", "vsoch/hello-world"], { env });
  assert.equal(JSON.parse(inspected.stdout).metadata.image, image.downloadUrl);
});

Deno.test("a pull after record downloads the image and makes the same entry local", async () => {
  await using hub = await startFakeHub();
  await using home = await tempHome();
  const image = hub.addImage("vsoch", "hello-world", "latest", CONTENT);
  const env = hubEnv(home, hub);
  assert.equal((await sregistry(["record", "hub://vsoch/hello-world"], { env })).code, 0);
  const [remote] = records(await sregistry(["images", "--json"], { env }));

  const pulled = await sregistry(["pull", "hub://vsoch/hello-world"], { env });

  assert.equal(pulled.code, 0, pulled.stderr);
  assert.doesNotMatch(pulled.stderr, /already in storage/);
  assert.equal(downloadRequests(hub, image).length, 1);
  const path = join(home.storage, "vsoch", "hello-world", `latest@${DIGEST}.sif`);
  assert.equal(pulled.stdout, `${path}\n`);
  const listed = records(await sregistry(["images", "--json"], { env }));
  assert.equal(listed.length, 1, "one record, not two");
  assert.equal(listed[0].id, remote.id);
  assert.equal(listed[0].location, "local");
  assert.equal(listed[0].image, path);
  assert.equal(listed[0].md5, DIGEST);
  assert.equal(listed[0].url, image.downloadUrl);
  assert.deepEqual(Deno.readFileSync(path), CONTENT);
  assert.deepEqual(leftovers(home.storage), []);
  const got = await sregistry(["get", "vsoch/hello-world"], { env });
  assert.equal(got.stdout, `${path}\n`);
});

Deno.test("recording the same image twice keeps one entry", async () => {
  await using hub = await startFakeHub();
  await using home = await tempHome();
  hub.addImage("vsoch", "hello-world", "latest", CONTENT);
  const env = hubEnv(home, hub);

  assert.equal((await sregistry(["record", "shub://vsoch/hello-world"], { env })).code, 0);
  const again = await sregistry(["record", "vsoch/hello-world", "--json"], { env });

  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /\[container\]\[update\] vsoch\/hello-world:latest@/);
  assert.equal(JSON.parse(again.stdout).location, "remote");
  assert.equal(records(await sregistry(["images", "--json"], { env })).length, 1);
});

Deno.test("record of an image the hub lacks fails with exit 1 and records nothing", async () => {
  await using hub = await startFakeHub();
  await using home = await tempHome();
  const env = hubEnv(home, hub);
  assert.equal((await sregistry(["images"], { env })).code, 0);
  const before = await snapshot(home, env);

  const result = await sregistry(["record", "hub://vsoch/missing"], { env });

  assertFailure(result, 1, /has no image vsoch\/missing:latest/);
  assertUnchanged(before, await snapshot(home, env), "a record of a missing image");
});

Deno.test("record --metadata without --url is a usage error and asks no remote", async () => {
  await using hub = await startFakeHub();
  await using home = await tempHome();
  hub.addImage("vsoch", "hello-world", "latest", CONTENT);
  const env = hubEnv(home, hub);
  const metadata = home.file("meta.json", "{}");

  const result = await sregistry(
    ["record", "hub://vsoch/hello-world", "--metadata", metadata],
    { env },
  );

  assertFailure(result, 2, /--metadata goes with --url/);
  assert.deepEqual(hub.requests, []);
});
