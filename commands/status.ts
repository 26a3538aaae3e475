/**
 * `!clank status`: uptime, model, this channel's settings, messages seen, lines sent, generation
 * time, whether Ollama answers, and the last error — in one chat line.
 * @module
 */
import { definePlugin } from "../plugins/sdk.ts";

/** `3h12m`, `4m`, `2d3h`. */
export function formatUptime(seconds: number): string {
  const d = Math.floor(seconds / 86400),
    h = Math.floor((seconds % 86400) / 3600),
    m = Math.floor((seconds % 3600) / 60);
  if (d > 0) return `${d}d${h}h`;
  if (h > 0) return `${h}h${m}m`;
  return `${m}m${seconds % 60}s`;
}

export default definePlugin({
  name: "command_status",
  kind: "command",
  apiVersion: 1,
  description: "Shows the bot's status in this channel",
  command: "status",
  usage: "status",
  permission: "moderator",
  run(inv) {
    const s = inv.status, c = inv.settings;
    const ollama = s.ollamaReachable === null ? "unknown" : s.ollamaReachable ? "ok" : "down";
    const gen = s.generationAvgMs === null
      ? "no generations yet"
      : `gen avg ${s.generationAvgMs}ms p95 ${s.generationP95Ms}ms`;
    const error = s.lastError === null ? "none" : s.lastError.slice(0, 120);
    return {
      reply:
        `@${inv.displayName} up ${
          formatUptime(s.uptimeSeconds)
        } · model ${s.model} · threshold ${c.threshold}, ` +
        `spontaneous ${c.spontaneous}s, response ${c.response}s, context ${c.context} · seen ${s.messagesSeen} · ` +
        `sent ${s.sentSpontaneous} spontaneous / ${s.sentReplies} replies · ${gen} · Ollama ${ollama}` +
        `${s.observeOnly ? " · observe-only" : ""} · last error: ${error}`,
    };
  },
});
