import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FALLBACK, startStack, uniq, type Stack } from './helpers/stack.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    namespace: 'it-model',
    fake: { contextWindow: { tiny: 1200, misfit: 2000 } },
    config: {
      providers: {
        // a small window, so that long conversations must be trimmed
        tiny: { baseUrl: 'http://placeholder/v1', models: [{ id: 'tiny', contextWindow: 1200, maxTokens: 300 }] },
        // configured bigger than the server really runs it (an Ollama num_ctx left at its default)
        misfit: { baseUrl: 'http://placeholder/v1', models: [{ id: 'misfit', contextWindow: 32000, maxTokens: 1000 }] },
      },
    },
  });
  // point the tiny provider at the same fake, which enforces the window like vLLM does
  await stack.imflow.db.pool.query(`UPDATE model_providers SET base_url = $1 WHERE id IN ('tiny', 'misfit')`, [stack.fake.baseURL]);
  stack.imflow.catalog.invalidate();
});
afterAll(() => stack?.stop());

const callModelSteps = (trace: any[]) => trace.filter((s) => s.step === 'callModel');

describe('model failures', () => {
  it('a model that fails twice and then answers is retried by Temporal', async () => {
    stack.fake.enqueue('qwen3:32b', { status: 503, errorMessage: 'overloaded' }, { dropConnection: true });
    const before = stack.fake.requestsFor('qwen3:32b').length;
    const { body } = await stack.sandbox({ text: 'retry me', conversationId: uniq('c') });
    expect(body.status).toBe('replied');
    expect(body.reply).toEqual({ text: 'fake answer to: retry me', model: 'fake/qwen3:32b' });
    expect(stack.fake.requestsFor('qwen3:32b').length - before).toBe(3);
    expect(stack.fake.requestsFor('qwen2:7b').filter((r) => r.messages.at(-1).content === 'retry me')).toHaveLength(0);
  });

  it('429 with Retry-After: the retry waits as long as the model server asked', async () => {
    stack.fake.enqueue('qwen3:32b', { status: 429, errorMessage: 'slow down', headers: { 'retry-after': '3' } });
    const { body } = await stack.sandbox({ text: 'rate limited', conversationId: uniq('c') });
    expect(body.reply).toEqual({ text: 'fake answer to: rate limited', model: 'fake/qwen3:32b' });
    const calls = stack.fake.requestsFor('qwen3:32b').filter((r) => r.messages.at(-1).content === 'rate limited');
    expect(calls).toHaveLength(2);
    // the default backoff would retry after 1 s; Retry-After said 3
    expect(calls[1]!.receivedAt - calls[0]!.receivedAt).toBeGreaterThanOrEqual(2900);
  });

  it('a primary model that is down is replaced by the fallback', async () => {
    const { body } = await stack.sandbox({ text: 'is anyone there', conversationId: uniq('c'), model: 'down/gone' });
    expect(body.status).toBe('replied');
    expect(body.reply.model).toBe('fake/qwen3:32b'); // next in the chain after the requested model
    const steps = callModelSteps(body.trace);
    expect(steps.map((s) => [s.input.model, s.status])).toEqual([
      ['down/gone', 'failed'],
      ['fake/qwen3:32b', 'ok'],
    ]);
    expect(steps[0].error).toMatch(/ModelUnavailable/);
  });

  it('a rejected request (401) is not retried: the fallback answers at once', async () => {
    stack.fake.enqueue('qwen3:32b', { status: 401, errorMessage: 'bad key' });
    const before = stack.fake.requestsFor('qwen3:32b').length;
    const { body } = await stack.sandbox({ text: 'who am i', conversationId: uniq('c') });
    expect(body.reply.model).toBe(FALLBACK);
    expect(stack.fake.requestsFor('qwen3:32b').length - before).toBe(1);
    expect(callModelSteps(body.trace)[0].error).toMatch(/Unauthorized/);
  });

  it('a silent primary (no first token in time) hands over to the fallback', async () => {
    await stack.imflow.db.pool.query(
      `UPDATE model_providers SET models = jsonb_set(models, '{0,firstTokenTimeoutMs}', '400') WHERE id = 'fake'`,
    );
    stack.imflow.catalog.invalidate();
    try {
      stack.fake.enqueue('qwen3:32b', { firstTokenDelayMs: 3000 });
      const { body } = await stack.sandbox({ text: 'hurry', conversationId: uniq('c') });
      expect(body.reply.model).toBe(FALLBACK);
      expect(callModelSteps(body.trace)[0].error).toMatch(/FirstTokenTimeout/);
    } finally {
      await stack.imflow.db.pool.query(
        `UPDATE model_providers SET models = jsonb_set(models, '{0,firstTokenTimeoutMs}', '8000') WHERE id = 'fake'`,
      );
      stack.imflow.catalog.invalidate();
    }
  });

  it('when every model refuses the request the run fails visibly, and the sender is told so once', async () => {
    stack.fake.enqueue('qwen3:32b', { status: 400, errorMessage: 'bad request' });
    stack.fake.enqueue('qwen2:7b', { status: 400, errorMessage: 'bad request' });
    const conversationId = uniq('c');
    const { body } = await stack.sandbox({ text: 'doomed', conversationId });
    expect(body.status).toBe('failed');
    expect(body.reply).toBeNull();
    expect(body.trace.map((s: any) => s.step)).toContain('audit');
    const sent = await stack.imflow.db.pool.query('SELECT idempotency_key, text FROM replies WHERE conversation_id = $1', [conversationId]);
    expect(sent.rows).toEqual([{ idempotency_key: `${body.workflowId}#failed`, text: expect.stringMatching(/^抱歉，暂时无法回答您的问题/) }]);
    const desc = await stack.imflow.client.workflow.getHandle(body.workflowId).describe();
    expect(desc.status.name).toBe('FAILED');
  });

  it('when every model is down the message waits for one to come back, and is answered once', async () => {
    const down = { status: 503, errorMessage: 'model loading' };
    stack.fake.enqueue('qwen3:32b', down, down, down);
    stack.fake.enqueue('qwen2:7b', down, down, down);
    const conversationId = uniq('c');
    const { body } = await stack.sandbox({ text: 'still there?', conversationId });
    expect(body.status).toBe('replied');
    expect(body.reply.text).toBe('fake answer to: still there?');
    const wait = body.trace.find((s: any) => s.step === 'queue');
    expect(wait).toMatchObject({ input: { waitingFor: 'model' }, output: { attempt: 1, error: expect.stringMatching(/ModelUnavailable/) } });
    expect(wait.durationMs).toBeGreaterThanOrEqual(5000);
    const sent = await stack.imflow.db.pool.query('SELECT idempotency_key, text FROM replies WHERE conversation_id = $1 ORDER BY sent_at', [conversationId]);
    expect(sent.rows).toEqual([
      { idempotency_key: `${body.workflowId}#model-down`, text: expect.stringMatching(/^模型服务暂时不可用/) },
      { idempotency_key: body.workflowId, text: body.reply.text },
    ]);
  });
});

