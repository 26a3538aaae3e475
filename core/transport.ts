/**
 * The chat transport interface: Twitch IRC in production (`twitch_transport.ts`), a replay feed
 * (`replay_transport.ts`) without network.
 * @module
 */
import type { ChatEvent } from "./events.ts";

/** A connection to chat. */
export interface Transport {
  /** True when the transport cannot send (no token): the bot observes and logs what it would say. */
  readonly readOnly: boolean;
  /** True while connected. */
  readonly connected: boolean;
  /** Channels currently joined. */
  joined(): string[];
  /**
   * Channels left again because the account may not be in more of them (Twitch: 100 where it is not
   * a moderator); they are not wanted any more until joined again.
   */
  parked?(): string[];
  /** Connects and joins the initial channels; resolves once connected. */
  connect(channels: string[]): Promise<void>;
  disconnect(): Promise<void>;
  join(channel: string): Promise<void>;
  part(channel: string): Promise<void>;
  /** Sends one chat line. Rate limits are the send queue's job, not the transport's. */
  say(channel: string, text: string): Promise<void>;
  /** Registers the single event sink. */
  onEvent(sink: (event: ChatEvent) => void): void;
}
