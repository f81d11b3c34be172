import { afterEach, describe, expect, it } from 'vitest';
import { ingestMessage } from '../api/ingest.js';
import { inbound } from './helpers/messages.js';
import { startStack, uniq, waitFor, type Stack } from './helpers/stack.js';

// Flow control protects one GPU shared by many chats: over a limit, messages wait durably and in order.
let stack: Stack | undefined;
afterEach(async () => {
  await stack?.stop();
  stack = undefined;
});

const repliesIn = async (s: Stack, conversationId: string) =>
  (await s.imflow.db.pool.query('SELECT idempotency_key, text FROM replies WHERE conversation_id = $1 ORDER BY sent_at', [conversationId])).rows as {
    idempotency_key: string;
    text: string;
  }[];

describe('flow control', () => {
  it('never runs more calls at once than the concurrency limit, and answers every message in order', async () => {
    stack = await startStack({ namespace: 'it-limits', config: { limits: { concurrency: 1, queueNoticeAfterSeconds: 600 } } });
    stack.fake.setDefault('qwen3:32b', { firstTokenDelayMs: 250 });
    const conversations = Array.from({ length: 4 }, () => uniq('c'));
    for (const turn of [1, 2]) {
      for (const conversationId of conversations) await ingestMessage(stack.imflow.client, inbound({ conversationId, text: `${conversationId} #${turn}` }));
    }
    const s = stack;
    await waitFor('8 answers', async () => {
      const { rowCount } = await s.imflow.db.pool.query('SELECT 1 FROM runs WHERE status = $1 AND conversation_id = ANY($2)', ['replied', conversations]);
      return rowCount === 8;
    }, 60_000);

    // one at a time: each call reached the model at least the model's latency after the previous one
    const starts = stack.fake.requests.map((r) => r.receivedAt).sort((a, b) => a - b);
    expect(starts).toHaveLength(8);
    for (let i = 1; i < starts.length; i++) expect(starts[i]! - starts[i - 1]!).toBeGreaterThanOrEqual(240);
    for (const conversationId of conversations) {
      expect((await repliesIn(stack, conversationId)).map((r) => r.text)).toEqual([
        `fake answer to: ${conversationId} #1`,
        `fake answer to: ${conversationId} #2`,
      ]);
    }
    const queued = (await stack.imflow.db.pool.query(`SELECT trace FROM runs WHERE conversation_id = ANY($1)`, [conversations])).rows
      .map((r) => r.trace.find((t: any) => t.step === 'queue'))
      .filter(Boolean);
    expect(queued.length).toBeGreaterThan(0); // some runs had to wait, and the trace says for what
    expect(queued[0].output.limit).toBe('1 calls at once in total');
  });

  it('a burst over the per-model rate limit is spread over time, none dropped', async () => {
    stack = await startStack({ namespace: 'it-limits', config: { limits: { perModel: { 'fake/qwen3:32b': { rps: 2 } } } } });
    const conversations = Array.from({ length: 8 }, () => uniq('c'));
    await Promise.all(conversations.map((conversationId) => ingestMessage(stack!.imflow.client, inbound({ conversationId, text: `burst ${conversationId}` }))));
    const s = stack;
    await waitFor('8 answers', async () => {
      const { rowCount } = await s.imflow.db.pool.query(`SELECT 1 FROM replies WHERE conversation_id = ANY($1)`, [conversations]);
      return rowCount === 8;
    }, 60_000);
    // 2 calls per one-second window: 8 calls need 4 windows, so the first and last are over 2 s apart
    // (measured where the model sees them; when each call starts within its window varies)
    const starts = stack.fake.requestsFor('qwen3:32b').map((r) => r.receivedAt);
    expect(Math.max(...starts) - Math.min(...starts)).toBeGreaterThan(2000);
    expect(stack.fake.requestsFor('qwen3:32b')).toHaveLength(8);
  });

  it('a message that waits longer than the notice time tells its sender once, then answers', async () => {
    stack = await startStack({ namespace: 'it-limits', config: { limits: { concurrency: 1, queueNoticeAfterSeconds: 1, queueNotice: '排队中' } } });
    stack.fake.setDefault('qwen3:32b', { firstTokenDelayMs: 3000 });
    const first = uniq('c');
    const second = uniq('c');
    await ingestMessage(stack.imflow.client, inbound({ conversationId: first, text: 'slow' }));
    await waitFor('the first call', () => stack!.fake.requests.length === 1);
    const queued = inbound({ conversationId: second, text: 'waiting' });
    await ingestMessage(stack.imflow.client, queued);
    const s = stack;
    await waitFor('the answer after the wait', async () => (await repliesIn(s, second)).length === 2, 30_000);
    expect(await repliesIn(stack, second)).toEqual([
      { idempotency_key: `msg:sandbox:${queued.platformMessageId}#queued`, text: '排队中' },
      { idempotency_key: `msg:sandbox:${queued.platformMessageId}`, text: 'fake answer to: waiting' },
    ]);
    expect((await repliesIn(stack, first)).map((r) => r.text)).toEqual(['fake answer to: slow']);
  });

  it('a sender over their per-minute limit waits instead of being dropped', async () => {
    stack = await startStack({ namespace: 'it-limits', config: { limits: { perSenderPerMinute: 2, queueNoticeAfterSeconds: 1, queueNotice: '请稍候' } } });
    const senderId = uniq('u');
    const msgs = [1, 2, 3].map((i) => inbound({ senderId, conversationId: uniq('c'), text: `m${i}` }));
    for (const m of msgs) await ingestMessage(stack.imflow.client, m);
    const s = stack;
    // the three arrive together in three conversations: which two go first is a race, one must wait
    const replies = await waitFor('two answers and one notice', async () => {
      const all = await Promise.all(msgs.map((m) => repliesIn(s, m.conversationId)));
      return all.every((r) => r.length === 1) && all.map((r) => r[0]!.text);
    }, 30_000);
    expect(replies.filter((t) => t === '请稍候')).toHaveLength(1);
    expect(replies.filter((t) => t.startsWith('fake answer to: m'))).toHaveLength(2);
    const waiting = msgs[replies.indexOf('请稍候')]!;
    const live = await stack.api('GET', `/api/runs/${encodeURIComponent(`msg:sandbox:${waiting.platformMessageId}`)}`);
    expect(live.body).toMatchObject({ status: 'running', currentStep: 'queue' });
  });
});
