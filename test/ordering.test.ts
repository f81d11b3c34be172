import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingestMessage } from '../api/ingest.js';
import { conversationWorkflowId } from '../workflows/names.js';
import { inbound } from './helpers/messages.js';
import { startStack, uniq, waitFor, type Stack } from './helpers/stack.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ namespace: 'it-order' });
});
afterAll(() => stack?.stop());

const replyTexts = async (conversationId: string) =>
  (await stack.imflow.db.pool.query('SELECT text FROM replies WHERE conversation_id = $1 ORDER BY sent_at, text', [conversationId])).rows.map(
    (r) => r.text as string,
  );

describe('one conversation', () => {
  it('5 messages at once are answered one at a time, in arrival order', async () => {
    const conversationId = uniq('c');
    // a slow model makes overlap visible if ordering were broken
    stack.fake.setDefault('qwen3:32b', { firstTokenDelayMs: 150 });
    const texts = [1, 2, 3, 4, 5].map((i) => `消息 ${i}`);
    for (const text of texts) await ingestMessage(stack.imflow.client, inbound({ conversationId, text }));
    await waitFor('5 finished runs', async () => {
      const { rowCount } = await stack.imflow.db.pool.query('SELECT 1 FROM runs WHERE conversation_id = $1', [conversationId]);
      return rowCount === 5;
    });
    stack.fake.reset();

    expect(await replyTexts(conversationId)).toEqual(texts.map((t) => `fake answer to: ${t}`));
    // each model call saw every earlier turn: the previous message had fully finished first
    const calls = (await stack.imflow.db.pool.query(
      `SELECT trace FROM runs WHERE conversation_id = $1 ORDER BY received_at`, [conversationId],
    )).rows.map((r) => r.trace.find((s: any) => s.step === 'loadSession').output.messages);
    expect(calls).toEqual([0, 2, 4, 6, 8]);
  });

  it('stays in order and drops re-deliveries across continue-as-new', async () => {
    const conversationId = uniq('c');
    const msgs = Array.from({ length: 14 }, (_, i) => inbound({ conversationId, text: `m${String(i).padStart(2, '0')}` }));
    for (const m of msgs) await ingestMessage(stack.imflow.client, m);
    await waitFor('14 replies', async () => (await replyTexts(conversationId)).length === 14, 60_000);

    // the test server suggests continue-as-new after 60 events: this conversation has crossed runs
    const handle = stack.imflow.client.workflow.getHandle(conversationWorkflowId('sandbox', conversationId));
    const desc = await handle.describe();
    expect(desc.raw.workflowExecutionInfo?.firstRunId).toBeTruthy();
    expect(desc.runId).not.toBe(desc.raw.workflowExecutionInfo?.firstRunId);

    // a platform re-delivers early messages after the run that saw them is gone
    await ingestMessage(stack.imflow.client, msgs[0]!);
    await ingestMessage(stack.imflow.client, msgs[13]!);
    await new Promise((r) => setTimeout(r, 1500));
    const texts = await replyTexts(conversationId);
    expect(texts).toEqual(msgs.map((m) => `fake answer to: ${m.text}`));
    expect(stack.fake.requests.filter((r) => r.messages.at(-1).content === 'm00')).toHaveLength(1);

    // even a brand-new conversation run (its seen set empty) does not answer twice: the child id is taken
    await handle.terminate('test: forget the seen set');
    await ingestMessage(stack.imflow.client, msgs[5]!);
    await waitFor('new conversation run to skip it', async () => {
      const d = await handle.describe();
      return d.status.name === 'RUNNING' && d.historyLength > 5;
    });
    await new Promise((r) => setTimeout(r, 1000));
    expect((await replyTexts(conversationId)).filter((t) => t.endsWith(msgs[5]!.text))).toHaveLength(1);
  });
});
