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

/** Builds the store every plugin's `api.store` is backed by. */
export function pluginStore(storage: KvStorage): PluginStoreBackend {
  return {
    async get(plugin, key) {
      const raw = await storage.kvGet(`plugin:${plugin}`, key);
      return raw === undefined ? undefined : JSON.parse(raw);
    },
    set(plugin, key, value) {
      return storage.kvSet(`plugin:${plugin}`, key, JSON.stringify(value ?? null));
    },
    delete(plugin, key) {
      return storage.kvSet(`plugin:${plugin}`, key, null);
    },
  };
}
