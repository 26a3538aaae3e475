/** `!clank reset`: this channel goes back to the configured defaults. @module */
import { definePlugin } from "../plugins/sdk.ts";

export default definePlugin({
  name: "command_reset",
  kind: "command",
  apiVersion: 1,
  description: "Returns this channel's settings to the configured defaults",
  command: "reset",
  usage: "reset",
  permission: "moderator",
  run(inv) {
    const d = inv.defaults;
    return {
      reset: true,
      reply: `@${inv.displayName} settings reset: threshold ${d.threshold}, spontaneous ${d.spontaneous}s, ` +
        `response ${d.response}s, context ${d.context}, model ${d.model || "default"}`,
    };
  },
});
