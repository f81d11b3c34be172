import { log } from '@temporalio/activity';
import type { SessionSnapshot } from '../workflows/types.js';
import type { ActivityDeps } from './deps.js';
import { latestMessageId, readHistory, SESSION_CACHE_TTL_MS, sessionCacheKey, type CachedHistory } from './session-store.js';

/**
 * Redis first, checked against the newest row id in Postgres (an index lookup); on a miss, a stale copy
 * or a Redis outage, the full read from Postgres (the source of truth), then the cache is refilled.
 */
export const makeLoadSession = ({ db, kv, catalog }: Pick<ActivityDeps, 'db' | 'kv' | 'catalog'>) =>
  async function loadSession(sessionKey: string): Promise<SessionSnapshot> {
    const [cached, lastId] = await Promise.all([
      kv.get(sessionCacheKey(sessionKey)).catch((err: Error) => {
        log.warn('session cache unavailable, reading Postgres', { error: err.message });
        return null;
      }),
      latestMessageId(db, sessionKey),
    ]);
    if (cached) {
      const copy = JSON.parse(cached) as CachedHistory;
      if (copy.lastId === lastId) return { sessionKey, history: copy.history, source: 'cache' };
    }
    const fresh = await loadFromDatabase({ db, catalog }, sessionKey);
    await kv.set(sessionCacheKey(sessionKey), JSON.stringify(fresh), SESSION_CACHE_TTL_MS).catch(() => {});
    return { sessionKey, history: fresh.history, source: 'database' };
  };

export async function loadFromDatabase({ db, catalog }: Pick<ActivityDeps, 'db' | 'catalog'>, sessionKey: string): Promise<CachedHistory> {
  const { maxHistoryMessages } = await catalog.sessionSettings();
  // ~4 characters per token bounds what any configured model could use
  return readHistory(db, sessionKey, maxHistoryMessages, (await catalog.largestContextWindow()) * 4);
}
