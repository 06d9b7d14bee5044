/** Storage carries a CACHEDIR.TAG, so backup tools (tar --exclude-caches, borg, restic) skip it. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { sregistry } from "../support/cli.ts";
import { tempHome } from "../support/home.ts";

Deno.test("storage gets a CACHEDIR.TAG with the standard signature, and a user's own is kept", async () => {
  await using home = await tempHome();
  assert.equal((await sregistry(["images"], { env: home.env })).code, 0);
  const tag = Deno.readTextFileSync(join(home.storage, "CACHEDIR.TAG"));
  assert.ok(tag.startsWith("Signature: 8a477f597d28d172789f06886806bc55\n"), tag);
  Deno.writeTextFileSync(
    join(home.storage, "CACHEDIR.TAG"),
    "Signature: 8a477f597d28d172789f06886806bc55\n# mine\n",
  );
  assert.equal((await sregistry(["images"], { env: home.env })).code, 0);
  assert.match(Deno.readTextFileSync(join(home.storage, "CACHEDIR.TAG")), /# mine/);
});
