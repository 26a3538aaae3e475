/**
 * One channel's generation queue: one job runs at a time; mentions that arrive meanwhile wait in a
 * small bounded queue (oldest dropped first), and at most one spontaneous line is pending.
 * @module
 */

/** A queued generation. */
export interface ReplyJob {
  trigger: "mention" | "spontaneous";
  channel: string;
  /** When the trigger happened (ms). */
  time: number;
  mention?: { id: string; user: string; displayName: string; text: string };
}

/** Serializes generations of one channel. */
export class ReplyQueue {
  #mentions: ReplyJob[] = [];
  #spontaneous: ReplyJob | null = null;
  #running: Promise<void> | null = null;
  #run: (job: ReplyJob) => Promise<void>;
  #onDrop: (job: ReplyJob) => void;

  constructor(run: (job: ReplyJob) => Promise<void>, onDrop: (job: ReplyJob) => void) {
    this.#run = run;
    this.#onDrop = onDrop;
  }

  /** True while a job runs. */
  get busy(): boolean {
    return this.#running !== null;
  }

  /** Jobs waiting (not counting the running one). */
  get waiting(): number {
    return this.#mentions.length + (this.#spontaneous ? 1 : 0);
  }

  /** True when a spontaneous job is waiting or running. */
  get hasSpontaneous(): boolean {
    return this.#spontaneous !== null;
  }

  /** Queues a mention; beyond `limit` waiting mentions the oldest is dropped. */
  pushMention(job: ReplyJob, limit: number): void {
    this.#mentions.push(job);
    while (this.#mentions.length > limit + (this.busy ? 0 : 1)) this.#onDrop(this.#mentions.shift()!);
    this.#kick();
  }

  /** Queues a spontaneous line unless one is already pending. */
  pushSpontaneous(job: ReplyJob): boolean {
    if (this.#spontaneous !== null) return false;
    this.#spontaneous = job;
    this.#kick();
    return true;
  }

  /** Drops waiting jobs that match (e.g. mentions of a user who was just banned). */
  discard(match: (job: ReplyJob) => boolean): number {
    const before = this.#mentions.length;
    this.#mentions = this.#mentions.filter((j) => !match(j));
    return before - this.#mentions.length;
  }

  /** Resolves when nothing runs or waits. */
  async idle(): Promise<void> {
    while (this.#running !== null) await this.#running;
  }

  #kick(): void {
    if (this.#running !== null) return;
    this.#running = this.#drain().finally(() => (this.#running = null));
  }

  async #drain(): Promise<void> {
    for (;;) {
      // A mention waits for a human; it goes before a spontaneous line.
      const job = this.#mentions.shift() ?? this.#spontaneous;
      if (job === undefined || job === null) return;
      try {
        await this.#run(job);
      } finally {
        if (job === this.#spontaneous) this.#spontaneous = null;
      }
    }
  }
}
