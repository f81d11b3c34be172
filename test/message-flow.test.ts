import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingestMessage } from '../api/ingest.js';
import { verifyAuditChain } from '../runtime/audit.js';
import { inbound } from './helpers/messages.js';
import { startStack, uniq, waitFor, type Stack } from './helpers/stack.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ namespace: 'it-flow' });
});
afterAll(() => stack?.stop());

const replies = async (conversationId: string) =>
  (await stack.imflow.db.pool.query('SELECT idempotency_key, text, dry_run FROM replies WHERE conversation_id = $1 ORDER BY sent_at', [conversationId])).rows;

describe('one message end to end', () => {
  it('answers with the model reply and records run, reply, session and audit', async () => {
    const conversationId = uniq('c');
    const { status, body } = await stack.sandbox({ text: '发票怎么开？', conversationId, senderId: 'alice' });
    expect(status).toBe(200);
    expect(body.status).toBe('replied');
    expect(body.reply.text).toBe('fake answer to: 发票怎么开？');
    expect(body.workflowId).toMatch(/^msg:sandbox:/);
    expect(body.trace.map((s: any) => s.step)).toEqual([
      'verify', 'loadSession', 'matchRule', 'retrieve', 'callModel', 'reply', 'saveSession', 'audit',
    ]);
    for (const s of body.trace) expect(typeof s.durationMs).toBe('number');

    const req = stack.fake.requests.at(-1)!;
    expect(req.model).toBe('qwen3:32b');
    expect(req.stream).toBe(true);
    expect(req.headers.authorization).toBe('Bearer sk-test-secret');
    expect(req.messages.at(-1)).toEqual({ role: 'user', content: '发票怎么开？' });
    expect(req.messages[0].role).toBe('system');

    expect(await replies(conversationId)).toEqual([{ idempotency_key: body.workflowId, text: body.reply.text, dry_run: true }]);
    const run = await stack.api('GET', `/api/runs/${encodeURIComponent(body.workflowId)}`);
    expect(run.status).toBe(200);
    expect(run.body).toMatchObject({ workflowId: body.workflowId, status: 'replied', reply: { text: body.reply.text } });
    const audit = await stack.imflow.db.pool.query('SELECT action, detail FROM audit_log WHERE subject = $1', [body.workflowId]);
    expect(audit.rows).toHaveLength(1);
    expect(audit.rows[0].action).toBe('message.replied');
    expect(await verifyAuditChain(stack.imflow.db.pool)).toMatchObject({ ok: true });
  });

  it('carries the conversation history into the next model call, in time order', async () => {
    const conversationId = uniq('c');
    stack.fake.enqueue('qwen3:32b', { text: '第一条回答' });
    await stack.sandbox({ text: '第一个问题', conversationId });
    const second = await stack.sandbox({ text: '第二个问题', conversationId });
    expect(second.body.status).toBe('replied');
    const loadSession = second.body.trace.find((s: any) => s.step === 'loadSession');
    expect(loadSession.output.messages).toBe(2);
    const req = stack.fake.requests.at(-1)!;
    expect(req.messages.slice(1)).toEqual([
      { role: 'user', content: '第一个问题' },
      { role: 'assistant', content: '第一条回答' },
      { role: 'user', content: '第二个问题' },
    ]);
  });

  it('group chats share one session, or keep one per sender when the channel says so', async () => {
    await stack.imflow.db.pool.query(
      `INSERT INTO channels (id, type, settings) VALUES ('grp-shared', 'sandbox', '{"respondTo":"all","groups":true,"direct":true,"groupSession":"shared"}'),
       ('grp-sender', 'sandbox', '{"respondTo":"all","groups":true,"direct":true,"groupSession":"sender"}')`,
    );
    stack.imflow.catalog.invalidate();
    for (const channelId of ['grp-shared', 'grp-sender']) {
      const conversationId = uniq('g');
      await stack.sandbox({ channelId, conversationId, chatType: 'group', senderId: 'alice', text: `${channelId} from alice` });
      await stack.sandbox({ channelId, conversationId, chatType: 'group', senderId: 'bob', text: `${channelId} from bob` });
      const seen = stack.fake.requests.at(-1)!.messages.map((m: any) => m.content);
      if (channelId === 'grp-shared') expect(seen).toContain('grp-shared from alice');
      else expect(seen).not.toContain('grp-sender from alice');
    }
  });
});

describe('re-delivery', () => {
  it('the same message delivered 3 times gives one model call and one reply', async () => {
    const msg = inbound({ text: `dup ${uniq('t')}` });
    await Promise.all([1, 2, 3].map(() => ingestMessage(stack.imflow.client, msg)));
    // and once more through the sandbox API with the same platform message id
    const viaApi = await stack.sandbox({ text: msg.text, conversationId: msg.conversationId, senderId: msg.senderId, messageId: msg.platformMessageId });
    expect(viaApi.body.status).toBe('replied');
    await waitFor('reply', async () => (await replies(msg.conversationId)).length > 0);
    await new Promise((r) => setTimeout(r, 1000)); // give a second run every chance to show up
    expect(await replies(msg.conversationId)).toHaveLength(1);
    expect(stack.fake.requests.filter((r) => r.messages.at(-1).content === msg.text)).toHaveLength(1);
  });
});
