/**
 * Channel settings across restarts when the database cannot be read at start: the bot runs on the
 * configured settings meanwhile, and neither a change made then nor the wait loses what was stored.
 */
import assert from "node:assert/strict";
import { ClankError } from "../core/errors.ts";
import type { Storage } from "../core/storage.ts";
import { createHostHarness } from "./fakes/host_harness.ts";

/** The database behind a switch: while `down`, reading and writing settings fail as in an outage. */
function settingsOutage(inner: Storage, outage: { down: boolean }): Storage {
  const failing = new Set(["allSettings", "getSettings", "setSettings"]);
  return new Proxy(inner, {
    get(target, prop) {
      if (outage.down && typeof prop === "string" && failing.has(prop)) {
        return () => Promise.reject(new ClankError("STORAGE_UNAVAILABLE", "database is locked"));
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

const PIRATE = "You are a pirate.";

Deno.test("stored settings that could not be read at start are loaded when the database answers", async (t) => {
  const outage = { down: false };
  let inner: Storage | undefined;
  const h = await createHostHarness({
    storage: (s) => {
      inner = s;
      return settingsOutage(s, outage);
    },
  });
  const stored = () => inner!.getSettings("alpha");
  try {
    await t.step("a moderator's settings are stored", async () => {
      assert.equal((await h.host.updateSettings("alpha", { threshold: 50, persona: PIRATE })).ok, true);
      await h.storage.flush();
      assert.deepEqual(await stored(), { threshold: 50, persona: PIRATE });
    });

    await t.step("restarted while the database is locked: configured settings, and it says so", async () => {
      outage.down = true;
      await h.restart();
      const settings = h.host.channel("alpha")!.settings;
      assert.equal(settings.threshold, 30);
      assert.notEqual(settings.persona, PIRATE);
      assert.ok(h.logs.some((l) => l.includes("Could not read stored channel settings")));
    });

    await t.step("a change made meanwhile applies at once and does not replace what is stored", async () => {
      assert.equal((await h.host.updateSettings("alpha", { response: 30 })).ok, true);
      assert.equal(h.host.channel("alpha")!.settings.response, 30);
      outage.down = false;
      await h.advance(65_000);
      const settings = h.host.channel("alpha")!.settings;
      assert.equal(settings.threshold, 50, "the stored threshold is back");
      assert.equal(settings.persona, PIRATE, "the stored persona is back");
      assert.equal(settings.response, 30, "the change made during the outage is kept");
      assert.ok(h.logs.some((l) => l.includes("Loaded the stored channel settings")));
      await h.storage.flush();
      assert.deepEqual(await stored(), { threshold: 50, persona: PIRATE, response: 30 });
    });

    await t.step("all three survive the next restart", async () => {
      await h.restart();
      const settings = h.host.channel("alpha")!.settings;
      assert.deepEqual([settings.threshold, settings.persona, settings.response], [50, PIRATE, 30]);
    });

    await t.step("a reset during the outage wins over what was stored", async () => {
      outage.down = true;
      await h.restart();
      await h.host.resetSettings("alpha");
      outage.down = false;
      await h.advance(65_000);
      await h.storage.flush();
      assert.equal(h.host.channel("alpha")!.settings.threshold, 30);
      assert.deepEqual(await stored(), {});
    });
  } finally {
    await h.close();
  }
});
