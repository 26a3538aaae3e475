/**
 * A fixed-capacity ring buffer: memory stays bounded however long the bot runs.
 * @module
 */

/** Oldest items fall out when full. */
export class RingBuffer<T> {
  #items: (T | undefined)[];
  #start = 0;
  #length = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError("Ring capacity must be a positive integer");
    }
    this.#items = new Array(capacity);
  }

  get capacity(): number {
    return this.#items.length;
  }

  get length(): number {
    return this.#length;
  }

  /** Appends; returns the item that fell out, if any. */
  push(item: T): T | undefined {
    const cap = this.#items.length;
    if (this.#length < cap) {
      this.#items[(this.#start + this.#length) % cap] = item;
      this.#length++;
      return undefined;
    }
    const out = this.#items[this.#start];
    this.#items[this.#start] = item;
    this.#start = (this.#start + 1) % cap;
    return out;
  }

  /** Items oldest first. */
  toArray(): T[] {
    const out: T[] = [];
    const cap = this.#items.length;
    for (let i = 0; i < this.#length; i++) out.push(this.#items[(this.#start + i) % cap] as T);
    return out;
  }

  /** The newest `n` items, oldest first. */
  last(n: number): T[] {
    const all = this.toArray();
    return n >= all.length ? all : all.slice(all.length - n);
  }

  /** Keeps only items for which `keep` is true; returns how many were removed. */
  retain(keep: (item: T) => boolean): number {
    const kept = this.toArray().filter(keep);
    const removed = this.#length - kept.length;
    if (removed > 0) this.#refill(kept, this.#items.length);
    return removed;
  }

  /** Changes the capacity, keeping the newest items. */
  resize(capacity: number): void {
    if (capacity === this.#items.length) return;
    const all = this.toArray();
    this.#refill(all.slice(Math.max(0, all.length - capacity)), capacity);
  }

  clear(): void {
    this.#refill([], this.#items.length);
  }

  #refill(items: T[], capacity: number): void {
    this.#items = new Array(capacity);
    items.forEach((item, i) => (this.#items[i] = item));
    this.#start = 0;
    this.#length = items.length;
  }
}