describe('model output', () => {
  it('never sends <think> blocks or reasoning fields to the user, keeps them in the trace', async () => {
    stack.fake.enqueue('qwen3:32b', { text: '<think>用户问的是退货</think>可以在7天内退货。', reasoning: 'internal chain' });
    const { body } = await stack.sandbox({ text: '能退货吗', conversationId: uniq('c') });
    expect(body.reply.text).toBe('可以在7天内退货。');
    const out = callModelSteps(body.trace)[0].output;
    expect(out.reasoning).toContain('用户问的是退货');
    expect(out.reasoning).toContain('internal chain');
  });
});

describe('context window', () => {
  it('a long conversation is trimmed to fit and never hits a context-length error', async () => {
    const conversationId = uniq('c');
    // the fake rejects prompt + max_tokens over the window like vLLM ("context_length_exceeded")
    const fake = stack.fake;
    let dropped = 0;
    for (let i = 0; i < 12; i++) {
      const text = `第${i}轮：${'这是一段很长的中文问题，用来填满上下文窗口。'.repeat(5)}`;
      const { body } = await stack.sandbox({ text, conversationId, model: 'tiny/tiny' });
      expect(body.status, JSON.stringify(body.trace.find((s: any) => s.status === 'failed'))).toBe('replied');
      expect(body.reply.model).toBe('tiny/tiny');
      dropped = callModelSteps(body.trace)[0].output.droppedHistory;
    }
    expect(dropped).toBeGreaterThan(0);
    const last = fake.requestsFor('tiny').at(-1)!;
    expect(last.messages.at(-1).content).toMatch(/^第11轮/);
    expect(last.messages.slice(1, -1).length).toBeGreaterThan(0); // still has some history
  });

  it('a server with a smaller window than configured: the prompt is trimmed to its window and retried once', async () => {
    const conversationId = uniq('c');
    for (let i = 0; i < 4; i++) {
      await stack.sandbox({ text: `第${i}轮：${'上下文窗口不够大的服务器。'.repeat(30)}`, conversationId, model: 'tiny/tiny' });
    }
    const before = stack.fake.requestsFor('misfit').length;
    const { body } = await stack.sandbox({ text: '最后一个问题', conversationId, model: 'misfit/misfit' });
    expect(body.reply.model).toBe('misfit/misfit'); // answered by the same model, not a fallback
    const step = callModelSteps(body.trace).find((s: any) => s.status === 'ok');
    expect(step.output.contextWindow).toBe(2000); // read from the server's error message
    expect(step.output.droppedHistory).toBeGreaterThan(0);
    expect(stack.fake.requestsFor('misfit').length - before).toBe(2); // refused once, then answered
    expect(stack.fake.requestsFor('misfit').at(-1)!.messages.at(-1).content).toBe('最后一个问题');
  });
});
