/**
 * Cooldown plugin `response_cooldown`: a user whose mention was answered is ignored for the
 * channel's `response` seconds; other users are not affected. The cooldown starts when the mention
 * is let through (so a second one cannot slip in while the first is answered) and is released when
 * the host reports it `unanswered`. Memory is bounded: only users inside
 * their cooldown are kept, and at most `max_users` per channel.
 * @module
 */
import { z } from "zod";
import { definePlugin } from "./sdk.ts";

const options = z.object({
  max_users: z.number().int().min(10).max(1000000).default(10000),
}).strict();

/** channel → user → time the cooldown ends (ms). Maps keep insertion order, oldest first. */
const until = new Map<string, Map<string, number>>();

/** Loaded instances sharing this state: a reload keeps everyone's cooldown (see chat_history). */
let instances = 0;

export default definePlugin({
  name: "response_cooldown",
  kind: "cooldown",
  apiVersion: 1,
  description: "Per-user cooldown between replies to mentions",
  triggers: ["mention"],
  options,
  setup() {
    if (instances++ === 0) until.clear();
  },
  teardown() {
    instances = Math.max(0, instances - 1);
  },
  observe(event) {
    if (event.type === "part" && event.self) until.delete(event.channel);
    // Nothing reached chat for that mention: the user heard nothing, so asking again must work.
    if (event.type === "unanswered") until.get(event.channel)?.delete(event.user);
  },
  gate(req, api) {
    if (req.user === undefined) return { allow: true };
    let users = until.get(req.channel);
    if (users === undefined) until.set(req.channel, users = new Map());
    // Entries are in the order their cooldowns started, so expired ones sit at the front: dropping
    // them as we go keeps only users inside their cooldown, at O(1) per call.
    for (const [user, end] of users) {
      if (end > req.time) break;
      users.delete(user);
    }
    const end = users.get(req.user);
    if (end !== undefined && end > req.time) return { allow: false, reason: "user_cooldown" };
    users.delete(req.user);
    users.set(req.user, req.time + req.settings.response * 1000);
    // A flood of distinct users inside one window: the hard bound wins, oldest first.
    while (users.size > api.options.max_users) users.delete(users.keys().next().value!);
    return { allow: true };
  },
});

/** Users currently held in a channel's cooldown map (for tests: expired entries must be gone). */
export function cooldownEntries(channel: string): number {
  return until.get(channel)?.size ?? 0;
}
