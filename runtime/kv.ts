import { Redis } from 'ioredis';
import { logger } from './logger.js';

/** The slice of Redis imflow uses. A Redis outage surfaces as a rejected promise within ~0.5 s, never a hang. */
export interface KeyValueStore {
  kind: 'redis' | 'memory';
  get(key: string): Promise<string | null>;
  set(key: string, value: string, ttlMs?: number): Promise<void>;
  del(key: string): Promise<void>;
  /** SET NX: true if this call created the key (a lock, a once-only marker) */
  setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean>;
  /** adds `by` and returns the new value; a new key lives `ttlMs` */
  incr(key: string, by: number, ttlMs: number): Promise<number>;
  getMany(keys: string[]): Promise<(string | null)[]>;
  /**
   * Takes one of `limit` leases on `key` for `holder` until `now + ttlMs` (leases past their expiry are
   * free again, so a crashed holder cannot keep one). Taking a lease one already holds renews it.
   */
  acquireLease(key: string, holder: string, limit: number, ttlMs: number, now: number): Promise<boolean>;
  releaseLease(key: string, holder: string): Promise<void>;
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

export function openKeyValueStore(url?: string): KeyValueStore {
  return url ? redisStore(url) : memoryStore();
}

/**
 * Like openKeyValueStore, but waits (up to `waitMs`) for Redis to be connected, so the first requests
 * after start-up do not take the Redis-is-down paths. A Redis that stays away is not fatal: imflow starts
 * anyway and keeps reconnecting.
 */
export async function connectKeyValueStore(url: string | undefined, waitMs = 3000): Promise<KeyValueStore> {
  const store = openKeyValueStore(url);
  const deadline = Date.now() + waitMs;
  while (!(await store.ping()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  return store;
}

// One round trip, atomic across workers: drop expired leases, then renew or take one if there is room.
const ACQUIRE_LEASE = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZSCORE', KEYS[1], ARGV[2]) or redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], ARGV[4], ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
  return 1
end
return 0`;

// PEXPIRE … NX needs Redis 7: set the lifetime only when this call created the key.
const INCR_WITH_TTL = `
local v = redis.call('INCRBY', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return v`;

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
    setIfAbsent: async (key, value, ttlMs) => (await redis.set(key, value, 'PX', ttlMs, 'NX')) === 'OK',
    incr: async (key, by, ttlMs) => Number(await redis.eval(INCR_WITH_TTL, 1, key, by, ttlMs)),
    getMany: (keys) => (keys.length ? redis.mget(...keys) : Promise.resolve([])),
    async acquireLease(key, holder, limit, ttlMs, now) {
      return (await redis.eval(ACQUIRE_LEASE, 1, key, now, holder, limit, now + ttlMs, ttlMs * 2)) === 1;
    },
    async releaseLease(key, holder) {
      await redis.zrem(key, holder);
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
  const leases = new Map<string, Map<string, number>>();
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
    async setIfAbsent(key, value, ttlMs) {
      if (live(key)) return false;
      data.set(key, { value, expiresAt: Date.now() + ttlMs });
      return true;
    },
    async incr(key, by, ttlMs) {
      const e = live(key);
      const value = Number(e?.value ?? 0) + by;
      data.set(key, { value: String(value), expiresAt: e?.expiresAt ?? Date.now() + ttlMs });
      return value;
    },
    getMany: async (keys) => keys.map((k) => live(k)?.value ?? null),
    async acquireLease(key, holder, limit, ttlMs, now) {
      const held = leases.get(key) ?? new Map<string, number>();
      for (const [h, until] of held) if (until <= now) held.delete(h);
      if (!held.has(holder) && held.size >= limit) return false;
      held.set(holder, now + ttlMs);
      leases.set(key, held);
      return true;
    },
    async releaseLease(key, holder) {
      leases.get(key)?.delete(holder);
    },
    ping: async () => true,
    async close() {
      data.clear();
      leases.clear();
    },
  };
}
