import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyAuditChain } from '../runtime/audit.js';
import { estimateTokens as serverTokens, FAKE_MODEL_BYTES } from './fakes/model-server.js';
import { FALLBACK, PRIMARY, startStack, uniq, waitFor, type Stack } from './helpers/stack.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ namespace: 'it-history' });
});
afterAll(() => stack?.stop());

const CONFIG_KEY = 'sk-test-secret'; // the fake provider's key in the test config
const KEY = 'sk-local-0123456789abcdef';
const query = (sql: string, params: unknown[] = []) => stack.imflow.db.pool.query(sql, params).then((r) => r.rows);
const local = (models: { id: string }[], extra: Record<string, unknown> = {}) => ({ baseUrl: stack.fake.baseURL, models, ...extra });

describe('/api/models', () => {
  it("lists the providers in the seed's shape, each key only as set or not", async () => {
    const res = await stack.api('GET', '/api/models');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      providers: {
        fake: {
          baseUrl: stack.fake.baseURL,
          api: 'openai-completions',
          apiKey: true,
          models: [
            expect.objectContaining({ id: 'qwen3:32b', contextWindow: 32000, maxTokens: 4096, firstTokenTimeoutMs: 8000 }),
            expect.objectContaining({ id: 'qwen2:7b', contextWindow: 32000, maxTokens: 2048 }),
          ],
        },
        down: { baseUrl: 'http://127.0.0.1:9/v1', api: 'openai-completions', apiKey: false, models: [expect.objectContaining({ id: 'gone' })] },
      },
      default: PRIMARY,
      fallbacks: [FALLBACK],
    });
    expect(JSON.stringify(res.body)).not.toContain(CONFIG_KEY);
  });

  it('creates a provider with a write-only key, sealed at rest, and calls it with that key', async () => {
    const created = await stack.api('PUT', '/api/models/providers/local', local([{ id: 'qwen3:8b' }], { apiKey: KEY }));
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ id: 'local', apiKey: true, api: 'openai-completions', models: [{ id: 'qwen3:8b', maxTokens: 2048 }] });
    expect(JSON.stringify(created.body)).not.toContain(KEY);
    expect(JSON.stringify((await stack.api('GET', '/api/models')).body)).not.toContain(KEY);

    const [row] = await query(`SELECT api_key_enc, source FROM model_providers WHERE id = 'local'`);
    expect(row.source).toBe('api');
    expect(row.api_key_enc).toMatch(/^v1:/);
    expect(row.api_key_enc).not.toContain(KEY);

    const { body } = await stack.sandbox({ text: 'via local', conversationId: uniq('c'), model: 'local/qwen3:8b' });
    expect(body.reply.model).toBe('local/qwen3:8b');
    expect(stack.fake.requestsFor('qwen3:8b').at(-1)!.headers.authorization).toBe(`Bearer ${KEY}`);

    const again = await stack.api('POST', '/api/models/providers/local', local([{ id: 'qwen3:8b' }]));
    expect(again.status).toBe(409);
    expect(again.body.error).toMatch(/provider "local" already exists/);
  });

  it('updates: an omitted key is kept, null clears it, another server must be given the key again', async () => {
    const models = [{ id: 'qwen3:8b' }, { id: 'qwen3:4b' }];
    const kept = await stack.api('PUT', '/api/models/providers/local', local(models));
    expect(kept.status).toBe(200);
    expect(kept.body).toMatchObject({ apiKey: true, models: [{ id: 'qwen3:8b' }, { id: 'qwen3:4b' }] });
    expect((await stack.imflow.catalog.resolveModel('local/qwen3:4b'))?.provider.apiKey).toBe(KEY);

    const moved = await stack.api('PUT', '/api/models/providers/local', { baseUrl: 'http://10.9.9.9:11434/v1', models });
    expect(moved.status).toBe(400);
    expect(moved.body.error).toMatch(/apiKey: baseUrl points at another server/);
    expect((await stack.imflow.catalog.resolveModel('local/qwen3:4b'))?.provider.baseUrl).toBe(stack.fake.baseURL);

    const cleared = await stack.api('PUT', '/api/models/providers/local', local(models, { apiKey: null }));
    expect(cleared.status).toBe(200);
    expect(cleared.body.apiKey).toBe(false);
    expect((await query(`SELECT api_key_enc FROM model_providers WHERE id = 'local'`))[0].api_key_enc).toBeNull();
  });

  it('rejects a bad provider with the field named, and stores nothing', async () => {
    const ok = stack.fake.baseURL;
    const cases: [string, unknown, RegExp][] = [
      ['x', { baseUrl: 'ftp://host/v1', models: [{ id: 'm' }] }, /^invalid provider: baseUrl: /],
      ['x', { baseUrl: ok, models: [] }, /^invalid provider: models: /],
      ['x', { baseUrl: ok, models: [{ id: 'm', contextWindow: 4096, maxTokens: 4096 }] }, /models\[0\]\.maxTokens: maxTokens must be less than contextWindow/],
      ['x', { baseUrl: ok, models: [{ id: 'm' }], api: 'anthropic' }, /^invalid provider: api: /],
      ['x', { baseUrl: ok, models: [{ id: 'm' }], apiKey: 42 }, /^invalid provider: apiKey: /],
      ['x', { baseUrl: ok, models: [{ id: 'm' }], apiKey: '' }, /^invalid provider: apiKey: /],
      ['x', { baseUrl: ok, models: [{ id: 'm' }], colour: 'red' }, /colour/],
      ['x', { models: [{ id: 'm' }] }, /^invalid provider: baseUrl: /],
      ['bad%20id', { baseUrl: ok, models: [{ id: 'm' }] }, /^invalid provider: id: letters, digits/],
    ];
    for (const [id, body, message] of cases) {
      const res = await stack.api('PUT', `/api/models/providers/${id}`, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error).toMatch(message);
    }
    expect(Object.keys((await stack.api('GET', '/api/models')).body.providers).sort()).toEqual(['down', 'fake', 'local']);
  });

  it('refuses to delete a provider, or drop a model, that the default or a fallback names', async () => {
    const del = await stack.api('DELETE', '/api/models/providers/fake');
    expect(del.status).toBe(409);
    expect(del.body.error).toMatch(/deleting provider "fake" would leave default "fake\/qwen3:32b", fallbacks\[0\] "fake\/qwen2:7b" without a model/);

    const shrink = await stack.api('PUT', '/api/models/providers/fake', { baseUrl: stack.fake.baseURL, models: [{ id: 'qwen3:32b' }] });
    expect(shrink.status).toBe(409);
    expect(shrink.body.error).toMatch(/fallbacks\[0\] "fake\/qwen2:7b"/);
    expect(shrink.body.error).not.toMatch(/default "/);

    expect((await stack.api('DELETE', '/api/models/providers/nope')).status).toBe(404);
    expect((await stack.api('GET', '/api/models')).body.providers.fake.models).toHaveLength(2);
  });

  it('updates the default and fallbacks, each ref checked, and runs use them', async () => {
    const unknown = await stack.api('PUT', '/api/models/defaults', { default: 'local/qwen3:8b', fallbacks: [PRIMARY, 'fake/nope'] });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error).toBe('invalid defaults: fallbacks[1]: model "fake/nope" is not defined under models.providers');
    const malformed = await stack.api('PUT', '/api/models/defaults', { default: 'no-provider' });
    expect(malformed.status).toBe(400);
    expect(malformed.body.error).toMatch(/^invalid defaults: default: a model ref is/);
    expect(await stack.imflow.catalog.modelChain()).toEqual([PRIMARY, FALLBACK]);

    const set = await stack.api('PUT', '/api/models/defaults', { default: 'local/qwen3:8b', fallbacks: [PRIMARY] });
    expect(set.status).toBe(200);
    expect(set.body).toEqual({ default: 'local/qwen3:8b', fallbacks: [PRIMARY] });
    expect((await stack.api('GET', '/api/models')).body).toMatchObject({ default: 'local/qwen3:8b', fallbacks: [PRIMARY] });
    const { body } = await stack.sandbox({ text: 'who answers', conversationId: uniq('c') });
    expect(body.reply.model).toBe('local/qwen3:8b');

    // now local is the default: it cannot go; fake/qwen2:7b is no longer named, so it can
    expect((await stack.api('DELETE', '/api/models/providers/local')).status).toBe(409);
    expect((await stack.api('PUT', '/api/models/defaults', { default: PRIMARY, fallbacks: [FALLBACK] })).status).toBe(200);
    expect((await stack.api('DELETE', '/api/models/providers/local')).status).toBe(204);
    expect(Object.keys((await stack.api('GET', '/api/models')).body.providers).sort()).toEqual(['down', 'fake']);
  });

  it('audits every change, naming what happened to the key but never the key', async () => {
    const rows = await query(`SELECT action, subject, detail FROM audit_log WHERE action LIKE 'model.%' ORDER BY id`);
    expect(rows.map((r) => `${r.action} ${r.subject}`)).toEqual([
      'model.provider.create local',
      'model.provider.update local',
      'model.provider.update local',
      'model.defaults.update models',
      'model.defaults.update models',
      'model.provider.delete local',
    ]);
    expect(rows.slice(0, 3).map((r) => r.detail.apiKey)).toEqual(['set', 'kept', 'cleared']);
    expect(rows[1].detail.models).toEqual(['qwen3:8b', 'qwen3:4b']);
    expect(rows[3].detail).toEqual({ default: 'local/qwen3:8b', fallbacks: [PRIMARY] });
    expect(JSON.stringify(rows)).not.toContain(KEY);
    expect(await verifyAuditChain(stack.imflow.db.pool)).toMatchObject({ ok: true });
  });
});

