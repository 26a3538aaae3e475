/**
 * The only storage object the host uses. Writes go into an ordered op log and are flushed in
 * batches (consecutive chat lines become one multi-row insert), so the database never limits chat
 * ingest. While the database is down the log keeps the writes (bounded: the oldest chat lines are
 * dropped first and counted; settings, kv writes and deletes never are, but a queued settings or kv
 * write is replaced by a later write of the same key, so those stay bounded by the number of keys)
 * and retries them in order with exponential backoff. A write is acknowledged (its promise resolves)
 * only once committed — a replaced write once the write that replaced it is committed.
 * @module
 */
import type { ChannelSettings } from "./config_schema.ts";
import { isTimedOut, raceDeadline } from "./deadline.ts";
import { ClankError, describeError, isClankError } from "./errors.ts";
import type { Logger } from "./log.ts";
import type { Metrics } from "./metrics.ts";
import type { ChatRecord, Storage } from "./storage.ts";

/** Timer functions, injectable so tests drive time with fake timers. */
export interface BufferTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
  now(): number;
  /** Lets other work run between two flush groups (default: a zero timer). */
  yield?(): Promise<void>;
}

/** Options of {@link BufferedStorage}. */
export interface BufferOptions {
  log: Logger;
  metrics?: Metrics;
  /** Writes kept while the database is unavailable (`database.write_buffer`, default 50000). */
  maxBuffered?: number;
  /** Buffered writes that trigger a flush before the interval is up (default 500). */
  batchSize?: number;
  /** Most chat lines written in one insert/transaction (default 1000); a backlog drains in groups this big. */
  maxGroup?: number;
  /** Milliseconds a write may wait before a flush (default 250). */
  flushIntervalMs?: number;
  /** First retry delay after a failure, doubled per failure (default 500). */
  backoffBaseMs?: number;
  /** Longest retry delay (default 30000). */
  backoffCapMs?: number;
  /**
   * Failed attempts of the same write, while the database still answers a ping, after which that
   * write is given up as if refused (default 8): it must not hold every later write forever.
   */
  giveUpAfter?: number;
  timers?: BufferTimers;
}

/** What `/readyz` shows about the database. */
export interface StorageStatus {
  writable: boolean;
  buffered: number;
  error: string | null;
}

type OpKind = "save" | "delete" | "deleteUser" | "settings" | "kv";

interface Op {
  seq: number;
  kind: OpKind;
  rec?: ChatRecord;
  /** kv or settings key, for read-your-writes. */
  key?: string;
  run?: (s: Storage) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
  /** Settled (committed, dropped, refused) or replaced by a later write of the same key. */
  dropped: boolean;
  /** Callers of earlier writes of the same key this op replaced; settled with it. */
  replaced?: { resolve: (value: unknown) => void; reject: (err: unknown) => void }[];
}

/** Milliseconds the flush loop may keep the event loop before it yields (keeps reply p99 low). */
const YIELD_AFTER_MS = 3;

/** Settled entries the op log may hold beyond twice its live ones before it is compacted. */
const COMPACT_SLACK = 1024;

const REALTIME: BufferTimers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (id) => clearTimeout(id as number),
  now: () => Date.now(),
  yield: () => new Promise((resolve) => setTimeout(resolve, 0)),
};

/** Batching, outage-tolerant front of a {@link Storage} backend. */
export class BufferedStorage implements Storage {
  readonly kind: Storage["kind"];
  readonly #backend: Storage;
  readonly #log: Logger;
  readonly #metrics: Metrics | undefined;
  readonly #timers: BufferTimers;
  readonly #max: number;
  readonly #batch: number;
  readonly #maxGroup: number;
  readonly #interval: number;
  readonly #backoffBase: number;
  readonly #backoffCap: number;

