/**
 * `sregistry images [query...]`: the seeds' table (index, date and time, location, size, client,
 * uri) with the newest last and a total, `--json` records, queries that must all match, filters
 * (location, client, time), `--sort`, `--format`, `--uris` and `--paths`.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { sregistry } from "../support/cli.ts";
import { type TempHome, tempHome } from "../support/home.ts";
import { assertFailure, lines, md5, records } from "../support/state.ts";

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

/** Rewrites columns of records, by uri prefix, straight in the database. */
function setColumns(home: TempHome, changes: [string, Record<string, string | number | null>][]) {
  const db = new DatabaseSync(join(home.database, "sregistry.db"));
  try {
    for (const [uri, columns] of changes) {
      const names = Object.keys(columns);
      const changed = db.prepare(
        `UPDATE container SET ${names.map((name) => `${name} = ?`).join(", ")} WHERE uri LIKE ?`,
      ).run(...Object.values(columns), `${uri}%`);
      assert.equal(changed.changes, 1, uri);
    }
  } finally {
    db.close();
  }
}

Deno.test("images prints a table of every record with its local time and size, newest last, and a total", async () => {
  await using home = await tempHome();
  await populated(home);
  // Times are shown in the local time zone: half an hour off the hour in Kolkata.
  const env = { ...home.env, TZ: "Asia/Kolkata" };
  setColumns(home, [["vsoch/hello-world", { created_at: "2026-01-31 20:45:09" }]]);
  const listed = await sregistry(["images"], { env });
  assert.equal(listed.code, 0, listed.stderr);
  assert.equal(listed.stderr, "", "no banner for images");
  const [header, ...rows] = lines(listed.stdout);
  assert.equal(
    header,
    "Containers:   [date]       \t[location]\t   [size]   [client]\t[uri]",
  );

  const json = records(await sregistry(["images", "--json"], { env }));
  const time = (createdAt: string) => {
    const utc = new Date(createdAt.replace(" ", "T") + "Z");
    const local = new Date(utc.getTime() + 330 * 60_000);
    const two = (n: number) => String(n).padStart(2, "0");
    return (`${MONTHS[local.getUTCMonth()]} ${two(local.getUTCDate())}, ` +
      `${local.getUTCFullYear()} ${two(local.getUTCHours())}:${two(local.getUTCMinutes())}`)
      .padEnd(24);
  };
  assert.equal(time(json[0].created_at), "February 01, 2026 02:15 ");
  assert.deepEqual(rows, [
    `1  ${time(json[0].created_at)}\tlocal     \t      6 B   [hub]\t` +
    `vsoch/hello-world:latest@${md5("alpha\n")}`,
    `2  ${time(json[1].created_at)}\tlocal     \t      5 B   [hub]\t` +
    `library/ubuntu:18.04@${md5("beta\n")}`,
    `3  ${time(json[2].created_at)}\tremote    \t        -   [hub]\tdinosaur/tacos:v1`,
    `4  ${time(json[3].created_at)}\tlocal     \t      6 B   [hub]\t` +
    `vsoch/salad:dev@${md5("gamma\n")}`,
    "Total: 4 containers, 3 local images, 17 B",
  ]);
});

