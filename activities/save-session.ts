import type { InboundMessage } from '../workflows/types.js';
import type { ActivityDeps } from './deps.js';
import { loadFromDatabase } from './load-session.js';
import { SESSION_CACHE_TTL_MS, sessionCacheKey } from './session-store.js';

export interface SaveSessionInput {
  sessionKey: string;
  message: InboundMessage;
  answer: string;
}

/** Appends the turn to Postgres (a retry inserts nothing twice), then refreshes the Redis copy if Redis is up. */
export const makeSaveSession = ({ db, kv, catalog }: Pick<ActivityDeps, 'db' | 'kv' | 'catalog'>) =>
  async function saveSession({ sessionKey, message, answer }: SaveSessionInput): Promise<{ saved: number }> {
    const res = await db.query(
      `INSERT INTO session_messages (session_key, role, content, message_id, sender_id, created_at)
       VALUES ($1, 'user', $2, $3, $4, to_timestamp($5 / 1000.0)), ($1, 'assistant', $6, $3, NULL, now())
       ON CONFLICT (session_key, message_id, role) DO NOTHING`,
      [sessionKey, message.text, message.platformMessageId, message.senderId, message.receivedAt, answer],
    );
    const fresh = await loadFromDatabase({ db, catalog }, sessionKey);
    await kv.set(sessionCacheKey(sessionKey), JSON.stringify(fresh), SESSION_CACHE_TTL_MS).catch(() => {});
    return { saved: res.rowCount ?? 0 };
  };
