/**
 * A storage backend for write-buffer tests: a real in-memory SQLite underneath, with switches to
 * make it unavailable (every call throws STORAGE_UNAVAILABLE) or to refuse chosen lines
 * (STORAGE_FAILED), and a log of the writes it committed, in order.
 * @module
 */
import type { ChannelSettings } from "../../core/config_schema.ts";
import { ClankError } from "../../core/errors.ts";
import type { ChatRecord, Storage } from "../../core/storage.ts";
import { SqliteStorage } from "../../core/storage_sqlite.ts";

/** In-memory SQLite that can fail on demand. */
export class FlakyStorage implements Storage {
  readonly kind = "sqlite" as const;
  readonly inner: SqliteStorage = new SqliteStorage(":memory:");
  /** While true every call fails as if the database were unreachable. */
  down = false;
  /** Line ids the database refuses (as if the data were invalid). */
  refuse: Set<string> = new Set();
  /**
   * Writes that fail as if the connection broke (STORAGE_UNAVAILABLE) while every other call works:
   * `kv:<key>` or `settings:<channel>`.
   */
  failing: Set<string> = new Set();
  /** Committed writes in order: `save:<id>`, `delete:<id>`, `deleteUser:<user>`, `settings:<ch>`, `kv:<key>`. */
  committed: string[] = [];
  /** Sizes of the saveMessages calls that committed. */
  batches: number[] = [];
  /** Calls that failed because the database was down. */
  failures = 0;

  #check(): void {
    if (this.down) {
      this.failures++;
      throw new ClankError("STORAGE_UNAVAILABLE", "Fake database is down (connection refused)");
    }
  }

  async init(): Promise<void> {
    this.#check();
    await this.inner.init();
  }
  schemaVersion(): Promise<number> {
    return this.inner.schemaVersion();
  }
  async saveMessages(records: ChatRecord[]): Promise<void> {
    this.#check();
    const bad = records.find((r) => this.refuse.has(r.id));
    if (bad) throw new ClankError("STORAGE_FAILED", `Fake database refuses line ${bad.id}`);
    await this.inner.saveMessages(records);
    this.batches.push(records.length);
    for (const r of records) this.committed.push(`save:${r.id}`);
  }
  recentMessages(channel: string, limit: number): Promise<ChatRecord[]> {
    this.#check();
    return this.inner.recentMessages(channel, limit);
  }
  async deleteMessage(channel: string, id: string): Promise<void> {
    this.#check();
    await this.inner.deleteMessage(channel, id);
    this.committed.push(`delete:${id}`);
  }
  async deleteUserMessages(channel: string, user: string): Promise<number> {
    this.#check();
    const n = await this.inner.deleteUserMessages(channel, user);
    this.committed.push(`deleteUser:${user}`);
    return n;
  }
  getSettings(channel: string): Promise<Partial<ChannelSettings>> {
    this.#check();
    return this.inner.getSettings(channel);
  }
  async setSettings(channel: string, overrides: Partial<ChannelSettings> | null): Promise<void> {
    this.#check();
    if (this.failing.has(`settings:${channel}`)) {
      throw new ClankError("STORAGE_UNAVAILABLE", `Fake connection reset writing settings of ${channel}`);
    }
    if (overrides && this.refuse.has(`settings:${channel}`)) {
      throw new ClankError("STORAGE_FAILED", `Fake database refuses settings of ${channel}`);
    }
    await this.inner.setSettings(channel, overrides);
    this.committed.push(`settings:${channel}`);
  }
  allSettings(): Promise<Record<string, Partial<ChannelSettings>>> {
    this.#check();
    return this.inner.allSettings();
  }
  kvGet(namespace: string, key: string): Promise<string | undefined> {
    this.#check();
    return this.inner.kvGet(namespace, key);
  }
  async kvSet(namespace: string, key: string, value: string | null): Promise<void> {
    this.#check();
    if (this.failing.has(`kv:${key}`)) {
      throw new ClankError("STORAGE_UNAVAILABLE", `Fake connection reset writing kv ${key}`);
    }
    await this.inner.kvSet(namespace, key, value);
    this.committed.push(`kv:${key}`);
  }
  prune(before: number): Promise<number> {
    this.#check();
    return this.inner.prune(before);
  }
  maintain(): Promise<void> {
    this.#check();
    return this.inner.maintain();
  }
  ping(): Promise<void> {
    this.#check();
    return this.inner.ping();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}
