/**
 * A transport that feeds a parsed chat log instead of Twitch: no network, read-only (the bot logs
 * what it would say). Speed 0 replays as fast as the bot can answer, waiting for it to settle after
 * each line; speed N replays at N times the recorded pace.
 * @module
 */
import type { ChatEvent } from "./events.ts";
import type { Transport } from "./transport.ts";

/** Feeds a log. The clock it exposes is the log's time, so cooldowns behave as they did. */
export class ReplayTransport implements Transport {
  readonly readOnly = true;
  #connected = false;
  #joined = new Set<string>();
  #sink: (event: ChatEvent) => void = () => {};
  #events: ChatEvent[];
  #now: number;

  constructor(events: ChatEvent[]) {
    this.#events = events;
    this.#now = events[0]?.time ?? Date.now();
  }

  /** The log time of the event being replayed. */
  now(): number {
    return this.#now;
  }

  get connected(): boolean {
    return this.#connected;
  }

  joined(): string[] {
    return [...this.#joined];
  }

  onEvent(sink: (event: ChatEvent) => void): void {
    this.#sink = sink;
  }

  connect(channels: string[]): Promise<void> {
    this.#connected = true;
    this.#sink({ type: "connected", time: this.#now });
    for (const c of channels) void this.join(c);
    return Promise.resolve();
  }

  disconnect(): Promise<void> {
    this.#connected = false;
    return Promise.resolve();
  }

  join(channel: string): Promise<void> {
    this.#joined.add(channel);
    this.#sink({ type: "join", channel, user: "", self: true, time: this.#now });
    return Promise.resolve();
  }

  part(channel: string): Promise<void> {
    this.#joined.delete(channel);
    this.#sink({ type: "part", channel, user: "", self: true, time: this.#now });
    return Promise.resolve();
  }

  say(): Promise<void> {
    return Promise.reject(new Error("Replay is read-only: lines are printed, not sent"));
  }

  /**
   * Plays every event. `settle` is awaited after each one (speed 0) so the output is deterministic;
   * a tick is sent between lines so time-based behaviour sees time pass.
   */
  async play(options: { speed: number; settle: () => Promise<void> }): Promise<void> {
    let previous = this.#events[0]?.time ?? this.#now;
    for (const event of this.#events) {
      if (options.speed > 0 && event.time > previous) {
        await new Promise((r) => setTimeout(r, (event.time - previous) / options.speed));
      }
      previous = event.time;
      this.#now = event.time;
      this.#sink({ type: "tick", time: event.time });
      this.#sink(event);
      await options.settle();
    }
  }
}