Deno.test("images' total counts content shared by several names once on disk", async () => {
  await using home = await tempHome();
  await populated(home);
  const tagged = await sregistry(["tag", "vsoch/hello-world", "vsoch/hello-world:v2"], {
    env: home.env,
  });
  assert.equal(tagged.code, 0, tagged.stderr);
  const grown = home.file("big.sif", new Uint8Array(3 * 1024 * 1024));
  assert.equal((await sregistry(["add", grown, "--name", "lab/big"], { env: home.env })).code, 0);
  const table = lines((await sregistry(["images"], { env: home.env })).stdout);
  assert.match(table.at(-2)!, /\t {2}3\.0 MiB {3}\[hub\]\tlab\/big:latest@/);
  assert.equal(
    table.at(-1),
    "Total: 6 containers, 5 local images, 3.0 MiB",
    "no 'on disk' that says the same",
  );
  const small = lines((await sregistry(["images", "vsoch"], { env: home.env })).stdout);
  assert.equal(small.at(-1), "Total: 3 containers, 3 local images, 18 B (12 B on disk)");
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
      "used_at",
      "location",
      "size",
      "md5",
      "metadata",
      "metrics",
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

Deno.test("images queries match collection, name, tag or uri, any case, and several must all match", async () => {
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
  assert.deepEqual(await uris("vsoch", "hello"), ["vsoch/hello-world:latest"]);
  assert.deepEqual(await uris("vsoch", "latest"), ["vsoch/hello-world:latest"]);
  assert.deepEqual(await uris("tacos", "hello"), [], "no record matches both");
  assert.equal((await uris("*")).length, 4, "'*' lists everything");
  assert.deepEqual(await uris("*", "salad"), ["vsoch/salad:dev"]);

  const table = await sregistry(["images", "salad", "vsoch"], { env: home.env });
  assert.equal(lines(table.stdout).length, 3, "header, one row, total");
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
  for (const args of [["--uris"], ["--paths"], ["--format", "uri"]]) {
    const quiet = await sregistry(["images", ...args], { env: home.env });
    assert.deepEqual([quiet.code, quiet.stdout, quiet.stderr], [0, "", ""], args.join(" "));
  }

  await populated(home);
  for (const args of [["nothing-like-this"], ["--missing"], ["--client", "oras"]]) {
    const none = await sregistry(["images", ...args], { env: home.env });
    assert.deepEqual([none.code, none.stdout, none.stderr], [0, "", "No matching containers.\n"]);
  }
  const noneJson = await sregistry(["images", "--json", "nothing"], { env: home.env });
  assert.equal(noneJson.stdout, "[]\n");
});

Deno.test("images --local, --remote, --missing and --changed keep records by where their image is", async () => {
  await using home = await tempHome();
  await populated(home);
  const json = records(await sregistry(["images", "--json"], { env: home.env }));
  Deno.removeSync(json[1].image!); // ubuntu: missing
  Deno.writeTextFileSync(json[3].image!, "gamma, grown\n"); // salad: changed
  const uris = async (...args: string[]) =>
    lines((await sregistry(["images", "--uris", ...args], { env: home.env })).stdout)
      .map((uri) => uri.replace(/@.*/, ""));
  assert.deepEqual(await uris("--local"), ["vsoch/hello-world:latest"]);
  assert.deepEqual(await uris("--remote"), ["dinosaur/tacos:v1"]);
  assert.deepEqual(await uris("--missing"), ["library/ubuntu:18.04"]);
  assert.deepEqual(await uris("--changed"), ["vsoch/salad:dev"]);
  assert.deepEqual(await uris("--missing", "--changed"), [
    "library/ubuntu:18.04",
    "vsoch/salad:dev",
  ]);
  assert.deepEqual(await uris("--local", "--remote", "vsoch"), ["vsoch/hello-world:latest"]);

  const table = lines((await sregistry(["images"], { env: home.env })).stdout);
  assert.match(table[2], /\tmissing {3}\t {6}5 B {3}\[hub\]\tlibrary\/ubuntu:18\.04@/);
  assert.match(table[4], /\tchanged {3}\t {6}6 B {3}\[hub\]\tvsoch\/salad:dev@/);
  assert.equal(table[5], "Total: 4 containers, 1 local image, 6 B", "only images in place");
  const located = records(await sregistry(["images", "--json", "--changed"], { env: home.env }));
  assert.deepEqual(located.map((r) => r.location), ["changed"]);
});

Deno.test("images --client keeps the records of one client, without case", async () => {
  await using home = await tempHome();
  await populated(home);
  const added = await sregistry(["add", home.file("d.sif", "delta\n"), "--name", "lab/delta"], {
    env: { ...home.env, SREGISTRY_CLIENT: "registry" },
  });
  assert.equal(added.code, 0, added.stderr);
  const uris = async (client: string) =>
    lines((await sregistry(["images", "--uris", "--client", client], { env: home.env })).stdout);
  assert.deepEqual(await uris("registry"), [`lab/delta:latest@${md5("delta\n")}`]);
  assert.deepEqual(await uris("REGISTRY"), [`lab/delta:latest@${md5("delta\n")}`]);
  assert.equal((await uris("hub")).length, 4);
  assertFailure(
    await sregistry(["images", "--client", " "], { env: home.env }),
    2,
    /--client needs a client name/,
  );
});

Deno.test("images --since and --before take dates, local or zoned date-times, and ages", async () => {
  await using home = await tempHome();
  await populated(home);
  setColumns(home, [
    ["vsoch/hello-world", { created_at: "2019-12-31 23:00:00" }],
    ["library/ubuntu", { created_at: "2020-01-01 06:00:00" }],
    ["dinosaur/tacos", { created_at: "2020-01-02 12:30:00" }],
  ]);
  // Local time is Kolkata's (UTC+05:30): its 2020-01-01 begins at 2019-12-31 18:30 UTC.
  const env = { ...home.env, TZ: "Asia/Kolkata" };
  const names = async (...args: string[]) => {
    const result = await sregistry(["images", "--format", "{name}", ...args], { env });
    assert.equal(result.code, 0, result.stderr);
    return lines(result.stdout);
  };
  assert.deepEqual(await names("--since", "2020-01-01", "--before", "2020-01-02"), [
    "hello-world",
    "ubuntu",
  ]);
  assert.deepEqual(
    await names("--since", "2020-01-01T00:00:00Z", "--before", "2020-01-03T00:00Z"),
    [
      "ubuntu",
      "tacos",
    ],
  );
  assert.deepEqual(await names("--before", "2020-01-01 11:30:01"), ["hello-world", "ubuntu"]);
  assert.deepEqual(await names("--before", "2020-01-01T06:00:00+00:00"), ["hello-world"]);
  assert.deepEqual(await names("--since", "2020-01-02T13:00+0100"), ["tacos", "salad"]);
  // An age counts back from now: only the record added by this test is that recent.
  assert.deepEqual(await names("--since", "2h"), ["salad"]);
  assert.deepEqual(await names("--before", "1w"), ["hello-world", "ubuntu", "tacos"]);

  for (
    const value of [
      "yesterday",
      "2026-02-30",
      "2026-13-01",
      "2026-01-01T24:00",
      "2026-01-03Z",
      "5y",
      "",
    ]
  ) {
    assertFailure(
      await sregistry(["images", "--since", value], { env }),
      2,
      new RegExp(`--since '${value}' is not a date or time; give a date \\(2026-11-21\\)`),
    );
  }
});

Deno.test("images --sort orders by date, name, size, use, client or location; --reverse turns it round", async () => {
  await using home = await tempHome();
  await populated(home);
  const big = await sregistry(["add", home.file("d.sif", "a bigger image\n"), "--name", "a/zeta"], {
    env: { ...home.env, SREGISTRY_CLIENT: "registry" },
  });
  assert.equal(big.code, 0, big.stderr);
  setColumns(home, [
    ["vsoch/hello-world", { created_at: "2026-03-01 00:00:00", used_at: "2026-03-05 00:00:00" }],
    ["library/ubuntu", { created_at: "2026-01-01 00:00:00", used_at: null }],
    ["dinosaur/tacos", { created_at: "2026-02-01 00:00:00", size: 1000 }],
    ["vsoch/salad", { created_at: "2026-04-01 00:00:00", used_at: "2026-03-02 00:00:00" }],
    ["a/zeta", { created_at: "2026-02-01 00:00:00", used_at: "2026-03-09 00:00:00" }],
  ]);
  const names = async (...args: string[]) => {
    const result = await sregistry(["images", "--format", "{name}", ...args], { env: home.env });
    assert.equal(result.code, 0, result.stderr);
    return lines(result.stdout);
  };
  const added = ["hello-world", "ubuntu", "tacos", "salad", "zeta"];
  assert.deepEqual(await names(), added);
  assert.deepEqual(await names("--reverse"), [...added].reverse());
  // Ties (tacos and zeta on one date) keep the order records were added.
  assert.deepEqual(await names("--sort", "date"), [
    "ubuntu",
    "tacos",
    "zeta",
    "hello-world",
    "salad",
  ]);
  assert.deepEqual(await names("--sort", "date", "-r"), [
    "salad",
    "hello-world",
    "zeta",
    "tacos",
    "ubuntu",
  ]);
  assert.deepEqual(await names("--sort", "name"), [
    "zeta",
    "tacos",
    "ubuntu",
    "hello-world",
    "salad",
  ]);
  assert.deepEqual(await names("--sort", "size"), [
    "ubuntu",
    "hello-world",
    "salad",
    "zeta",
    "tacos",
  ]);
  assert.deepEqual(await names("--sort", "SIZE", "--reverse"), [
    "tacos",
    "zeta",
    "salad",
    "hello-world",
    "ubuntu",
  ]);
  // Never used sorts first.
  assert.deepEqual(await names("--sort", "used"), [
    "ubuntu",
    "tacos",
    "salad",
    "hello-world",
    "zeta",
  ]);
  assert.deepEqual(await names("--sort", "client"), [
    "hello-world",
    "ubuntu",
    "tacos",
    "salad",
    "zeta",
  ]);
  // Alphabetical: changed, local, missing, remote.
  assert.deepEqual(await names("--sort", "location"), [
    "hello-world",
    "ubuntu",
    "salad",
    "zeta",
    "tacos",
  ]);

  const json = records(
    await sregistry(["images", "--json", "--sort", "size", "-r"], { env: home.env }),
  );
  assert.deepEqual(json.map((r) => r.name), ["tacos", "zeta", "salad", "hello-world", "ubuntu"]);
  const table = lines((await sregistry(["images", "--sort", "name"], { env: home.env })).stdout);
  assert.match(table[1], /^1 {2}.*\ta\/zeta:latest@/, "rows are numbered in the order shown");

  assertFailure(
    await sregistry(["images", "--sort", "colour"], { env: home.env }),
    2,
    /--sort 'colour' is not a field to sort on; choose date, name, size, used, client, location/,
  );
});

Deno.test("images --format prints the named fields of each record, and --uris and --paths only those", async () => {
  await using home = await tempHome();
  await populated(home);
  const env = home.env;
  const json = records(await sregistry(["images", "--json"], { env }));
  const run = async (...args: string[]) => {
    const result = await sregistry(["images", ...args], { env });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, "");
    return lines(result.stdout);
  };
  assert.deepEqual(await run("--format", "{uri}\\t{size}\\t{path}", "vsoch"), [
    `${json[0].uri}\t6 B\t${json[0].image}`,
    `${json[3].uri}\t6 B\t${json[3].image}`,
  ]);
  assert.deepEqual(await run("--format", "name, bytes,location,version,url", "o"), [
    `hello-world\t6\tlocal\t${md5("alpha\n")}\t`,
    `tacos\t\tremote\t\thttps://example.org/tacos.sif`,
    `salad\t6\tlocal\t${md5("gamma\n")}\t`,
  ]);
  const iso = (time: unknown) => String(time).replace(" ", "T") + "Z";
  assert.deepEqual(
    await run("--format", "[{collection}/{name}:{tag}] {created} {used} {id}", "hello"),
    [
      `[vsoch/hello-world:latest] ${iso(json[0].created_at)} ${iso(json[0].used_at)} ${json[0].id}`,
    ],
  );
  assert.deepEqual(await run("--format", "{name}:{used}.", "tacos"), ["tacos:."], "never used");
  assert.deepEqual(await run("--format", "{md5}\\n{client}\\\\{arch}", "salad"), [
    md5("gamma\n"),
    "hub\\",
  ]);
  assert.deepEqual(await run("--uris"), json.map((r) => r.uri));
  assert.deepEqual(
    await run("--paths"),
    json.filter((r) => r.image !== null).map((r) => r.image),
    "remote-only records have no path",
  );
  assert.deepEqual(await run("--paths", "--sort", "name", "--remote"), []);

  for (
    const [format, message] of [
      ["{uri}\\t{sise}", /unknown field 'sise' in --format; fields: uri, collection, name/],
      ["uri,nope", /unknown field 'nope' in --format/],
      ["{uri", /--format has a '\{' with no '\}'/],
      ["uri,,size", /--format 'uri,,size' names no field/],
      ["", /--format '' names no field/],
    ] as const
  ) {
    assertFailure(await sregistry(["images", "--format", format], { env }), 2, message);
  }
  for (const args of [["--format", "uri", "--paths"], ["--uris", "--paths"]]) {
    assertFailure(
      await sregistry(["images", ...args], { env }),
      2,
      /do not go together; choose one of --json, --format, --uris, --paths/,
    );
  }
  // With --json the error is JSON too.
  const both = await sregistry(["images", "--json", "--uris"], { env });
  assert.equal(both.code, 2);
  assert.equal(both.stdout, "");
  assert.equal(JSON.parse(both.stderr).error.message, "--json and --uris do not go together");
});
