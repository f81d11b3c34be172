import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingestMessage } from '../api/ingest.js';
import { inbound } from './helpers/messages.js';
import { startStack, waitFor, type Stack } from './helpers/stack.js';
import { spawnWorker } from './helpers/worker-process.js';

// Separate API and worker processes need a shared Postgres; the embedded-defaults test kills the
// all-in-one process instead.
describe.skipIf(!process.env.DATABASE_URL)('a worker killed with SIGKILL mid model call', () => {
  let stack: Stack;
  const workers: ChildProcess[] = [];
  beforeAll(async () => {
    stack = await startStack({ namespace: 'it-kill', mode: 'api' });
  });
  afterAll(async () => {
    for (const w of workers) w.kill('SIGKILL');
    await stack?.stop();
  });

  it('resumes on a new worker and the user gets exactly one reply', async () => {
    workers.push(await spawnWorker(stack));
    stack.fake.enqueue('qwen3:32b', { hang: true }); // the first call never answers: the worker dies during it
    const msg = inbound({ text: '杀掉我' });
    await ingestMessage(stack.imflow.client, msg);
    await waitFor('the model call to be in flight', () => stack.fake.requestsFor('qwen3:32b').length === 1);

    workers[0]!.kill('SIGKILL');
    await waitFor('the hanging call to be dropped', () => stack.fake.requestsFor('qwen3:32b')[0]!.aborted);
    workers.push(await spawnWorker(stack));

    const replies = () => stack.imflow.db.pool.query('SELECT text FROM replies WHERE conversation_id = $1', [msg.conversationId]);
    await waitFor('the reply', async () => (await replies()).rowCount === 1, 45_000);
    await waitFor('the run to finish', async () => {
      const r = await stack.api('GET', `/api/runs/${encodeURIComponent(`msg:sandbox:${msg.platformMessageId}`)}`);
      return r.body.status === 'replied' && r.body;
    });
    await new Promise((r) => setTimeout(r, 1000));
    expect((await replies()).rows).toEqual([{ text: 'fake answer to: 杀掉我' }]);
    expect(stack.fake.requestsFor('qwen3:32b')).toHaveLength(2); // the lost call, then the retry
  });
});
