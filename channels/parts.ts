import crypto from 'node:crypto';
import type { KeyValueStore } from '../runtime/kv.js';

/** Progress outlives the reply step's retry window (1 h) comfortably. */
const PROGRESS_TTL_MS = 24 * 3600_000;

/**
 * A long answer goes out as several platform messages, and the reply step may be retried as a whole
 * (a timeout or 5xx halfway). Platforms without an idempotency key would then repeat the parts already
 * delivered, so they are recorded in the shared KV store, keyed by the run and the text, and a retry
 * resumes after them. Only a crash between the platform accepting a part and this record (or Redis
 * being down) can repeat a part: a repeated part beats a lost answer.
 */
export async function partProgress(kv: KeyValueStore, idempotencyKey: string, text: string, total: number) {
  const key = `imflow:parts:${crypto.createHash('sha256').update(idempotencyKey).update('\0').update(text).digest('hex')}`;
  const saved = await kv.get(key).catch(() => null);
  let sent: string[] = [];
  try {
    const parsed: unknown = saved ? JSON.parse(saved) : [];
    if (Array.isArray(parsed) && parsed.length <= total && parsed.every((x) => typeof x === 'string')) sent = parsed;
  } catch {
    /* unreadable record: start from the first part */
  }
  return {
    /** platform message ids of the parts delivered so far, in order */
    sent,
    async record(platformMessageId: string) {
      sent.push(platformMessageId);
      if (total > 1) await kv.set(key, JSON.stringify(sent), PROGRESS_TTL_MS).catch(() => {});
    },
  };
}
