/**
 * Twitch's account-wide PRIVMSG limit as a sliding window.
 *
 * Twitch allows 20 lines per 30 s, or 100 per 30 s when the lines go to channels where the account is
 * a moderator or the broadcaster. The count is per account, so a window that mixes both kinds must
 * stay under the lower limit. Twitch refills its bucket on a schedule the client cannot see, so a
 * sliding window (every instant's last 30 s) is the only way to never cross it.
 * @module
 */

/** The account limits and the safety margin kept below them. */
export interface RateLimits {
  /** Window length in milliseconds (Twitch: 30 000). */
  windowMs: number;
  /** Lines per window when any line in it went to a channel where the bot is not a moderator. */
  lines: number;
  /** Lines per window when every line in it went to channels where the bot is moderator/broadcaster. */
  modLines: number;
  /** Lines kept in reserve below both limits. */
  safetyLines: number;
  /** Extra milliseconds added to the window for clock and network jitter. */
  windowSlackMs: number;
}

/** Twitch's limits for a normal (unverified) account, with a margin of one line and 500 ms. */
export const TWITCH_RATE_LIMITS: RateLimits = {
  windowMs: 30_000,
  lines: 20,
  modLines: 100,
  safetyLines: 1,
  windowSlackMs: 500,
};

interface Sent {
  time: number;
  mod: boolean;
}

/** Sliding window of sent lines. Times are milliseconds from any monotonic clock. */
export class RateWindow {
  #limits: RateLimits;
  #sent: Sent[] = [];

  constructor(limits: RateLimits = TWITCH_RATE_LIMITS) {
    this.#limits = limits;
  }

  get #span(): number {
    return this.#limits.windowMs + this.#limits.windowSlackMs;
  }

  /** Records a line sent at `time` to a channel where the bot is (`mod`) or is not a moderator. */
  record(time: number, mod: boolean): void {
    this.#sent.push({ time, mod });
  }

  /** Lines in the window ending at `now`. */
  count(now: number): number {
    this.#prune(now);
    return this.#sent.length;
  }

  /** The earliest time ≥ `now` at which a line of this kind may go out (assuming nothing else is sent). */
  nextAllowed(now: number, mod: boolean): number {
    this.#prune(now);
    const sent = this.#sent;
    const userCap = this.#limits.lines - this.#limits.safetyLines;
    const modCap = this.#limits.modLines - this.#limits.safetyLines;
    // usersAfter[i]: lines to non-mod channels among sent[i..].
    const usersAfter = new Array<number>(sent.length + 1).fill(0);
    for (let i = sent.length - 1; i >= 0; i--) usersAfter[i] = usersAfter[i + 1]! + (sent[i]!.mod ? 0 : 1);
    const allowed = (first: number) => {
      const n = sent.length - first;
      if (n < userCap) return true;
      return mod && usersAfter[first] === 0 && n < modCap;
    };
    if (allowed(0)) return now;
    // Lines leave the window oldest first; the first departure that makes room is the answer.
    for (let i = 0; i < sent.length; i++) {
      if (allowed(i + 1)) return Math.max(now, sent[i]!.time + this.#span);
    }
    return now;
  }

  #prune(now: number): void {
    const cutoff = now - this.#span;
    let drop = 0;
    while (drop < this.#sent.length && this.#sent[drop]!.time <= cutoff) drop++;
    if (drop > 0) this.#sent.splice(0, drop);
  }
}
