/**
 * Example generator: asks an HTTP API for the bot's line.
 *
 * It POSTs `{ channel, trigger, bot, model, history, notes, mention, attempt, rejected }` as JSON to
 * `options.url` and expects `{ "text": "…" }` back (an empty text means "nothing to say", and the
 * next generator may try).
 *
 * The plugin declares net access to exactly one host, `API_HOST`; the operator must grant it, and the
 * sandbox refuses every other host. To use another API, edit `API_HOST` and the grant together:
 *
 * ```toml
 * [[plugins]]
 * path = "plugins.d/http_generator.ts"
 * options = { url = "https://api.example.com/v1/line" }
 * permissions = { net = ["api.example.com:443"] }
 *
 * [defaults]
 * generator = "http_generator"
 * ```
 * @module
 */
import { z } from "zod";
import { definePlugin } from "../../plugins/sdk.ts";

/** The one host:port this plugin may talk to. */
export const API_HOST = "api.example.com:443";

function hostOf(url: URL): string {
  return `${url.hostname}:${url.port || (url.protocol === "https:" ? "443" : "80")}`;
}

const Options = z.object({
  /** Endpoint that answers with `{ "text": "…" }`. */
  url: z.url({ protocol: /^https?$/, error: "must be an http:// or https:// URL" }).refine(
    (u) => hostOf(new URL(u)) === API_HOST,
    { error: `must be on ${API_HOST}, the host this plugin declares (edit API_HOST to use another)` },
  ),
  /** Milliseconds to wait for the API. */
  timeout_ms: z.number().int().min(100).max(60_000).default(5000),
  /** History lines sent along, newest last. */
  history_lines: z.number().int().min(0).max(500).default(30),
});

const Reply = z.object({ text: z.string().max(2000) });

export default definePlugin({
  name: "http_generator",
  kind: "generator",
  apiVersion: 1,
  description: "Gets the bot's lines from an HTTP API",
  permissions: { net: [API_HOST] },
  options: Options,
  async generate(req, api) {
    const { url, timeout_ms, history_lines } = api.options;
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        channel: req.channel,
        trigger: req.trigger,
        bot: req.bot,
        model: req.model,
        history: history_lines === 0 ? [] : req.history.slice(-history_lines),
        notes: req.notes,
        mention: req.mention,
        attempt: req.attempt,
        rejected: req.rejected,
      }),
      signal: AbortSignal.timeout(timeout_ms),
    });
    if (!res.ok) {
      await res.body?.cancel();
      throw new Error(`API answered HTTP ${res.status}`);
    }
    const parsed = Reply.safeParse(await res.json());
    if (!parsed.success) throw new Error('API answer must be JSON like { "text": "…" }');
    const text = parsed.data.text.trim();
    return text === "" ? null : { text };
  },
});
