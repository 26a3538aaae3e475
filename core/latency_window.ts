/**
 * A bounded window of recent durations for average and p95, without unbounded growth.
 * @module
 */

/** Keeps the last `size` samples in a ring. */
export class LatencyWindow {
  #samples: number[] = [];
  #next = 0;
  readonly size: number;

  constructor(size = 200) {
    this.size = size;
  }

  /** Adds one duration in milliseconds. */
  add(ms: number): void {
    if (this.#samples.length < this.size) this.#samples.push(ms);
    else this.#samples[this.#next] = ms;
    this.#next = (this.#next + 1) % this.size;
  }

  /** Samples currently held. */
  get count(): number {
    return this.#samples.length;
  }

  /** Mean in ms, or null with no samples. */
  average(): number | null {
    if (this.#samples.length === 0) return null;
    return this.#samples.reduce((a, b) => a + b, 0) / this.#samples.length;
  }

  /** Nearest-rank percentile (0–100) in ms, or null with no samples. */
  percentile(p: number): number | null {
    if (this.#samples.length === 0) return null;
    const sorted = [...this.#samples].sort((a, b) => a - b);
    const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
    return sorted[rank]!;
  }
}
