/**
 * Prints the MD5 of a file, hashed in this thread in 128 KiB reads with sregistry's MD5
 * (`ours`, the default) or Deno's node:crypto (`node-crypto`): the benchmarks time it against
 * `md5sum` to show what hashing alone costs, apart from copying and downloading.
 *
 *   deno run --allow-read scripts/md5_file.ts <file> [ours|node-crypto]
 */
import { createHash } from "node:crypto";
import { Md5 } from "../src/core/md5.ts";

const [path, which = "ours"] = Deno.args;
if (path === undefined || !["ours", "node-crypto"].includes(which)) {
  console.error("usage: md5_file.ts <file> [ours|node-crypto]");
  Deno.exit(2);
}
const hash = which === "ours" ? new Md5() : createHash("md5");
using file = Deno.openSync(path);
const buffer = new Uint8Array(128 * 1024);
for (let read = file.readSync(buffer); read !== null; read = file.readSync(buffer)) {
  hash.update(buffer.subarray(0, read));
}
console.log(hash instanceof Md5 ? hash.digest() : hash.digest("hex"));
