/**
 * Every Prometheus metric clank exports, defined in one place so names stay conventional and label
 * cardinality stays bounded: channels and plugin names are labels, users never are.
 * @module
 */
import client from "prom-client";

/**
 * One plugin call in this many is timed, so `clank_middleware_duration_seconds_count` counts a sample;
 * the Grafana dashboard multiplies by it to estimate all calls (a test keeps the two equal).
 */
export const MIDDLEWARE_TIMING_SAMPLE = 8;

/** The metric set of one bot instance (its own registry, so tests can run several). */
export class Metrics {
  readonly registry: client.Registry = new client.Registry();

  readonly chatLinesReceived: client.Counter<"channel"> = new client.Counter({
    name: "clank_chat_lines_received_total",
    help: "Chat lines received from Twitch",
    labelNames: ["channel"],
    registers: [this.registry],
  });
  readonly linesSent: client.Counter<"channel" | "kind"> = new client.Counter({
    name: "clank_lines_sent_total",
    help: "Lines the bot sent, by kind (mention, spontaneous, command)",
    labelNames: ["channel", "kind"],
    registers: [this.registry],
  });
  readonly linesObserved: client.Counter<"channel" | "kind"> = new client.Counter({
    name: "clank_lines_would_send_total",
    help: "Lines the bot would have sent in observe-only mode",
    labelNames: ["channel", "kind"],
    registers: [this.registry],
  });
  readonly linesBlocked: client.Counter<"filter" | "direction"> = new client.Counter({
    name: "clank_lines_blocked_total",
    help: "Lines dropped by a filter, by filter and direction (in, out)",
    labelNames: ["filter", "direction"],
    registers: [this.registry],
  });
  readonly cooldownSkips: client.Counter<"channel" | "trigger" | "reason"> = new client.Counter({
    name: "clank_cooldown_skips_total",
    help: "Mentions or spontaneous lines skipped by a cooldown gate",
    labelNames: ["channel", "trigger", "reason"],
    registers: [this.registry],
  });
  /**
   * The `reason` label of `clank_cooldown_skips_total`. Reasons come from cooldown plugins, third-party
   * ones included; free text (or a user name in it) would make the series count unbounded.
   */
  readonly cooldownReasons: BoundedLabel = new BoundedLabel(16);
  readonly mentionsDropped: client.Counter<"channel"> = new client.Counter({
    name: "clank_mentions_dropped_total",
    help: "Mentions dropped from a full per-channel queue (oldest first)",
    labelNames: ["channel"],
    registers: [this.registry],
  });
  readonly generationDuration: client.Histogram<"generator" | "outcome"> = new client.Histogram({
    name: "clank_generation_duration_seconds",
    help: "Time to generate one line",
    labelNames: ["generator", "outcome"],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60],
    registers: [this.registry],
  });
  readonly generationsEmpty: client.Counter<"channel" | "reason"> = new client.Counter({
    name: "clank_generations_discarded_total",
    help: "Generations that produced nothing sendable after the retry",
    labelNames: ["channel", "reason"],
    registers: [this.registry],
  });
  readonly ollamaErrors: client.Counter<"kind"> = new client.Counter({
    name: "clank_ollama_errors_total",
    help: "Ollama failures by kind (unreachable, timeout, http, stream, model_missing)",
    labelNames: ["kind"],
    registers: [this.registry],
  });
  readonly middlewareDuration: client.Histogram<"plugin" | "stage"> = new client.Histogram({
    name: "clank_middleware_duration_seconds",
    help: `Time spent in each pipeline stage and plugin call (a 1-in-${MIDDLEWARE_TIMING_SAMPLE} sample of ` +
      "events and calls)",
    labelNames: ["plugin", "stage"],
    buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1],
    registers: [this.registry],
  });
  readonly pluginFailures: client.Counter<"plugin" | "reason"> = new client.Counter({
    name: "clank_plugin_failures_total",
    help: "Plugin calls that threw, timed out or returned malformed data",
    labelNames: ["plugin", "reason"],
    registers: [this.registry],
  });
  readonly pluginsDisabled: client.Gauge<"plugin"> = new client.Gauge({
    name: "clank_plugin_disabled",
    help: "1 when a plugin was disabled after repeated failures",
    labelNames: ["plugin"],
    registers: [this.registry],
  });
  /** Filled at scrape time from {@link Metrics.reportContextSizes}: a set per chat line would cost more. */
  readonly contextSize: client.Gauge<"channel"> = new client.Gauge({
    name: "clank_context_lines",
    help: "Lines in a channel's context",
    labelNames: ["channel"],
    registers: [this.registry],
    collect: () => {
      const source = this.#contextSizes;
      if (source === undefined) return;
      // Reset first: a channel the bot left must not keep reporting its last size.
      this.contextSize.reset();
      for (const [channel, lines] of source()) this.contextSize.set({ channel }, lines);
    },
  });
  #contextSizes: (() => Iterable<[string, number]>) | undefined;
  readonly sendQueueDepth: client.Gauge = new client.Gauge({
    name: "clank_send_queue_depth",
    help: "Lines waiting in the send queue",
    registers: [this.registry],
  });
  readonly sendDropped: client.Counter<"reason"> = new client.Counter({
    name: "clank_send_dropped_total",
    help: "Lines dropped by the send queue (too old, room mode, banned)",
    labelNames: ["reason"],
    registers: [this.registry],
  });
  readonly notices: client.Counter<"msg_id"> = new client.Counter({
    name: "clank_twitch_notices_total",
    help: "Twitch NOTICE messages by msg-id",
    labelNames: ["msg_id"],
    registers: [this.registry],
  });
  readonly ircReconnects: client.Counter = new client.Counter({
    name: "clank_irc_reconnects_total",
    help: "IRC reconnects",
    registers: [this.registry],
  });
  readonly ircConnected: client.Gauge = new client.Gauge({
    name: "clank_irc_connected",
    help: "1 while connected to Twitch IRC",
    registers: [this.registry],
  });
  readonly channelsJoined: client.Gauge = new client.Gauge({
    name: "clank_channels_joined",
    help: "Channels currently joined",
    registers: [this.registry],
  });
  readonly storageErrors: client.Counter<"op"> = new client.Counter({
    name: "clank_storage_errors_total",
    help: "Storage operations that failed (and were retried)",
    labelNames: ["op"],
    registers: [this.registry],
  });
  readonly storageBuffered: client.Gauge = new client.Gauge({
    name: "clank_storage_buffered_writes",
    help: "Writes waiting for the database",
    registers: [this.registry],
  });
  readonly storageUp: client.Gauge = new client.Gauge({
    name: "clank_storage_up",
    help: "1 when the database answered the last write",
    registers: [this.registry],
  });
  readonly tokenRefreshes: client.Counter<"trigger" | "outcome"> = new client.Counter({
    name: "clank_twitch_token_refreshes_total",
    help: "Twitch token refreshes by trigger (scheduled, expired, auth_failure, validation) and outcome " +
      "(ok, rejected, unreachable)",
    labelNames: ["trigger", "outcome"],
    registers: [this.registry],
  });
  readonly tokenValidations: client.Counter<"outcome"> = new client.Counter({
    name: "clank_twitch_token_validations_total",
    help: "Twitch token validations by outcome (valid, invalid, unreachable)",
    labelNames: ["outcome"],
    registers: [this.registry],
  });
  readonly tokenExpiry: client.Gauge = new client.Gauge({
    name: "clank_twitch_token_expiry_timestamp_seconds",
    help: "Unix time the bot's Twitch token expires (0 when it never expires or is unknown)",
    registers: [this.registry],
  });
  readonly storageDropped: client.Counter<"reason"> = new client.Counter({
    name: "clank_storage_dropped_writes_total",
    help: "Chat lines never stored: buffer_full (oldest dropped during an outage) or rejected (bad data)",
    labelNames: ["reason"],
    registers: [this.registry],
  });
  readonly httpRequests: client.Counter<"route" | "method" | "status"> = new client.Counter({
    name: "clank_http_requests_total",
    help: "Control-plane HTTP requests by route pattern, method and status code",
    labelNames: ["route", "method", "status"],
    registers: [this.registry],
  });

  /** Adds Node/Deno process metrics (CPU, memory, event loop lag). */
  /** Where `clank_context_lines` reads each channel's context size when scraped. */
  reportContextSizes(source: () => Iterable<[string, number]>): void {
    this.#contextSizes = source;
  }

  collectProcessMetrics(): void {
    client.collectDefaultMetrics({ register: this.registry, prefix: "clank_" });
    // prom-client names these gauges `_total`, which promtool's lint rejects; the per-type gauges
    // without the suffix carry the same numbers.
    for (const name of ["active_handles_total", "active_requests_total", "active_resources_total"]) {
      this.registry.removeSingleMetric(`clank_nodejs_${name}`);
    }
  }

  /** The Prometheus text exposition. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  /** The content type to serve `text()` with. */
  get contentType(): string {
    return this.registry.contentType;
  }
}

/**
 * Label values from outside the bot's own code, kept to a fixed number of short identifiers: the
 * first `limit` distinct values are used as they are, anything else becomes `other`.
 */
export class BoundedLabel {
  readonly #limit: number;
  readonly #seen = new Set<string>();

  constructor(limit: number) {
    this.#limit = limit;
  }

  /** `value` when it is a short identifier among the first `limit` seen, else `other`. */
  of(value: string): string {
    if (this.#seen.has(value)) return value;
    if (!/^[a-z][a-z0-9_]{0,31}$/.test(value) || this.#seen.size >= this.#limit) return "other";
    this.#seen.add(value);
    return value;
  }
}
