import assert from "node:assert/strict";
import FakeTimers from "@sinonjs/fake-timers";
import { isTimedOut, raceDeadline } from "../core/deadline.ts";

Deno.test("raceDeadline bounds a wait and always clears its timer", async (t) => {
  const clock = FakeTimers.install({ toFake: ["setTimeout", "clearTimeout"] });
  try {
    await t.step("the value, when the promise wins; no timer is left", async () => {
      assert.equal(await raceDeadline(Promise.resolve(7), 1000), 7);
      assert.equal(clock.countTimers(), 0);
    });

    await t.step("the marker, when time runs out; no timer is left", async () => {
      const pending = raceDeadline(new Promise(() => {}), 1000);
      await clock.tickAsync(1000);
      assert.ok(isTimedOut(await pending));
      assert.equal(clock.countTimers(), 0);
    });

    await t.step("a rejection before the deadline is passed on", async () => {
      await assert.rejects(raceDeadline(Promise.reject(new Error("down")), 1000), /down/);
      assert.equal(clock.countTimers(), 0);
    });
  } finally {
    clock.uninstall();
  }
});
