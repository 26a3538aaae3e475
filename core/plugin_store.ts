/**
 * Plugin key-value storage over the database's kv table: namespace `plugin:<name>`, JSON values.
 * @module
 */
import type { PluginStoreBackend } from "./inprocess_plugin.ts";

/** The kv part of the storage interface. */
export interface KvStorage {
  kvGet(namespace: string, key: string): Promise<string | undefined>;
  kvSet(namespace: string, key: string, value: string | null): Promise<void>;
}

/**
 * Builds the store every plugin's `api.store` is backed by. Writes resolve once queued in the write
 * buffer (whose reads already see them), not once committed: during a database outage a plugin must
 * not hang on `set` — and hit its deadline — for as long as the outage lasts.
 */
export function pluginStore(
  storage: KvStorage,
  onError: (err: unknown) => void = () => {},
): PluginStoreBackend {
  const write = (plugin: string, key: string, value: string | null) => {
    storage.kvSet(`plugin:${plugin}`, key, value).catch(onError);
    return Promise.resolve();
  };
  return {
    async get(plugin, key) {
      const raw = await storage.kvGet(`plugin:${plugin}`, key);
      return raw === undefined ? undefined : JSON.parse(raw);
    },
    set: (plugin, key, value) => write(plugin, key, JSON.stringify(value ?? null)),
    delete: (plugin, key) => write(plugin, key, null),
  };
}
