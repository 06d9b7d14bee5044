/** Messages quote what users typed and remotes answered: printable() makes them safe to show. */
import assert from "node:assert/strict";
import { isPrintableAscii, printable } from "../../src/errors.ts";

Deno.test("printable ASCII passes unchanged; controls, DEL and invisible characters are escaped", () => {
  const ascii = Array.from({ length: 0x7f - 0x20 }, (_, i) => String.fromCharCode(0x20 + i))
    .join("");
  assert.ok(isPrintableAscii(ascii));
  assert.equal(printable(ascii), ascii);
  assert.ok(!isPrintableAscii("a\x1fb"));
  assert.equal(printable("a\x1fb\x7fc"), "a\\u001fb\\u007fc");
  assert.equal(printable("e\u0301 caf\u00e9"), "e\u0301 caf\u00e9", "accents are printable");
  assert.equal(printable("a\u200bb\u202ec"), "a\\u200bb\\u202ec");
  assert.equal(printable(""), "");
});
