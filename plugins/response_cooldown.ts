/**
 * Cooldown plugin `response_cooldown`: a user whose mention was answered is ignored for the
 * channel's `response` seconds; other users are not affected. Memory is bounded: only users inside
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

export default definePlugin({
  name: "response_cooldown",
  kind: "cooldown",
  apiVersion: 1,
  description: "Per-user cooldown between replies to mentions",
  triggers: ["mention"],
  options,
  setup() {
    until.clear();
  },
  gate(req, api) {
    if (req.user === undefined) return { allow: true };
    let users = until.get(req.channel);
    if (users === undefined) until.set(req.channel, users = new Map());
    const end = users.get(req.user);
    if (end !== undefined && end > req.time) return { allow: false, reason: "user_cooldown" };
    users.delete(req.user);
    users.set(req.user, req.time + req.settings.response * 1000);
    if (users.size > api.options.max_users) {
      for (const [user, t] of users) {
        if (t <= req.time || users.size > api.options.max_users) users.delete(user);
        else break;
      }
    }
    return { allow: true };
  },
});
