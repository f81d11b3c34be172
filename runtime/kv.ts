import { Redis } from 'ioredis';
import { logger } from './logger.js';

/** The slice of Redis imflow uses. A Redis outage surfaces as a rejected promise within ~0.5 s, never a hang. */
export interface KeyValueStore {
  kind: 'redis' | 'memory';
  get(key: string): Promise<string | null>;
  set(key: string, value: string, ttlMs?: number): Promise<void>;
  del(key: string): Promise<void>;
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

export function openKeyValueStore(url?: string): KeyValueStore {
  return url ? redisStore(url) : memoryStore();
}

function redisStore(url: string): KeyValueStore {
  const redis = new Redis(url, {
    // Fail fast while Redis is down (callers fall back to Postgres) and keep reconnecting in the background.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: 500,
    connectTimeout: 2000,
    retryStrategy: (times) => Math.min(times * 200, 2000),
    lazyConnect: false,
  });
  let lastError = '';
  redis.on('error', (err: Error) => {
    if (err.message !== lastError) logger.warn({ err: err.message }, 'redis error');
    lastError = err.message;
  });
  redis.on('ready', () => {
    if (lastError) logger.info('redis connection restored');
    lastError = '';
  });
  return {
    kind: 'redis',
    get: (key) => redis.get(key),
    async set(key, value, ttlMs) {
      if (ttlMs) await redis.set(key, value, 'PX', ttlMs);
      else await redis.set(key, value);
    },
    async del(key) {
      await redis.del(key);
    },
    ping: async () => (await redis.ping().catch(() => '')) === 'PONG',
    async close() {
      redis.disconnect();
    },
  };
}

/** Single-process stand-in for Redis (embedded defaults): same interface, TTLs honoured on read. */
export function memoryStore(): KeyValueStore {
  const data = new Map<string, { value: string; expiresAt: number }>();
  const live = (key: string) => {
    const e = data.get(key);
    if (e && e.expiresAt <= Date.now()) data.delete(key);
    return data.get(key);
  };
  return {
    kind: 'memory',
    get: async (key) => live(key)?.value ?? null,
    async set(key, value, ttlMs) {
      data.set(key, { value, expiresAt: ttlMs ? Date.now() + ttlMs : Infinity });
    },
    async del(key) {
      data.delete(key);
    },
    ping: async () => true,
    async close() {
      data.clear();
    },
  };
}