  #ops: Op[] = [];
  #head = 0;
  #live = 0;
  #nextSeq = 1;
  #inflight = 0;
  #dropCursor = 0;
  /** Ops up to this seq go in groups of at most `#isolateLimit`, after a group was refused for its data. */
  #isolateThrough = 0;
  #isolateLimit = 1;
  /** The op at the head of the log that failed last, and how many times in a row. */
  #headFailSeq = 0;
  #headFailures = 0;
  readonly #giveUpAfter: number;

  #initialised = false;
  #available = true;
  #lastError: string | null = null;
  #attempt = 0;
  #downSince = 0;
  #dropped = 0;
  #droppedThisOutage = 0;
  #running = false;
  #closing = false;
  #closed = false;
  #flushTimer: unknown = undefined;
  /** The zero-delay timer `#startNow` armed (the flush timer while it is the same one). */
  #flushNowTimer: unknown = undefined;
  #retryTimer: unknown = undefined;
  #waiters: { through: number; resolve: () => void }[] = [];
  #idle: (() => void)[] = [];

  // Read-your-writes for small values: a kvGet/getSettings right after a write sees it before the flush.
  #pendingKv = new Map<string, { seq: number; value: string | null }>();
  #pendingSettings = new Map<string, { seq: number; value: Partial<ChannelSettings> | null }>();
  /** The queued (not in-flight) settings or kv op of each key, which a later write of the key replaces. */
  #queuedByKey = new Map<string, Op>();

  constructor(backend: Storage, options: BufferOptions) {
    this.kind = backend.kind;
    this.#backend = backend;
    this.#log = options.log;
    this.#metrics = options.metrics;
    this.#timers = options.timers ?? REALTIME;
    this.#max = Math.max(1, options.maxBuffered ?? 50_000);
    this.#batch = Math.max(1, options.batchSize ?? 500);
    this.#maxGroup = Math.max(1, options.maxGroup ?? 1000);
    this.#interval = Math.max(0, options.flushIntervalMs ?? 250);
    this.#backoffBase = Math.max(1, options.backoffBaseMs ?? 500);
    this.#backoffCap = Math.max(this.#backoffBase, options.backoffCapMs ?? 30_000);
    this.#giveUpAfter = Math.max(1, options.giveUpAfter ?? 8);
  }

  /** The wrapped backend (maintenance and tools that need backend-specific calls). */
  get backend(): Storage {
    return this.#backend;
  }

  /** Writes waiting for the database. */
  get buffered(): number {
    return this.#live;
  }

  /** Entries of the op log in memory, settled ones not yet compacted away included (tests, diagnostics). */
  get logLength(): number {
    return this.#ops.length;
  }

  /** Chat lines dropped since start (buffer full during an outage, or refused by the database). */
  get dropped(): number {
    return this.#dropped;
  }

  /** Readiness of the database for `/readyz`. */
  status(): StorageStatus {
    return { writable: this.#initialised && this.#available, buffered: this.#live, error: this.#lastError };
  }

  /**
   * Connects and migrates. Never throws: when the database is unreachable the bot starts anyway,
   * writes are buffered and the connection is retried with backoff (see `status()`).
   */
  async init(): Promise<void> {
    if (!this.#initialised) await this.#connect();
  }

  /** Connects and migrates the backend; false (the failure handled and retried) when it cannot. */
  async #connect(): Promise<boolean> {
    try {
      await this.#backend.init();
      this.#initialised = true;
      this.#recovered();
      return true;
    } catch (err) {
      this.#failed(err, "init");
      return false;
    }
  }

  // ---- writes ----

  /** Queues one chat or bot line; resolves true once committed, false when it was dropped. Never rejects. */
  saveMessage(rec: ChatRecord): Promise<boolean> {
    return this.#enqueue<boolean>("save", undefined, rec);
  }

  /** Queues several lines; resolves once each is committed or dropped. */
  async saveMessages(records: ChatRecord[]): Promise<void> {
    await Promise.all(records.map((r) => this.saveMessage(r)));
  }

  /** Queues a deletion (after every line queued before it). */
  deleteMessage(channel: string, id: string): Promise<void> {
    return this.#enqueue<void>("delete", (s) => s.deleteMessage(channel, id));
  }

  /** Queues deleting a user's lines; resolves with how many were deleted. */
  deleteUserMessages(channel: string, user: string): Promise<number> {
    return this.#enqueue<number>("deleteUser", (s) => s.deleteUserMessages(channel, user));
  }

  /** Queues replacing a channel's overrides (`null` resets them). */
  setSettings(channel: string, overrides: Partial<ChannelSettings> | null): Promise<void> {
    const value = overrides === null ? null : structuredClone(overrides);
    return this.#enqueue<void>("settings", (s) => s.setSettings(channel, value), undefined, channel, value);
  }

  /** Queues a kv write (`null` deletes). */
  kvSet(namespace: string, key: string, value: string | null): Promise<void> {
    return this.#enqueue<void>(
      "kv",
      (s) => s.kvSet(namespace, key, value),
      undefined,
      kvKey(namespace, key),
      value,
    );
  }