/** Sum of the samples of one metric whose labels include all of `labels`. */
async function metric(name: string, labels: Record<string, string>): Promise<number> {
  const text = await (await fetch(`${stack.url}/metrics`)).text();
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) && want.every((w) => l.includes(w)))
    .reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

describe('usage recording and /api/models/health', () => {
  const DELAY = 300;
  const answer = { firstTokenDelayMs: DELAY, chunkDelayMs: 20 };
  const runs: Record<string, any> = {};
  const counters = async () => ({
    completion: await metric('imflow_model_tokens_total', { model: PRIMARY, kind: 'completion' }),
    prompt: await metric('imflow_model_tokens_total', { model: PRIMARY, kind: 'prompt' }),
    firstTokens: await metric('imflow_model_first_token_seconds_count', { model: PRIMARY }),
    downErrors: await metric('imflow_model_calls_total', { model: 'down/gone', outcome: 'error' }),
  });
  let before: Awaited<ReturnType<typeof counters>>;

  beforeAll(async () => {
    await query('TRUNCATE model_calls');
    before = await counters();
    const send = async (name: string, extra: Record<string, unknown> = {}) => {
      const { body } = await stack.sandbox({ text: name, conversationId: uniq('c'), ...extra });
      expect(body.status, name).toBe('replied');
      runs[name] = body;
    };
    stack.fake.enqueue('qwen3:32b', { status: 503, errorMessage: 'overloaded' }, answer);
    await send('retried'); // primary: error, then ok on attempt 2
    stack.fake.enqueue('qwen3:32b', answer, answer);
    await send('second');
    await send('third');
    stack.fake.enqueue('qwen3:32b', { status: 401, errorMessage: 'bad key' });
    stack.fake.enqueue('qwen2:7b', answer);
    await send('refused'); // primary: 401, not retried; the fallback answers
    stack.fake.enqueue('qwen3:32b', answer);
    await send('down first', { model: 'down/gone' }); // three refused attempts, then the primary
    // rows are written off the answer's path: wait for all ten (6 primary, 1 fallback, 3 down)
    await waitFor('model_calls rows', async () => (await query('SELECT count(*)::int AS n FROM model_calls'))[0].n === 10);
  });

  it('records one row per attempt, failed attempts included, with the server-reported usage', async () => {
    const rows = await query(
      `SELECT model, provider_id, attempt, outcome, error_type, prompt_tokens, completion_tokens, tokens_estimated, first_token_ms, latency_ms, streamed
       FROM model_calls WHERE workflow_id = $1 ORDER BY attempt`,
      [runs.retried.workflowId],
    );
    expect(rows).toMatchObject([
      { model: PRIMARY, provider_id: 'fake', attempt: 1, outcome: 'error', error_type: 'ModelUnavailable', prompt_tokens: null, completion_tokens: null, first_token_ms: null },
      { model: PRIMARY, provider_id: 'fake', attempt: 2, outcome: 'ok', error_type: null, tokens_estimated: false, streamed: true },
    ]);
    const served = stack.fake.requestsFor('qwen3:32b').filter((r) => r.messages.at(-1).content === 'retried')[1]!;
    expect(rows[1].prompt_tokens).toBe(serverTokens(served.messages)); // the fake's count, not imflow's estimate
    expect(rows[1].completion_tokens).toBeGreaterThan(0);
    expect(rows[1].first_token_ms).toBeGreaterThanOrEqual(DELAY);
    expect(rows[1].latency_ms).toBeGreaterThan(rows[1].first_token_ms);

    const down = await query(`SELECT model, attempt, outcome, error_type FROM model_calls WHERE workflow_id = $1 ORDER BY id`, [runs['down first'].workflowId]);
    expect(down.map((r) => `${r.model} ${r.attempt} ${r.outcome} ${r.error_type}`)).toEqual([
      'down/gone 1 error ModelUnavailable',
      'down/gone 2 error ModelUnavailable',
      'down/gone 3 error ModelUnavailable',
      `${PRIMARY} 1 ok null`,
    ]);
    const refused = await query(`SELECT model, outcome, error_type FROM model_calls WHERE workflow_id = $1 ORDER BY id`, [runs.refused.workflowId]);
    expect(refused.map((r) => `${r.model} ${r.outcome} ${r.error_type}`)).toEqual([`${PRIMARY} error Unauthorized`, `${FALLBACK} ok null`]);
  });

  it('health shows counts, error rate, percentiles, tokens/s and the last error per configured model', async () => {
    const res = await stack.api('GET', '/api/models/health');
    expect(res.status).toBe(200);
    const { models, windowMinutes } = res.body;
    expect(windowMinutes).toBe(15);
    expect(Object.keys(models).sort()).toEqual(['down/gone', FALLBACK, PRIMARY].sort());

    const primary = models[PRIMARY];
    expect(primary).toMatchObject({ requests: 6, errors: 2, errorRate: 0.3333 });
    expect(primary.firstTokenMs.p50).toBeGreaterThanOrEqual(DELAY);
    expect(primary.latencyMs.p50).toBeGreaterThanOrEqual(primary.firstTokenMs.p50);
    expect(primary.latencyMs.p95).toBeGreaterThanOrEqual(primary.latencyMs.p50);
    expect(primary.latencyMs.p95).toBeLessThan(5000);
    expect(primary.tokensPerSecond).toBeGreaterThan(0);
    expect(primary.lastError).toMatchObject({ type: 'Unauthorized', message: expect.stringContaining('HTTP 401') });

    expect(models[FALLBACK]).toMatchObject({ requests: 1, errors: 0, errorRate: 0, lastError: null });
    expect(models['down/gone']).toMatchObject({
      requests: 3, errors: 3, errorRate: 1, latencyMs: { p50: null, p95: null }, firstTokenMs: { p50: null }, tokensPerSecond: null,
      lastError: { type: 'ModelUnavailable' },
    });
    expect(JSON.stringify(res.body)).not.toContain(CONFIG_KEY);
  });

  it("health shows what the servers expose: Ollama's loaded models and VRAM, or why not", async () => {
    const { providers } = (await stack.api('GET', '/api/models/health')).body;
    expect(providers.fake).toMatchObject({ available: true, server: 'ollama' });
    const names = providers.fake.loaded.map((m: any) => m.name);
    expect(names).toEqual(expect.arrayContaining(['qwen3:32b', 'qwen2:7b']));
    expect(providers.fake.loaded[0]).toMatchObject({ sizeBytes: FAKE_MODEL_BYTES, vramBytes: FAKE_MODEL_BYTES, contextLength: 4096, expiresAt: expect.any(String) });
    expect(providers.fake.vramBytes).toBe(names.length * FAKE_MODEL_BYTES);
    expect(providers.down).toEqual({ available: false, reason: 'GET http://127.0.0.1:9/api/ps: bad port' }); // fetch refuses port 9
  });

  it('a server without /api/ps, one that hangs, or one that is gone never fails health', async () => {
    const servers = {
      vllm: http.createServer((_req, res) => res.writeHead(404).end()), // no /api/ps, like vLLM
      silent: http.createServer(() => {}), // accepts and never answers
      gone: http.createServer(),
    };
    const urls: Record<string, string> = {};
    for (const [id, server] of Object.entries(servers)) {
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      urls[id] = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      expect((await stack.api('PUT', `/api/models/providers/${id}`, { baseUrl: `${urls[id]}/v1`, models: [{ id: 'm' }] })).status).toBe(201);
    }
    await new Promise((resolve) => servers.gone.close(resolve));
    try {
      const started = Date.now();
      const res = await stack.api('GET', '/api/models/health');
      expect(res.status).toBe(200);
      expect(Date.now() - started).toBeLessThan(4000);
      expect(res.body.providers).toMatchObject({
        vllm: { available: false, reason: `GET ${urls.vllm}/api/ps answered HTTP 404` },
        silent: { available: false, reason: `GET ${urls.silent}/api/ps: no answer within 2000 ms` },
        gone: { available: false, reason: `GET ${urls.gone}/api/ps: ECONNREFUSED` },
        fake: { available: true },
      });
      expect(res.body.models['vllm/m']).toMatchObject({ requests: 0, errorRate: null });
    } finally {
      for (const id of Object.keys(servers)) await stack.api('DELETE', `/api/models/providers/${id}`);
      servers.vllm.close();
      servers.silent.closeAllConnections();
      servers.silent.close();
    }
  });

  it('health covers the window asked for, and refuses a bad one', async () => {
    await query(`UPDATE model_calls SET at = at - interval '2 hours' WHERE model = 'down/gone'`);
    expect((await stack.api('GET', '/api/models/health')).body.models['down/gone'].requests).toBe(0);
    expect((await stack.api('GET', '/api/models/health?minutes=180')).body.models['down/gone'].requests).toBe(3);
    for (const bad of ['0', '1441', 'soon']) {
      const res = await stack.api('GET', `/api/models/health?minutes=${bad}`);
      expect(res.status, bad).toBe(400);
      expect(res.body.error).toMatch(/^invalid query: minutes: /);
    }
  });

  it('/metrics has time to first token and token counters matching the recorded usage', async () => {
    const after = await counters();
    const [sums] = await query(
      `SELECT sum(prompt_tokens)::int AS prompt, sum(completion_tokens)::int AS completion FROM model_calls WHERE model = $1`,
      [PRIMARY],
    );
    expect(sums.completion).toBeGreaterThan(0);
    expect(after.completion - before.completion).toBe(sums.completion);
    expect(after.prompt - before.prompt).toBe(sums.prompt);
    expect(after.firstTokens - before.firstTokens).toBe(4); // the four answers; failed attempts had no first token
    expect(after.downErrors - before.downErrors).toBe(3);
  });

  it('a usage row that cannot be written never fails the call', async () => {
    await query('ALTER TABLE model_calls RENAME TO model_calls_away');
    let workflowId: string;
    try {
      stack.fake.enqueue('qwen3:32b', answer);
      const { body } = await stack.sandbox({ text: 'unrecorded', conversationId: uniq('c') });
      expect(body.status).toBe('replied');
      expect(body.trace.filter((s: any) => s.step === 'callModel').map((s: any) => s.status)).toEqual(['ok']);
      workflowId = body.workflowId;
    } finally {
      await query('ALTER TABLE model_calls_away RENAME TO model_calls');
    }
    // the write was tried while the table was away (and lost), not merely made late
    expect(await query('SELECT 1 FROM model_calls WHERE workflow_id = $1', [workflowId])).toHaveLength(0);
  });
});
