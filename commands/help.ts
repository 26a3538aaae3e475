/** `!clank help` (and any unknown subcommand): a one-line list of subcommands. @module */
import { definePlugin } from "../plugins/sdk.ts";

export default definePlugin({
  name: "command_help",
  kind: "command",
  apiVersion: 1,
  description: "Lists the subcommands",
  command: "help",
  usage: "help",
  permission: "moderator",
  run(inv) {
    const list = inv.commands.map((c) => c.usage).join(" · ");
    return { reply: `@${inv.displayName} ${inv.prefix} ${list}` };
  },
});
