/**
 * `!clank model [name]`: shows the channel's model, or switches it. The host checks that Ollama has
 * the model (`/api/tags`) and answers with the installed list when it does not.
 * @module
 */
import { definePlugin } from "../plugins/sdk.ts";

export default definePlugin({
  name: "command_model",
  kind: "command",
  apiVersion: 1,
  description: "Shows or switches this channel's Ollama model",
  command: "model",
  usage: "model [name]",
  permission: "moderator",
  run(inv) {
    const name = inv.args[0];
    if (name === undefined) return { reply: `@${inv.displayName} model is ${inv.status.model}` };
    if (inv.args.length > 1) {
      return { reply: `@${inv.displayName} usage: ${inv.prefix} model [name], e.g. llama3.1` };
    }
    return {
      set: { model: name },
      reply: `@${inv.displayName} model set to ${name} (was ${inv.status.model})`,
    };
  },
});