  // ---- reads and housekeeping: straight to the database ----

  schemaVersion(): Promise<number> {
    return this.#backend.schemaVersion();
  }

  /** Committed lines only; lines still in the buffer are not included. */
  recentMessages(channel: string, limit: number): Promise<ChatRecord[]> {
    return this.#backend.recentMessages(channel, limit);
  }

  async getSettings(channel: string): Promise<Partial<ChannelSettings>> {
    const pending = this.#pendingSettings.get(channel);
    if (pending) return pending.value === null ? {} : structuredClone(pending.value);
    return await this.#backend.getSettings(channel);
  }

  async allSettings(): Promise<Record<string, Partial<ChannelSettings>>> {
    const all = await this.#backend.allSettings();
    for (const [channel, p] of this.#pendingSettings) {
      if (p.value === null) delete all[channel];
      else all[channel] = structuredClone(p.value);
    }
    return all;
  }

  async kvGet(namespace: string, key: string): Promise<string | undefined> {
    const pending = this.#pendingKv.get(kvKey(namespace, key));
    if (pending) return pending.value ?? undefined;
    return await this.#backend.kvGet(namespace, key);
  }

  prune(before: number): Promise<number> {
    return this.#backend.prune(before);
  }

  maintain(): Promise<void> {
    return this.#backend.maintain();
  }

  ping(): Promise<void> {
    return this.#backend.ping();
  }

