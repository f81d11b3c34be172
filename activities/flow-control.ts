import type { KeyValueStore } from '../runtime/kv.js';
import type { ActivityDeps } from './deps.js';

export type SlotRequest =
  | { kind: 'sender'; senderKey: string; holder: string }
  | { kind: 'model'; model: string; holder: string };

export interface SlotAnswer {
  granted: boolean;
  /** when to ask again */
  retryAfterMs: number;
  /** which limit said no */
  limit?: string;
  /** what the workflow needs to tell a waiting sender, from the current settings */
  notice: { afterMs: number; text: string };
}

/** A concurrency lease outlives a call by this much: a holder that died frees its slot after that. */
const LEASE_MARGIN_MS = 30_000;
const SENDER_WINDOW_MS = 60_000;

/**
 * Flow control, asked before a message is handled (per sender) and before each model call (global and
 * per-model rate and concurrency). It never blocks: it answers "not yet, ask again in N ms" and the
 * workflow waits on a durable timer, so a waiting message survives restarts, is never dropped, and keeps
 * its place in its conversation (the conversation handles one message at a time).
 */
export const makeAcquireSlot = ({ kv, catalog }: Pick<ActivityDeps, 'kv' | 'catalog'>) =>
  async function acquireSlot(req: SlotRequest): Promise<SlotAnswer> {
    const limits = await catalog.limitSettings();
    const notice = { afterMs: limits.queueNoticeAfterSeconds * 1000, text: limits.queueNotice };
    const now = Date.now();
    const no = (limit: string, retryAfterMs: number): SlotAnswer => ({ granted: false, retryAfterMs, limit, notice });
    try {
      if (req.kind === 'sender') {
        const perMinute = limits.perSenderPerMinute;
        if (perMinute && !(await kv.acquireLease(`imflow:sender:${req.senderKey}`, req.holder, perMinute, SENDER_WINDOW_MS, now))) {
          return no(`${perMinute} messages per minute per sender`, 1000);
        }
        return { granted: true, retryAfterMs: 0, notice };
      }

      const model = limits.perModel[req.model] ?? {};
      const resolved = await catalog.resolveModel(req.model);
      const leaseMs = (resolved?.model.timeoutMs ?? 120_000) + LEASE_MARGIN_MS;
      const untilNextSecond = 1000 - (now % 1000) + Math.floor(Math.random() * 50);
      if (limits.rps && !(await withinRate(kv, 'all', limits.rps, now))) return no(`${limits.rps} calls/s in total`, untilNextSecond);
      if (model.rps && !(await withinRate(kv, `model:${req.model}`, model.rps, now))) return no(`${model.rps} calls/s for ${req.model}`, untilNextSecond);
      const taken: string[] = [];
      for (const [key, max, label] of [
        ['imflow:inflight:all', limits.concurrency, `${limits.concurrency} calls at once in total`],
        [`imflow:inflight:model:${req.model}`, model.concurrency, `${model.concurrency} calls at once for ${req.model}`],
      ] as const) {
        if (!max) continue;
        if (!(await kv.acquireLease(key, req.holder, max, leaseMs, now))) {
          for (const k of taken) await kv.releaseLease(k, req.holder);
          return no(label, 200 + Math.floor(Math.random() * 100));
        }
        taken.push(key);
      }
      return { granted: true, retryAfterMs: 0, notice };
    } catch (err) {
      // Limits protect the model server; losing Redis must not stop every answer. Let the call through.
      return { granted: true, retryAfterMs: 0, notice, limit: `not enforced: ${(err as Error).message}` };
    }
  };

/** Frees the concurrency slots a model call held (rate windows simply pass). */
export const makeReleaseSlot = ({ kv }: Pick<ActivityDeps, 'kv'>) =>
  async function releaseSlot({ model, holder }: { model: string; holder: string }): Promise<void> {
    await Promise.all([kv.releaseLease('imflow:inflight:all', holder), kv.releaseLease(`imflow:inflight:model:${model}`, holder)]).catch(() => {});
  };

/** A fixed one-second window: the first `rps` calls in each second pass. */
async function withinRate(kv: KeyValueStore, scope: string, rps: number, now: number): Promise<boolean> {
  const second = Math.floor(now / 1000);
  return (await kv.incr(`imflow:rate:${scope}:${second}`, 1, 2000)) <= rps;
}
