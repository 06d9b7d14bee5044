/**
 * `sregistry images [query...]`: the seeds' table (index, date, local/remote, client, uri) with
 * the newest last, `--json` records, and queries matching collection, name, tag or uri.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { sregistry } from "../support/cli.ts";
import { type TempHome, tempHome } from "../support/home.ts";
import { lines, md5, records } from "../support/state.ts";

const MONTHS = [
  "January",
  "February",
  "March",
  "April",
  "May",
  "June",
  "July",
  "August",
  "September",
  "October",
  "November",
  "December",
];

/** Three local images and one remote-only record, oldest first. */
async function populated(home: TempHome): Promise<void> {
  const env = home.env;
  const steps = [
    ["add", home.file("a.sif", "alpha\n"), "--name", "vsoch/hello-world"],
    ["add", home.file("b.sif", "beta\n"), "--name", "library/ubuntu:18.04"],
    ["record", "dinosaur/tacos:v1", "--url", "https://example.org/tacos.sif"],
    ["add", home.file("c.sif", "gamma\n"), "--name", "vsoch/salad:dev"],
  ];
  for (const args of steps) {
    const result = await sregistry(args, { env });
    assert.equal(result.code, 0, result.stderr);
  }
}

Deno.test("images prints a table of every record, newest last, with local or remote", async () => {
  await using home = await tempHome();
  await populated(home);
  const listed = await sregistry(["images"], { env: home.env });
  assert.equal(listed.code, 0, listed.stderr);
  assert.equal(listed.stderr, "", "no banner for images");
  const [header, ...rows] = lines(listed.stdout);
  assert.equal(header, "Containers:   [date]   [location]  [client]\t[uri]");

  const json = records(await sregistry(["images", "--json"], { env: home.env }));
  const date = (createdAt: string) => {
    const [year, month, day] = createdAt.slice(0, 10).split("-");
    return `${MONTHS[Number(month) - 1]} ${day}, ${year}`;
  };
  assert.deepEqual(rows, [
    `1  ${date(json[0].created_at)}\tlocal \t   [hub]\tvsoch/hello-world:latest@${md5("alpha\n")}`,
    `2  ${date(json[1].created_at)}\tlocal \t   [hub]\tlibrary/ubuntu:18.04@${md5("beta\n")}`,
    `3  ${date(json[2].created_at)}\tremote\t   [hub]\tdinosaur/tacos:v1`,
    `4  ${date(json[3].created_at)}\tlocal \t   [hub]\tvsoch/salad:dev@${md5("gamma\n")}`,
  ]);
});

Deno.test("images --json lists records with the documented fields", async () => {
  await using home = await tempHome();
  await populated(home);
  const json = records(await sregistry(["images", "--json"], { env: home.env }));
  assert.equal(json.length, 4);
  for (
    const field of [
      "id",
      "collection",
      "name",
      "tag",
      "version",
      "uri",
      "image",
      "url",
      "client",
      "created_at",
      "metadata",
    ]
  ) {
    for (const record of json) assert.ok(field in record, `${field} in ${record.uri}`);
  }
  assert.deepEqual(json.map((r) => r.id), [...json.map((r) => r.id)].sort((a, b) => a - b));
  const [hello, , tacos] = json;
  assert.deepEqual(
    {
      collection: hello.collection,
      name: hello.name,
      tag: hello.tag,
      version: hello.version,
      image: hello.image,
      url: hello.url,
      client: hello.client,
      metadata: hello.metadata,
    },
    {
      collection: "vsoch",
      name: "hello-world",
      tag: "latest",
      version: md5("alpha\n"),
      image: join(home.storage, "vsoch", "hello-world", `latest@${md5("alpha\n")}.sif`),
      url: null,
      client: "hub",
      metadata: null,
    },
  );
  assert.match(hello.created_at, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
  assert.equal(tacos.image, null, "a remote-only record has no image");
  assert.equal(tacos.url, "https://example.org/tacos.sif");
  assert.equal(tacos.version, null);
});

Deno.test("images queries match collection, name, tag or uri, any case, any of several", async () => {
  await using home = await tempHome();
  await populated(home);
  const uris = async (...query: string[]) =>
    records(await sregistry(["images", "--json", ...query], { env: home.env })).map((r) =>
      r.uri.replace(/@.*/, "")
    );
  assert.deepEqual(await uris("vsoch"), ["vsoch/hello-world:latest", "vsoch/salad:dev"]);
  assert.deepEqual(await uris("UBUNTU"), ["library/ubuntu:18.04"]);
  assert.deepEqual(await uris("dev"), ["vsoch/salad:dev"]);
  assert.deepEqual(await uris(md5("beta\n").slice(0, 8)), ["library/ubuntu:18.04"]);
  assert.deepEqual(await uris("tacos", "hello"), [
    "vsoch/hello-world:latest",
    "dinosaur/tacos:v1",
  ]);
  assert.equal((await uris("*")).length, 4, "'*' lists everything");

  const table = await sregistry(["images", "salad"], { env: home.env });
  assert.equal(lines(table.stdout).length, 2);
  assert.match(
    lines(table.stdout)[1],
    /^1 {2}.*vsoch\/salad:dev@/,
    "rows are numbered per listing",
  );
});

Deno.test("images with no match, or an empty database, exits 0 with a note on stderr", async () => {
  await using home = await tempHome();
  const empty = await sregistry(["images"], { env: home.env });
  assert.deepEqual([empty.code, empty.stdout, empty.stderr], [0, "", "No containers yet.\n"]);
  assert.deepEqual(records(await sregistry(["images", "--json"], { env: home.env })), []);

  await populated(home);
  const none = await sregistry(["images", "nothing-like-this"], { env: home.env });
  assert.deepEqual([none.code, none.stdout, none.stderr], [0, "", "No matching containers.\n"]);
  const noneJson = await sregistry(["images", "--json", "nothing"], { env: home.env });
  assert.equal(noneJson.stdout, "[]\n");
});
