import { describe, it, expect, beforeAll, afterAll, beforeEach } from 'vitest';
import OpenAI, { APIError } from 'openai';
import { startFakeModelServer, estimateTokens, type FakeModelServer } from './fakes/model-server.js';

const ZH = '你好，世界！这是一个用于测试流式输出的中文回答，包含多字节字符。🙂';

describe('fake model server (through the openai package)', () => {
  let srv: FakeModelServer;
  let client: OpenAI;

  beforeAll(async () => {
    srv = await startFakeModelServer({ contextWindow: { tiny: 20 } });
    client = new OpenAI({ baseURL: srv.baseURL, apiKey: 'x', maxRetries: 0 });
  });
  afterAll(() => srv.close());
  beforeEach(() => srv.reset());

  const ask = (content: string, model = 'qwen3') => ({ model, messages: [{ role: 'user' as const, content }] });

  /** Collects a stream into content, reasoning and reassembled tool calls. */
  async function collect(stream: AsyncIterable<OpenAI.Chat.Completions.ChatCompletionChunk>) {
    let content = '', reasoning = '', finish: string | null = null, chunks = 0;
    let usage: OpenAI.CompletionUsage | null | undefined;
    const tools: { id?: string; name?: string; arguments: string }[] = [];
    for await (const c of stream) {
      chunks++;
      expect(c.object).toBe('chat.completion.chunk');
      if (c.usage) usage = c.usage;
      const choice = c.choices[0];
      if (!choice) continue;
      const delta = choice.delta as typeof choice.delta & { reasoning_content?: string };
      content += delta.content ?? '';
      reasoning += delta.reasoning_content ?? '';
      for (const tc of delta.tool_calls ?? []) {
        const t = (tools[tc.index] ??= { arguments: '' });
        if (tc.id) t.id = tc.id;
        if (tc.function?.name) t.name = tc.function.name;
        t.arguments += tc.function?.arguments ?? '';
      }
      finish = choice.finish_reason ?? finish;
    }
    return { content, reasoning, tools, finish, usage, chunks };
  }

  it('answers non-stream with the default text and usage', async () => {
    const r = await client.chat.completions.create(ask('hello there'));
    expect(r.object).toBe('chat.completion');
    expect(r.choices[0]?.message.content).toBe('fake answer to: hello there');
    expect(r.choices[0]?.finish_reason).toBe('stop');
    expect(r.usage?.prompt_tokens).toBe(estimateTokens([{ content: 'hello there' }]));
    expect(r.usage?.total_tokens).toBe(r.usage!.prompt_tokens + r.usage!.completion_tokens);
  });

  it('streams scripted Chinese text in several chunks, with usage when asked', async () => {
    srv.enqueue('qwen3', { text: ZH });
    const stream = await client.chat.completions.create({ ...ask('说点什么'), stream: true, stream_options: { include_usage: true } });
    const out = await collect(stream);
    expect(out.content).toBe(ZH);
    expect(out.chunks).toBeGreaterThan(4);
    expect(out.finish).toBe('stop');
    expect(out.usage?.completion_tokens).toBeGreaterThan(0);
    // queue consumed: next request gets the default answer
    const r = await client.chat.completions.create(ask('again'));
    expect(r.choices[0]?.message.content).toBe('fake answer to: again');
  });

  it('returns tool calls, streamed and non-streamed', async () => {
    const args = JSON.stringify({ city: '北京', unit: 'celsius', days: 3 });
    const step = { toolCalls: [{ name: 'get_weather', arguments: args, id: 'call_1' }, { name: 'noop', arguments: '{}' }] };
    srv.enqueue('*', step, step);

    const r = await client.chat.completions.create(ask('weather?', 'llama'));
    const msg = r.choices[0]!.message;
    expect(r.choices[0]?.finish_reason).toBe('tool_calls');
    expect(msg.content).toBeNull();
    const first = msg.tool_calls?.[0];
    expect(first?.type === 'function' && first.function).toEqual({ name: 'get_weather', arguments: args });
    expect(first?.id).toBe('call_1');

    const out = await collect(await client.chat.completions.create({ ...ask('weather?', 'llama'), stream: true }));
    expect(out.finish).toBe('tool_calls');
    expect(out.tools).toHaveLength(2);
    expect(out.tools[0]).toEqual({ id: 'call_1', name: 'get_weather', arguments: args });
    expect(out.tools[1]?.name).toBe('noop');
    expect(JSON.parse(out.tools[1]!.arguments)).toEqual({});
  });

  it('emits reasoning_content before the content', async () => {
    srv.setDefault('qwen3', { reasoning: 'Let me think about this carefully.', text: 'Answer.' });
    const out = await collect(await client.chat.completions.create({ ...ask('q'), stream: true }));
    expect(out.reasoning).toBe('Let me think about this carefully.');
    expect(out.content).toBe('Answer.');
    const r = await client.chat.completions.create(ask('q'));
    expect((r.choices[0]?.message as { reasoning_content?: string }).reasoning_content).toBe('Let me think about this carefully.');
  });

  it('maps status 500 to an APIError', async () => {
    srv.enqueue('qwen3', { status: 500, errorMessage: 'boom' });
    const err = await client.chat.completions.create(ask('x')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(APIError);
    expect((err as APIError).status).toBe(500);
    expect((err as APIError).message).toContain('boom');
  });

  it('exposes retry-after on a 429', async () => {
    srv.enqueue('qwen3', { status: 429, errorCode: 'rate_limit_exceeded', headers: { 'retry-after': '7' } });
    const err = (await client.chat.completions.create({ ...ask('x'), stream: true }).catch((e: unknown) => e)) as APIError;
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect(err.status).toBe(429);
    expect(err.code).toBe('rate_limit_exceeded');
    expect(err.headers?.get('retry-after')).toBe('7');
  });

  it('rejects prompts over the context window like vLLM/OpenAI', async () => {
    const ok = await client.chat.completions.create(ask('short', 'tiny'));
    expect(ok.choices[0]?.message.content).toBe('fake answer to: short');
    const err = (await client.chat.completions.create(ask('这'.repeat(30), 'tiny')).catch((e: unknown) => e)) as APIError;
    expect(err.status).toBe(400);
    expect(err.code).toBe('context_length_exceeded');
    expect(err.message).toContain("maximum context length is 20 tokens");
    expect(estimateTokens([{ content: '这'.repeat(30) }, { content: 'abcdefgh' }])).toBe(30 + 2 + 8);
  });

  it('delays the first token', async () => {
    srv.enqueue('qwen3', { firstTokenDelayMs: 150, chunkDelayMs: 5 });
    const t0 = Date.now();
    const stream = await client.chat.completions.create({ ...ask('slow'), stream: true });
    let firstAt = 0;
    for await (const _ of stream) firstAt ||= Date.now();
    expect(firstAt - t0).toBeGreaterThanOrEqual(140);
  });

  it('records a hanging request as aborted when the client aborts', async () => {
    srv.enqueue('qwen3', { hang: true });
    const ac = new AbortController();
    const p = client.chat.completions.create(ask('hang'), { signal: ac.signal }).catch((e: unknown) => e);
    await until(() => srv.requests.length === 1);
    ac.abort();
    expect(await p).toBeInstanceOf(OpenAI.APIUserAbortError);
    await until(() => srv.requests[0]!.aborted);
  });

  it('records requests with messages and the authorization header, lists models, errors on bad input', async () => {
    await client.chat.completions.create({
      model: 'gemma', messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'hi' }],
      tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }],
    });
    const [rec] = srv.requestsFor('gemma');
    expect(rec?.messages).toEqual([{ role: 'system', content: 'be brief' }, { role: 'user', content: 'hi' }]);
    expect(rec?.headers.authorization).toBe('Bearer x');
    expect(rec?.tools).toHaveLength(1);
    expect(rec?.stream).toBe(false);

    srv.setDefault('other', {});
    const models = await client.models.list();
    expect(models.data.map((m) => m.id).sort()).toEqual(['gemma', 'other']);

    const bad = await fetch(`${srv.baseURL}/chat/completions`, { method: 'POST', body: '{oops' });
    expect(bad.status).toBe(400);
    expect((await bad.json()).error.type).toBe('invalid_request_error');
    const missing = await fetch(`${srv.baseURL}/nope`);
    expect(missing.status).toBe(404);
    expect((await missing.json()).error.message).toContain('/v1/nope');
  });

  it('drops the connection', async () => {
    srv.enqueue('qwen3', { dropConnection: true });
    const err = await client.chat.completions.create(ask('x')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIConnectionError);
    expect(srv.requests[0]?.aborted).toBe(false); // we dropped it, the client did not go away
  });

  it('close() ends hanging requests', async () => {
    const own = await startFakeModelServer();
    own.setDefault('*', { hang: true });
    const c = new OpenAI({ baseURL: own.baseURL, apiKey: 'x', maxRetries: 0 });
    const p = c.chat.completions.create({ ...ask('x'), stream: true }).catch((e: unknown) => e);
    await until(() => own.requests.length === 1);
    await own.close();
    expect(await p).toBeInstanceOf(OpenAI.APIConnectionError);
  });
});

async function until(cond: () => boolean, timeoutMs = 2000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
