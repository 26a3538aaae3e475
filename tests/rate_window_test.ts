import assert from "node:assert/strict";
import { RateWindow, TWITCH_RATE_LIMITS } from "../core/rate_window.ts";

Deno.test("RateWindow keeps a sliding window per kind of channel", async (t) => {
  const limits = { windowMs: 30_000, lines: 20, modLines: 100, safetyLines: 1, windowSlackMs: 0 };
  await t.step("19 non-mod lines, then the oldest must leave", () => {
    const w = new RateWindow(limits);
    for (let i = 0; i < 19; i++) w.record(i * 100, false);
    assert.equal(w.nextAllowed(2000, false), 30_000);
    assert.equal(w.nextAllowed(2000, true), 30_000, "a mixed window holds mod lines to the low limit too");
    assert.equal(w.count(30_000), 18);
  });
  await t.step("all-mod windows go to 99", () => {
    const w = new RateWindow(limits);
    for (let i = 0; i < 50; i++) w.record(i, true);
    assert.equal(w.nextAllowed(100, true), 100);
    assert.equal(w.nextAllowed(100, false), 30_000 + 31, "a non-mod line waits until 18 remain");
    for (let i = 50; i < 99; i++) w.record(i, true);
    assert.equal(w.nextAllowed(100, true), 30_000);
  });
  await t.step("one old non-mod line blocks the high limit until it leaves", () => {
    const w = new RateWindow(limits);
    w.record(0, false);
    for (let i = 1; i < 19; i++) w.record(i, true);
    assert.equal(w.nextAllowed(10, true), 30_000);
  });
});

Deno.test("RateWindow defaults to Twitch's limits with a margin", () => {
  assert.deepEqual(TWITCH_RATE_LIMITS, {
    windowMs: 30_000,
    lines: 20,
    modLines: 100,
    safetyLines: 1,
    windowSlackMs: 500,
  });
  const w = new RateWindow();
  for (let i = 0; i < 19; i++) w.record(0, false);
  assert.equal(w.nextAllowed(0, false), 30_500);
  assert.equal(w.count(30_499), 19);
  assert.equal(w.count(30_500), 0);
});
