/**
 * A remembered computation per key with a bound: once `max` keys are held the memo starts over,
 * which keeps memory flat without an LRU's bookkeeping (recent keys come back at once). For values
 * that are pure functions of their key: interned names, prepared lines, token estimates, canaries.
 * @module
 */

/** Remembers `compute(key)` for up to `max` keys at a time. */
export class BoundedMemo<K, V> {
  readonly #values = new Map<K, V>();
  readonly #max: number;
  readonly #compute: (key: K) => V;

  constructor(max: number, compute: (key: K) => V) {
    this.#max = max;
    this.#compute = compute;
  }

  /** The value of `key`, computed on first use (or after the memo started over). */
  get(key: K): V {
    let value = this.#values.get(key);
    if (value === undefined) {
      value = this.#compute(key);
      if (this.#values.size >= this.#max) this.#values.clear();
      this.#values.set(key, value);
    }
    return value;
  }

  /** Keys held now. */
  get size(): number {
    return this.#values.size;
  }
}