  /** Resolves once every write queued before the call is committed or dropped. */
  flush(): Promise<void> {
    const through = this.#nextSeq - 1;
    if (this.#settledThrough(through)) return Promise.resolve();
    const done = new Promise<void>((resolve) => this.#waiters.push({ through, resolve }));
    if (this.#retryTimer === undefined && !this.#running) {
      if (this.#flushTimer !== undefined) this.#timers.clearTimeout(this.#flushTimer);
      this.#flushTimer = undefined;
      void this.#drain();
    }
    return done;
  }

  /**
   * Flushes, then closes the backend. Writes still unconfirmed after `timeoutMs` (database down)
   * are logged as lost; later writes are refused.
   */
  async close(timeoutMs = 10_000): Promise<void> {
    if (this.#closed) return;
    this.#closing = true;
    if (this.#retryTimer !== undefined) {
      // Shutting down: try once more right away instead of waiting out the backoff.
      this.#timers.clearTimeout(this.#retryTimer);
      this.#retryTimer = undefined;
    }
    const timedOut = isTimedOut(await raceDeadline(this.flush(), timeoutMs, this.#timers));
    this.#closed = true;
    this.#clearTimers();
    if (this.#running) await new Promise<void>((resolve) => this.#idle.push(resolve));
    if (timedOut && this.#live > 0) {
      this.#log.error("Database unavailable at shutdown; buffered writes were not stored", {
        lost: this.#live,
        error: this.#lastError,
      });
    }
    this.#abandonAll();
    await this.#backend.close();
  }

  // ---- the op log ----

  #enqueue<T>(
    kind: OpKind,
    run?: (s: Storage) => Promise<unknown>,
    rec?: ChatRecord,
    key?: string,
    pendingValue?: unknown,
  ): Promise<T> {
    if (this.#closed) {
      if (kind === "save") return Promise.resolve(false as T);
      return handled(
        Promise.reject(new ClankError("STORAGE_UNAVAILABLE", "Storage is closed; the write was not stored")),
      );
    }
    let resolve!: (v: unknown) => void;
    let reject!: (e: unknown) => void;
    const promise = new Promise<T>((res, rej) => {
      resolve = res as (v: unknown) => void;
      reject = rej;
    });
    const seq = this.#nextSeq++;
    const op: Op = { seq, kind, run, rec, key, resolve, reject, dropped: false };
    this.#ops.push(op);
    if (key !== undefined) this.#replaceQueued(op);
    if (key !== undefined && kind === "kv") {
      this.#pendingKv.set(key, { seq, value: pendingValue as string | null });
    }
    if (key !== undefined && kind === "settings") {
      this.#pendingSettings.set(key, { seq, value: pendingValue as Partial<ChannelSettings> | null });
    }
    this.#live++;
    if (this.#live > this.#max) this.#dropOldestLine();
    // Settled ops behind a write that cannot be dropped (a delete, a kv write at the head) stay in
    // the array until compacted; without this a long outage would grow it by every dropped line.
    if (this.#ops.length - this.#head > 2 * this.#live + COMPACT_SLACK) this.#compact();
    this.#metrics?.storageBuffered.set(this.#live);
    this.#schedule();
    return kind === "save" ? promise : handled(promise);
  }

  #schedule(): void {
    if (this.#running || this.#retryTimer !== undefined) return;
    if (this.#live >= this.#batch) {
      // Armed once per burst: re-arming on every write past the batch size cost a timer per chat line.
      if (this.#flushTimer === undefined || this.#flushTimer !== this.#flushNowTimer) this.#startNow();
    } else if (this.#flushTimer === undefined) {
      this.#flushTimer = this.#timers.setTimeout(() => {
        this.#flushTimer = undefined;
        void this.#drain();
      }, this.#interval);
    }
  }

  #startNow(): void {
    if (this.#flushTimer !== undefined) this.#timers.clearTimeout(this.#flushTimer);
    // A zero timer, not a direct call, so a caller's saveMessage never runs a database write inline.
    this.#flushTimer = this.#timers.setTimeout(() => {
      this.#flushTimer = undefined;
      void this.#drain();
    }, 0);
    this.#flushNowTimer = this.#flushTimer;
  }

  /**
   * A settings or kv write replaces the queued write of the same key: only the latest value matters,
   * and it is written at the later position, after everything queued before it. The replaced
   * write's caller is settled with the new op. An op already in flight is not replaced.
   */
  #replaceQueued(op: Op): void {
    const slot = `${op.kind}\u0000${op.key}`;
    const old = this.#queuedByKey.get(slot);
    this.#queuedByKey.set(slot, op);
    if (old === undefined || old.dropped) return;
    old.dropped = true;
    this.#live--;
    op.replaced = [...(old.replaced ?? []), { resolve: old.resolve, reject: old.reject }];
    // A flush() that waited for the old write now waits for the write that carries its value.
    for (const w of this.#waiters) if (w.through >= old.seq) w.through = Math.max(w.through, op.seq);
  }

  /** The op leaves the queue (taken into flight or settled): later writes of its key no longer replace it. */
  #unqueue(op: Op): void {
    if (op.key === undefined) return;
    const slot = `${op.kind}\u0000${op.key}`;
    if (this.#queuedByKey.get(slot) === op) this.#queuedByKey.delete(slot);
  }

  /** A write that failed in flight is queued again; a later write of its key may replace it. */
  #requeue(op: Op): void {
    if (op.key === undefined || op.dropped) return;
    const slot = `${op.kind}\u0000${op.key}`;
    if (!this.#queuedByKey.has(slot)) this.#queuedByKey.set(slot, op);
  }

  /** Drops settled ops from the array, keeping the head and the in-flight group where they are. */
  #compact(): void {
    const ops = this.#ops;
    const start = this.#head + this.#inflight;
    const kept = ops.slice(this.#head, start);
    let cursor = -1;
    for (let i = start; i < ops.length; i++) {
      if (cursor < 0 && i >= this.#dropCursor) cursor = kept.length;
      if (!ops[i]!.dropped) kept.push(ops[i]!);
    }
    this.#dropCursor = cursor < 0 ? kept.length : cursor;
    this.#ops = kept;
    this.#head = 0;
  }

  #dropOldestLine(): void {
    let i = Math.max(this.#dropCursor, this.#head + this.#inflight);
    const ops = this.#ops;
    while (i < ops.length && (ops[i]!.kind !== "save" || ops[i]!.dropped)) i++;
    this.#dropCursor = i;
    const op = ops[i];
    if (!op) return; // Only settings, kv writes and deletes are waiting: those are never dropped.
    op.dropped = true;
    this.#live--;
    this.#dropped++;
    if (this.#droppedThisOutage++ === 0) {
      this.#log.warn("Write buffer full; dropping the oldest chat lines until the database is back", {
        limit: this.#max,
      });
    }
    this.#metrics?.storageDropped.inc({ reason: "buffer_full" });
    op.resolve(false);
  }

  /** Skips dropped ops at the head and compacts the array now and then. */
  #trimHead(): void {
    const ops = this.#ops;
    while (this.#head < ops.length && ops[this.#head]!.dropped) this.#head++;
    if (this.#head === ops.length) {
      this.#ops = [];
      this.#head = 0;
      this.#dropCursor = 0;
    } else if (this.#head > 4096 && this.#head * 2 > ops.length) {
      this.#ops = ops.slice(this.#head);
      this.#dropCursor = Math.max(0, this.#dropCursor - this.#head);
      this.#head = 0;
    }
  }

  #settledThrough(through: number): boolean {
    this.#trimHead();
    const first = this.#ops[this.#head];
    return first === undefined || first.seq > through;
  }

  #wakeWaiters(): void {
    if (this.#waiters.length === 0) return;
    this.#waiters = this.#waiters.filter((w) => {
      if (!this.#settledThrough(w.through)) return true;
      w.resolve();
      return false;
    });
  }

  /** The next group: consecutive chat lines (one insert), or one other op. */
  #nextGroup(): Op[] {
    this.#trimHead();
    const ops = this.#ops;
    const first = ops[this.#head];
    if (!first) return [];
    if (first.kind !== "save") {
      this.#inflight = 1;
      this.#unqueue(first);
      return [first];
    }
    const limit = first.seq <= this.#isolateThrough ? this.#isolateLimit : this.#maxGroup;
    const group: Op[] = [];
    let i = this.#head;
    for (; i < ops.length && group.length < limit; i++) {
      const op = ops[i]!;
      if (op.dropped) continue;
      if (op.kind !== "save") break;
      group.push(op);
    }
    this.#inflight = i - this.#head;
    return group;
  }

  async #drain(): Promise<void> {
    if (this.#running || this.#closed) return;
    this.#running = true;
    try {
      if (!this.#initialised && !(await this.#connect())) return;
      let sliceStart = performance.now();
      for (;;) {
        const group = this.#nextGroup();
        if (group.length === 0) break;
        const first = group[0]!;
        let result: unknown;
        try {
          result = first.kind === "save"
            ? await this.#backend.saveMessages(group.map((op) => op.rec!))
            : await first.run!(this.#backend);
        } catch (err) {
          this.#inflight = 0;
          for (const op of group) this.#requeue(op);
          if (isClankError(err, "STORAGE_FAILED")) {
            this.#refused(group, err);
            continue;
          }
          const poison = await this.#keepsFailing(group, err);
          if (poison) {
            this.#refused(group, poison);
            continue;
          }
          this.#failed(err, first.kind);
          return;
        }
        this.#inflight = 0;
        this.#headFailures = 0;
        this.#commit(group, result);
        // Long backlogs (after an outage) must not starve chat ingest of the event loop, but a zero
        // timer costs a millisecond or more: yield once per slice of work, not after every group
        // (kv writes between chat lines make many small groups; see bench/ingest.ts).
        if (this.#live > 0 && performance.now() - sliceStart >= YIELD_AFTER_MS) {
          await (this.#timers.yield?.() ?? Promise.resolve());
          sliceStart = performance.now();
        }
        if (this.#closed) break;
      }
    } finally {
      this.#running = false;
      this.#metrics?.storageBuffered.set(this.#live);
      this.#wakeWaiters();
      for (const resolve of this.#idle.splice(0)) resolve();
      if (!this.#closed && this.#live > 0) {
        if (this.#waiters.length > 0 && this.#retryTimer === undefined) {
          queueMicrotask(() => void this.#drain());
        } else this.#schedule();
      }
    }
  }

  #commit(group: Op[], result: unknown): void {
    for (const op of group) {
      this.#settleKeys(op);
      this.#unqueue(op);
      op.resolve(op.kind === "save" ? true : result);
      for (const r of op.replaced ?? []) r.resolve(result);
    }
    this.#removeFront(group);
    if (!this.#available) this.#recovered();
    this.#wakeWaiters();
  }

  /** Removes a settled group from the head (dropped ops inside it were already settled). */
  #removeFront(group: Op[]): void {
    const last = group[group.length - 1]!;
    const ops = this.#ops;
    while (this.#head < ops.length && ops[this.#head]!.seq <= last.seq) {
      const op = ops[this.#head]!;
      if (!op.dropped) this.#live--;
      op.dropped = true;
      this.#head++;
    }
    this.#trimHead();
  }

  /** Forgets the read-your-writes value once the database has it (unless a newer write is queued). */
  #settleKeys(op: Op): void {
    if (op.key === undefined) return;
    const map: Map<string, { seq: number }> = op.kind === "kv" ? this.#pendingKv : this.#pendingSettings;
    if (map.get(op.key)?.seq === op.seq) map.delete(op.key);
  }

  /**
   * After the same head op failed `giveUpAfter` times in a row, asks the database whether it answers
   * at all: when it does, the op itself is what fails (a statement the server drops the connection
   * over, say), and it is returned as refused so it stops holding every later write. While the
   * database is really down nothing is given up.
   */
  async #keepsFailing(group: Op[], err: unknown): Promise<ClankError | undefined> {
    const first = group[0]!;
    if (this.#headFailSeq !== first.seq) {
      this.#headFailSeq = first.seq;
      this.#headFailures = 0;
    }
    if (++this.#headFailures < this.#giveUpAfter) return undefined;
    try {
      await this.#backend.ping();
    } catch {
      return undefined;
    }
    this.#log.error(
      group.length > 1
        ? "A group of chat lines kept failing while the database answers; splitting it"
        : "A write kept failing while the database answers; giving up on it",
      {
        op: first.kind,
        ...(first.kind === "save" ? { lines: group.length } : {}),
        attempts: this.#headFailures,
        error: this.#redact(err),
      },
    );
    this.#headFailures = 0;
    return new ClankError(
      "STORAGE_FAILED",
      `The write kept failing while the database answers, ${this.#giveUpAfter} times; ` +
        `it is not stored: ${describeError(err)}`,
    );
  }

  /**
   * The database refused the data itself: halve the group (so one bad line costs a few statements,
   * not one per line), and give up on a single op.
   */
  #refused(group: Op[], err: ClankError): void {
    const first = group[0]!;
    this.#metrics?.storageErrors.inc({ op: first.kind });
    if (group.length > 1) {
      this.#isolateThrough = Math.max(this.#isolateThrough, group[group.length - 1]!.seq);
      this.#isolateLimit = Math.max(1, Math.ceil(group.length / 2));
      return;
    }
    this.#log.error("Database refused a write; it is not stored", {
      op: first.kind,
      error: this.#redact(err),
    });
    this.#settleKeys(first);
    this.#unqueue(first);
    if (first.kind === "save") {
      this.#dropped++;
      this.#metrics?.storageDropped.inc({ reason: "rejected" });
      first.resolve(false);
    } else {
      first.reject(err);
      for (const r of first.replaced ?? []) r.reject(err);
    }
    this.#removeFront(group);
    this.#wakeWaiters();
  }

  /** The database is unavailable: keep everything and retry with backoff. */
  #failed(err: unknown, op: string): void {
    this.#attempt++;
    this.#lastError = this.#redact(err);
    this.#metrics?.storageErrors.inc({ op });
    this.#metrics?.storageUp.set(0);
    if (this.#available) {
      this.#available = false;
      this.#downSince = this.#timers.now();
      this.#log.warn("Database unavailable; buffering writes and retrying", {
        op,
        error: this.#lastError,
        buffered: this.#live,
      });
    } else {
      this.#log.debug("Database still unavailable", { op, attempt: this.#attempt, error: this.#lastError });
    }
    if (this.#closed) return;
    const delay = Math.min(this.#backoffCap, this.#backoffBase * 2 ** Math.min(this.#attempt - 1, 30));
    if (this.#retryTimer !== undefined) this.#timers.clearTimeout(this.#retryTimer);
    this.#retryTimer = this.#timers.setTimeout(() => {
      this.#retryTimer = undefined;
      void this.#drain();
    }, this.#closing ? Math.min(delay, 1000) : delay);
  }

  #recovered(): void {
    if (!this.#available) {
      this.#log.info("Database available again; writing buffered writes", {
        downSeconds: Math.round((this.#timers.now() - this.#downSince) / 1000),
        buffered: this.#live,
        dropped: this.#droppedThisOutage,
      });
    }
    this.#available = true;
    this.#attempt = 0;
    this.#lastError = null;
    this.#droppedThisOutage = 0;
    this.#metrics?.storageUp.set(1);
  }

