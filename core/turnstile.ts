/**
 * Keeps the order-sensitive part of event handling in arrival order while the rest runs
 * concurrently: filters of many events are in flight at once (pipelined to sandboxed plugins), but
 * history, commands and triggers see a channel's lines in the order Twitch sent them.
 * @module
 */

/** A ticket queue: take a ticket on arrival, `enter` waits for your turn, `leave` passes it on. */
export class Turnstile {
  #next = 0;
  #serving = 0;
  #left = new Set<number>();
  #waiters = new Map<number, () => void>();

  /** Takes the next ticket; call in arrival order. */
  ticket(): number {
    return this.#next++;
  }

  /** True when every earlier ticket has left: the holder may go on without waiting. */
  isTurn(ticket: number): boolean {
    return ticket === this.#serving;
  }

  /** Resolves when every earlier ticket has left. */
  enter(ticket: number): Promise<void> {
    if (ticket === this.#serving) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.set(ticket, resolve));
  }

  /** Marks a ticket done (whether or not it entered); later tickets may go. */
  leave(ticket: number): void {
    // In order is the usual case (every line of a channel with synchronous plugins): no set to touch.
    if (ticket === this.#serving) this.#serving++;
    else if (ticket > this.#serving) this.#left.add(ticket);
    while (this.#left.size > 0 && this.#left.has(this.#serving)) {
      this.#left.delete(this.#serving);
      this.#serving++;
    }
    if (this.#waiters.size === 0) return;
    const wake = this.#waiters.get(this.#serving);
    if (wake !== undefined) {
      this.#waiters.delete(this.#serving);
      wake();
    }
  }

  /** Tickets taken but not yet left. */
  get pending(): number {
    return this.#next - this.#serving;
  }
}
