import type { ChannelRegistry } from '../channels/index.js';
import type { Catalog } from '../runtime/catalog.js';
import type { Db } from '../runtime/db.js';
import type { KeyValueStore } from '../runtime/kv.js';

/** What activities may touch; injected once when the worker starts (tests inject their own). */
export interface ActivityDeps {
  db: Db;
  kv: KeyValueStore;
  catalog: Catalog;
  channels: ChannelRegistry;
}
