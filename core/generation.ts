/**
 * One generation job, start to finish: gather context, ask the channel's generator (first result
 * wins, Markov as an opt-in fallback), pass the line through the output filters, try once more if
 * it was rejected or empty, then hand it to the send queue. Failures are counted and logged; chat
 * sees nothing (no error lines, no catch-up burst later).
 * @module
 */
import type {
  ContextContribution,
  FilterInput,
  FilterVerdict,
  GenerateRequest,
  GenerateResult,
} from "../plugins/sdk.ts";
import { cutAtWord, TWITCH_MAX_UNITS } from "../plugins/output_shaping.ts";
import { authorName } from "../plugins/prompt_builder.ts";
import type { HistoryLine } from "./events.ts";
import type { ChannelState } from "./channel_state.ts";
import type { Logger } from "./log.ts";
import type { Metrics } from "./metrics.ts";
import type { PluginSet } from "./plugin_set.ts";
import type { ReplyJob } from "./reply_queue.ts";

/** Mentions older than this when their turn comes are dropped: the conversation has moved on. */
const MAX_MENTION_WAIT_MS = 60_000;

/** What a generation needs from the host. */
export interface GenerationHost {
  bot: string;
  plugins(): PluginSet;
  log: Logger;
  metrics: Metrics;
  now(): number;
  /** Milliseconds a generator call may take (the Ollama deadline plus a margin). */
  generatorTimeoutMs: number;
  /** Resolves the model of a channel (`settings.model` or the global default). */
  modelFor(state: ChannelState): string;
  /**
   * Sends a checked line; resolves when sent or dropped. `stillValid` is asked again right before
   * the line goes out.
   */
  send(state: ChannelState, text: string, job: ReplyJob, stillValid: () => boolean): Promise<void>;
  /** Reports a generator failure (counted by kind, Ollama status updated). */
  generatorFailed(state: ChannelState, generator: string, error: string): void;
  generatorSucceeded(generator: string): void;
}

/** What the generators gave: a line, only empty answers, or a failure (no retry after one). */
type Generated = NonNullable<GenerateResult> | "empty" | "failed";

/** Outcome for logs and tests. */
export type GenerationOutcome = "sent" | "stale" | "restricted" | "withdrawn" | "no_text" | "rejected";

/** Runs one job. */
export async function runGeneration(
  job: ReplyJob,
  state: ChannelState,
  host: GenerationHost,
): Promise<GenerationOutcome> {
  const now = host.now();
  if (job.mention && now - job.time > MAX_MENTION_WAIT_MS) return "stale";
  if (job.mention && state.isRestricted(job.mention.user, now)) return "restricted";
  const plugins = host.plugins();
  const settings = state.settings;

  // callNow: a context plugin that answers synchronously (chat history does) costs no deadline timer.
  const contributions = await Promise.all(
    plugins.contexts.map((p) =>
      plugins.callNow<ContextContribution>(p, "provide", {
        channel: state.name,
        trigger: job.trigger,
        settings,
        time: now,
      })
    ),
  );
  const history: HistoryLine[] = [];
  const notes: string[] = [];
  for (const c of contributions) {
    if (!c.ok) continue;
    history.push(...(c.value.history ?? []));
    notes.push(...(c.value.notes ?? []));
  }
  const restricted = new Set(state.restrictedUsers(now));
  const visible = restricted.size === 0 ? history : history.filter((l) => !restricted.has(l.user));

  const address = job.mention ? `@${authorName(job.mention)} ` : "";
  let rejected: string | undefined;
  for (let attempt = 1; attempt <= 2; attempt++) {
    const request: GenerateRequest = {
      channel: state.name,
      trigger: job.trigger,
      bot: host.bot,
      settings,
      model: host.modelFor(state),
      history: visible,
      notes,
      mention: job.mention,
      attempt,
      rejected,
      time: now,
    };
    const result = await generate(request, state, host);
    // A failed generator is not asked again: after an outage that would be a burst of retries.
    if (result === "failed") {
      host.metrics.generationsEmpty.inc({ channel: state.name, reason: "no_text" });
      return "no_text";
    }
    const checked = result === "empty"
      ? { ok: false as const, reason: "empty" }
      : await checkOutput(result, address, job, state, host, restricted);
    if (checked.ok) {
      const line = address + checked.text;
      // Bans, timeouts, deletions and clears can arrive while the line is generated or waits in the
      // send queue.
      const stillValid = () => withdrawnBecause(line, job, state, host.now()) === null;
      const withdrawn = withdrawnBecause(line, job, state, host.now());
      if (withdrawn !== null) {
        host.metrics.linesBlocked.inc({ filter: withdrawn, direction: "out" });
        return withdrawn === "restricted_user" ? "restricted" : "withdrawn";
      }
      await host.send(state, line, job, stillValid);
      return "sent";
    }
    rejected = checked.reason;
    host.log.debug("Generated line rejected", {
      channel: state.name,
      event: "rejected",
      reason: rejected,
      attempt,
    });
  }
  const outcome = rejected === "empty" ? "no_text" : "rejected";
  host.metrics.generationsEmpty.inc({ channel: state.name, reason: outcome });
  return outcome;
}

