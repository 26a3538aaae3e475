/**
 * A minimal in-memory kv standing in for the storage backend in token tests.
 * @module
 */
import type { SecretKv } from "../../core/token_store.ts";

/** Keys are `namespace/key`; `data` is open so tests can look at (or damage) what was stored. */
export class MemoryKv implements SecretKv {
  readonly data = new Map<string, string>();
  kvGet(namespace: string, key: string): Promise<string | undefined> {
    return Promise.resolve(this.data.get(`${namespace}/${key}`));
  }
  kvSet(namespace: string, key: string, value: string | null): Promise<void> {
    if (value === null) this.data.delete(`${namespace}/${key}`);
    else this.data.set(`${namespace}/${key}`, value);
    return Promise.resolve();
  }
}
