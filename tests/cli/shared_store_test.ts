/**
 * A store a group shares: with setgid storage and database folders, what sregistry makes is
 * group-writable (folders, database) and group-readable (images) whatever the member's umask,
 * and `config` says the store is shared and which modes are wrong.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { DENO_DIR, sregistryCommand } from "../support/cli.ts";
import { type TempHome, tempHome } from "../support/home.ts";
import { canSwitchUser, sregistryAsOtherUser } from "../support/other_user.ts";
import { md5 } from "../support/state.ts";

const GROUP = 4242;

/** Runs the CLI under umask 077, as a member whose umask keeps everything private. */
async function privately(home: TempHome, args: string[]): Promise<Deno.CommandOutput> {
  const output = await new Deno.Command("sh", {
    args: ["-c", 'umask 077; exec "$0" "$@"', Deno.execPath(), ...sregistryCommand(args)],
    env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", DENO_DIR, NO_COLOR: "1", ...home.env },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  return output;
}

function mode(path: string): number {
  return Deno.statSync(path).mode! & 0o7777;
}

function makeShared(home: TempHome): void {
  for (const folder of [home.database, home.storage]) {
    Deno.mkdirSync(folder, { recursive: true });
    Deno.chownSync(folder, null, GROUP);
    Deno.chmodSync(folder, 0o2775);
  }
}

Deno.test({
  name: "in a shared store, folders, images and the database get group modes under umask 077",
  ignore: Deno.uid() !== 0, // chgrp to a group of the test's choosing needs root
  fn: async () => {
    await using home = await tempHome();
    makeShared(home);
    await privately(home, ["add", home.file("a.sif", "image a\n"), "--name", "lab/a:1"]);
    await privately(home, ["add", "--copy", home.file("b.sif", "image b\n"), "--name", "lab/b:1"]);
    await privately(home, ["tag", "lab/a:1", "other/a:stable"]);
    for (const folder of ["lab", "lab/a", "lab/b", "other", "other/a"]) {
      const path = join(home.storage, folder);
      assert.equal(mode(path).toString(8), "2775", `${folder} is group-writable and setgid`);
      assert.equal(Deno.statSync(path).gid, GROUP, `${folder} belongs to the group`);
    }
    for (const name of ["lab/a:1", "lab/b:1", "other/a:stable"]) {
      const path = new TextDecoder().decode((await privately(home, ["get", name])).stdout).trim();
      assert.equal(mode(path) & 0o444, 0o444, `${name}'s image is readable by the group`);
      assert.equal(Deno.statSync(path).gid, GROUP, `${name}'s image belongs to the group`);
    }
    assert.equal(mode(join(home.database, "sregistry.db")) & 0o060, 0o060);
    assert.equal(mode(join(home.database, ".sregistry-owners")).toString(8), "2775");
    const config = new TextDecoder().decode((await privately(home, ["config"])).stdout);
    assert.match(config, new RegExp(`store\\s+shared with group \\w+; modes ok`));
  },
});

Deno.test({
  name: "config names the modes of a shared store that would stop another member",
  ignore: Deno.uid() !== 0,
  fn: async () => {
    await using home = await tempHome();
    makeShared(home);
    await privately(home, ["add", home.file("a.sif", "image a\n"), "--name", "lab/a:1"]);
    Deno.chmodSync(join(home.storage, "lab"), 0o700);
    Deno.chmodSync(join(home.database, "sregistry.db"), 0o600);
    const image = join(home.storage, "lab", "a", `1@${md5("image a\n")}.sif`);
    Deno.chmodSync(image, 0o600);
    const output = await privately(home, ["config"]);
    const stderr = new TextDecoder().decode(output.stderr);
    assert.match(stderr, /warning: .*\/lab is 0700; a shared folder needs 2775 \(chmod 2775\)/);
    assert.match(stderr, /warning: .*sregistry\.db is 0600; the group must write it/);
    assert.match(stderr, /warning: .*1@\w+\.sif is 0600; the group cannot read it \(chmod g\+r\)/);
    assert.match(new TextDecoder().decode(output.stdout), /3 mode problem\(s\), listed above/);
  },
});

Deno.test("a private store keeps the member's umask, and config says it is private", async () => {
  await using home = await tempHome();
  await privately(home, ["add", "--copy", home.file("a.sif", "image a\n"), "--name", "lab/a:1"]);
  const path = new TextDecoder().decode((await privately(home, ["get", "lab/a:1"])).stdout).trim();
  assert.equal(mode(path) & 0o077, 0, "umask 077 is honoured");
  const config = new TextDecoder().decode((await privately(home, ["config"])).stdout);
  assert.match(config, /store\s+private/);
});

Deno.test({
  name: "a member may tag another member's image: where the link is refused, a copy, said so",
  ignore: !canSwitchUser(),
  fn: async () => {
    await using home = await tempHome();
    makeShared(home);
    await privately(home, ["add", home.file("a.sif", "image a\n"), "--name", "lab/a:1"]);
    Deno.chmodSync(home.path, 0o755); // the other member must reach the store
    // nobody, in the store's group: Linux's protected_hardlinks refuses linking root's file.
    const tagged = await sregistryAsOtherUser(["tag", "lab/a:1", "lab/a:stable"], {
      env: home.env,
      gid: GROUP,
      umask: "077",
    });
    assert.equal(tagged.code, 0, tagged.stderr);
    const hardlinks = Deno.readTextFileSync("/proc/sys/fs/protected_hardlinks").trim();
    const first = join(home.storage, "lab", "a", `1@${md5("image a\n")}.sif`);
    const second = join(home.storage, "lab", "a", `stable@${md5("image a\n")}.sif`);
    assert.equal(Deno.readTextFileSync(second), "image a\n");
    if (hardlinks === "1") {
      assert.match(tagged.stderr, /storage refused a hard link .* so the image was copied/);
      assert.notEqual(Deno.statSync(second).ino, Deno.statSync(first).ino);
    } else {
      assert.equal(Deno.statSync(second).ino, Deno.statSync(first).ino);
    }
    assert.equal(mode(second) & 0o444, 0o444, "readable by the group");
  },
});