  #redact(err: unknown): string {
    return this.#log.redact(describeError(err));
  }

  #clearTimers(): void {
    if (this.#flushTimer !== undefined) this.#timers.clearTimeout(this.#flushTimer);
    if (this.#retryTimer !== undefined) this.#timers.clearTimeout(this.#retryTimer);
    this.#flushTimer = undefined;
    this.#retryTimer = undefined;
  }

  /** At close: settle what could not be written so no caller waits forever. */
  #abandonAll(): void {
    const err = new ClankError("STORAGE_UNAVAILABLE", "Storage closed before the write was stored");
    for (let i = this.#head; i < this.#ops.length; i++) {
      const op = this.#ops[i]!;
      if (op.dropped) continue;
      if (op.kind === "save") op.resolve(false);
      else op.reject(err);
      for (const r of op.replaced ?? []) r.reject(err);
    }
    this.#ops = [];
    this.#queuedByKey.clear();
    this.#head = 0;
    this.#live = 0;
    this.#dropCursor = 0;
    this.#metrics?.storageBuffered.set(0);
    for (const w of this.#waiters.splice(0)) w.resolve();
  }
}

function kvKey(namespace: string, key: string): string {
  return `${namespace}\u0000${key}`;
}

/** Marks a promise as handled (a fire-and-forget caller must not crash the process) and returns it. */
function handled<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {});
  return p;
}