/** Asks the generators in order; the first text wins. "empty" only when every one answered with none. */
async function generate(
  req: GenerateRequest,
  state: ChannelState,
  host: GenerationHost,
): Promise<Generated> {
  const plugins = host.plugins();
  const order = [state.settings.generator];
  if (state.settings.fallback_markov && !order.includes("markov")) order.push("markov");
  let failed = false;
  for (const name of order) {
    const plugin = plugins.generators.get(name);
    if (plugin === undefined) {
      state.lastError = `Generator "${name}" is not loaded; loaded: ${
        [...plugins.generators.keys()].join(", ")
      }`;
      host.log.warn(state.lastError, { channel: state.name, event: "generator_missing" });
      failed = true;
      continue;
    }
    const started = performance.now();
    const outcome = await plugins.call<GenerateResult>(plugin, "generate", req, {
      timeoutMs: host.generatorTimeoutMs,
    });
    const seconds = (performance.now() - started) / 1000;
    if (!outcome.ok) {
      host.metrics.generationDuration.observe({ generator: name, outcome: "error" }, seconds);
      host.generatorFailed(state, name, outcome.error);
      failed = true;
      continue;
    }
    host.generatorSucceeded(name);
    const text = outcome.value?.text.trim();
    host.metrics.generationDuration.observe({ generator: name, outcome: text ? "ok" : "empty" }, seconds);
    if (text) {
      state.generation.add(seconds * 1000);
      return { text, forbidden: outcome.value?.forbidden };
    }
  }
  return failed ? "failed" : "empty";
}

async function checkOutput(
  result: NonNullable<GenerateResult>,
  address: string,
  job: ReplyJob,
  state: ChannelState,
  host: GenerationHost,
  restricted: ReadonlySet<string>,
): Promise<{ ok: true; text: string } | { ok: false; reason: string }> {
  const plugins = host.plugins();
  // The address is added after the filters, so they shape the text alone but leave room for it.
  const settings = { ...state.settings, max_length: Math.max(1, state.settings.max_length - address.length) };
  const input: FilterInput = {
    direction: "out",
    channel: state.name,
    user: job.mention?.user,
    text: result.text,
    settings,
    bot: host.bot,
    forbidden: result.forbidden,
    recent: { bot: state.recentBot.last(10), chat: state.recentChat.last(20) },
  };
  let filtered = await runOutputFilters(plugins, host.metrics, input, "reject");
  // Shaping fits the text into Twitch's UTF-16 limit but never sees the address. Emoji are two units
  // each, so a long emoji-heavy reply can still overflow with it: cut at a word here and let the
  // filters check the text that goes out, instead of the transport cutting mid-word.
  const room = TWITCH_MAX_UNITS - address.length;
  if (filtered.ok && filtered.text.length > room) {
    const text = cutAtWord(filtered.text, settings.max_length, room);
    filtered = await runOutputFilters(plugins, host.metrics, { ...input, text }, "reject");
  }
  if (!filtered.ok) return filtered;
  const text = filtered.text;
  if (text.trim() === "") return { ok: false, reason: "empty" };
  if ([...restricted].some((user) => namesUser(text, user))) {
    host.metrics.linesBlocked.inc({ filter: "restricted_user", direction: "out" });
    return { ok: false, reason: "restricted_user: names a banned or timed-out user" };
  }
  return { ok: true, text };
}

/**
 * Runs a line through the output filters in order; rewrites carry on to the next filter, the first
 * drop ends it (counted per filter). A filter disabled after repeated failures was reported to the
 * operator and no longer vetoes. A filter that fails this call either rejects the line (`"reject"`:
 * it cannot vouch for a generated line) or is passed over (`"skip"`: fixed command replies).
 */
export async function runOutputFilters(
  plugins: PluginSet,
  metrics: Metrics,
  input: FilterInput,
  onFailure: "reject" | "skip",
): Promise<{ ok: true; text: string } | { ok: false; reason: string }> {
  let text = input.text;
  for (const filter of plugins.filtersOut) {
    if (filter.disabled) continue;
    // callNow: the built-in output filters answer synchronously; through `call` each paid a deadline
    // timer and a promise per reply for nothing.
    const called = plugins.callNow<FilterVerdict>(filter, "check", { ...input, text });
    const outcome = called instanceof Promise ? await called : called;
    if (!outcome.ok) {
      if (onFailure === "reject") return { ok: false, reason: `${filter.meta.name}: failed` };
      continue;
    }
    const verdict = outcome.value;
    if (verdict.action === "drop") {
      metrics.linesBlocked.inc({ filter: filter.meta.name, direction: "out" });
      return { ok: false, reason: `${filter.meta.name}: ${verdict.reason}` };
    }
    if (verdict.action === "rewrite") text = verdict.text;
  }
  return { ok: true, text };
}

/** True when `text` names `user` (a login: letters, digits, `_`) as a whole word, with or without `@`. */
function namesUser(text: string, user: string): boolean {
  return new RegExp(`(?:^|[^a-z0-9_])@?${user}(?![a-z0-9_])`, "i").test(text);
}

/**
 * Why the line must not go out any more, or null: the mention it answers was deleted or cleared away
 * by a moderator, or it addresses or names someone banned or timed out now.
 */
function withdrawnBecause(
  line: string,
  job: ReplyJob,
  state: ChannelState,
  now: number,
): "deleted" | "cleared" | "restricted_user" | null {
  if (job.mention) {
    if (state.wasDeleted(job.mention.id)) return "deleted";
    if (job.time < state.clearedAt) return "cleared";
    if (state.isRestricted(job.mention.user, now)) return "restricted_user";
  }
  return state.restrictedUsers(now).some((user) => namesUser(line, user)) ? "restricted_user" : null;
}
