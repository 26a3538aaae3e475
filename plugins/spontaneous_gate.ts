/**
 * Cooldown plugin `spontaneous_gate`: a spontaneous line needs at least `threshold` chat messages
 * AND at least `spontaneous` seconds since the previous one, and enough context to be relevant.
 * Counters are saved in the plugin store so a restart does not forget how far the bot had counted.
 * @module
 */
import { z } from "zod";
import { definePlugin, type PluginApi } from "./sdk.ts";

const options = z.object({
  /** Save a channel's counter after this many new messages (it is always saved on a reset and at shutdown). */
  save_every: z.number().int().min(1).max(1000).default(5),
}).strict();

type Options = z.infer<typeof options>;

interface Counter {
  /** Messages since the last spontaneous line. */
  count: number;
  /** Time of the last spontaneous line (ms), 0 if none yet. */
  last: number;
  unsaved: number;
}

const counters = new Map<string, Counter>();
const loading = new Map<string, Promise<Counter>>();

/** Loaded instances sharing these counters: a reload keeps them (see chat_history). */
let instances = 0;

function counterOf(channel: string, api: PluginApi<Options>): Counter | Promise<Counter> {
  const c = counters.get(channel);
  if (c !== undefined) return c;
  let p = loading.get(channel);
  if (p === undefined) {
    p = api.store.get<{ count: number; last: number }>(channel).then((saved) => {
      const loaded = { count: saved?.count ?? 0, last: saved?.last ?? 0, unsaved: 0 };
      counters.set(channel, loaded);
      loading.delete(channel);
      return loaded;
    }, (err) => {
      loading.delete(channel);
      throw err;
    });
    loading.set(channel, p);
  }
  return p;
}

function save(channel: string, c: Counter, api: PluginApi<Options>): Promise<void> {
  c.unsaved = 0;
  return api.store.set(channel, { count: c.count, last: c.last });
}

export default definePlugin({
  name: "spontaneous_gate",
  kind: "cooldown",
  apiVersion: 1,
  description: "Spontaneous lines need enough new messages and enough time since the last one",
  triggers: ["spontaneous"],
  options,
  setup() {
    if (instances++ > 0) return;
    counters.clear();
    loading.clear();
  },
  async observe(event, api) {
    if (event.type !== "message" || event.self || event.flags?.command || event.flags?.fromBot) return;
    const c = await counterOf(event.channel, api);
    c.count++;
    c.unsaved++;
    if (c.unsaved >= api.options.save_every) await save(event.channel, c, api);
  },
  async gate(req, api) {
    const c = await counterOf(req.channel, api);
    if (c.count < req.settings.threshold) return { allow: false, reason: "threshold" };
    if (req.time - c.last < req.settings.spontaneous * 1000) return { allow: false, reason: "cooldown" };
    if (req.contextSize < req.settings.min_context) return { allow: false, reason: "context" };
    c.count = 0;
    c.last = req.time;
    await save(req.channel, c, api);
    return { allow: true };
  },
  async teardown(api) {
    instances = Math.max(0, instances - 1);
    await Promise.all([...counters].filter(([, c]) => c.unsaved > 0).map(([ch, c]) => save(ch, c, api)));
  },
});
