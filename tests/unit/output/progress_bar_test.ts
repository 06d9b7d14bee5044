/** Progress displays: what they write, and when, on a terminal and off one. */
import assert from "node:assert/strict";
import { outputStream } from "../../../src/output/io.ts";
import { countDisplay, progressDisplay } from "../../../src/output/progress_bar.ts";

// A stream that keeps what it is given, and a clock the test moves.
function recorder(isTerminal: boolean) {
  const written: string[] = [];
  let time = 0;
  return {
    written,
    err: outputStream((text) => written.push(text), { isTerminal, columns: 80 }),
    now: () => time,
    wait: (ms: number) => (time += ms),
  };
}

Deno.test("a transfer off a terminal writes a line an interval, and always its end", () => {
  const r = recorder(false);
  const display = progressDisplay(r.err, "lines", "pull", { now: r.now, lineIntervalMs: 1000 });
  display.update(0, 100); // nothing done yet: no line
  r.wait(1000);
  display.update(10, 100);
  r.wait(10);
  display.update(20, 100); // too soon
  display.update(100, 100); // the end, however soon
  display.finish();
  assert.equal(r.written.length, 2, r.written.join(""));
  assert.match(r.written[0], /^pull: 10% /);
  assert.match(r.written[1], /^pull: 100% /);
});

Deno.test("a count off a terminal writes its first line only after an interval", () => {
  const r = recorder(false);
  const display = countDisplay(r.err, "lines", "refresh", { now: r.now, lineIntervalMs: 1000 });
  display.update(1, 4);
  r.wait(999);
  display.update(2, 4);
  assert.deepEqual(r.written, [], "quick work writes no line");
  r.wait(1);
  display.update(3, 4);
  display.finish();
  assert.deepEqual(r.written, ["refresh: 3/4\n"]);
});

Deno.test("on a terminal a display redraws one line and clears it; mode none writes nothing", () => {
  const r = recorder(true);
  const count = countDisplay(r.err, "bar", "refresh", { now: r.now });
  count.update(1, null);
  count.finish();
  assert.deepEqual(r.written, ["\rrefresh: 1\x1b[K", "\r\x1b[K"]);
  const quiet = recorder(true);
  const none = progressDisplay(quiet.err, "none", "pull", { now: quiet.now });
  none.update(50, 100);
  none.finish();
  assert.deepEqual(quiet.written, []);
});
