import type { ChannelConfig } from '../runtime/config.js';
import type { Db } from '../runtime/db.js';
import type { ChatMessage, InboundMessage } from '../workflows/types.js';

export const SESSION_CACHE_TTL_MS = 24 * 3600_000;
export const sessionCacheKey = (sessionKey: string) => `imflow:session:${sessionKey}`;

/** Direct chats and shared group sessions key on the chat; `groupSession: sender` gives each sender their own. */
export function sessionKeyFor(msg: InboundMessage, channel?: Pick<ChannelConfig, 'groupSession'>): string {
  const base = `${msg.channelId}:${msg.conversationId}`;
  return msg.chatType === 'group' && channel?.groupSession === 'sender' ? `${base}:${msg.senderId}` : base;
}

/**
 * What Redis holds for a session. `lastId` is the newest session_messages row it includes: a copy that
 * missed a save (Redis was down then) is detected by comparing it with Postgres, never served stale.
 */
export interface CachedHistory {
  lastId: string;
  history: ChatMessage[];
}

export async function latestMessageId(db: Db, sessionKey: string): Promise<string> {
  const { rows } = await db.query<{ id: string | null }>('SELECT max(id)::text AS id FROM session_messages WHERE session_key = $1', [
    sessionKey,
  ]);
  return rows[0]?.id ?? '0';
}

/** The most recent turns of a session in time order, at most `limit` messages and about `maxChars` characters. */
export async function readHistory(db: Db, sessionKey: string, limit: number, maxChars: number): Promise<CachedHistory> {
  const { rows } = await db.query<{ id: string; role: 'user' | 'assistant'; content: string }>(
    'SELECT id::text AS id, role, content FROM session_messages WHERE session_key = $1 ORDER BY id DESC LIMIT $2',
    [sessionKey, Math.max(limit, 1)],
  );
  const lastId = rows[0]?.id ?? '0';
  const history: ChatMessage[] = [];
  let chars = 0;
  for (const r of rows.slice(0, limit)) {
    chars += r.content.length;
    if (chars > maxChars) break;
    history.push({ role: r.role, content: r.content });
  }
  return { lastId, history: history.reverse() };
}
