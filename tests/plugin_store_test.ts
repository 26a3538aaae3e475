import { assertEquals } from "./assert.ts";
import { pluginStore } from "../core/plugin_store.ts";

Deno.test("pluginStore namespaces keys per plugin and never waits for the database", async (t) => {
  const kv = new Map<string, string>();
  let release!: () => void;
  let gate = new Promise<void>((r) => (release = r));
  const errors: unknown[] = [];
  const store = pluginStore({
    kvGet: (ns, key) => Promise.resolve(kv.get(`${ns}/${key}`)),
    async kvSet(ns, key, value) {
      await gate; // a database that is down until released
      if (value === null) kv.delete(`${ns}/${key}`);
      else kv.set(`${ns}/${key}`, value);
    },
  }, (err) => errors.push(err));

  await t.step("set resolves before the write is committed", async () => {
    await store.set("gate", "chan", { count: 3 });
    assertEquals(kv.size, 0);
    release();
    await gate;
    await Promise.resolve();
    assertEquals(kv.get("plugin:gate/chan"), '{"count":3}');
    assertEquals(await store.get("gate", "chan"), { count: 3 });
  });
  await t.step("delete removes, and failures are reported, not thrown", async () => {
    await store.delete("gate", "chan");
    await new Promise((r) => setTimeout(r, 0));
    assertEquals(await store.get("gate", "chan"), undefined);
    gate = Promise.reject(new Error("database down"));
    gate.catch(() => {});
    await store.set("gate", "x", 1);
    await new Promise((r) => setTimeout(r, 0));
    assertEquals(errors.length, 1);
  });
});
