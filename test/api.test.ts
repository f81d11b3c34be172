import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, uniq, waitFor, type Stack } from './helpers/stack.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ namespace: 'it-api' });
});
afterAll(() => stack?.stop());

const workflowCount = async () => (await stack.imflow.client.workflow.count()).count;

describe('health and metrics', () => {
  it('/healthz reports each dependency without auth', async () => {
    const res = await fetch(`${stack.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok', checks: { db: 'ok', temporal: 'ok', redis: 'ok' } });
  });

  it('/metrics speaks the Prometheus text format and counts messages', async () => {
    await stack.sandbox({ text: 'count me', conversationId: uniq('c') });
    const res = await fetch(`${stack.url}/metrics`);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await res.text();
    expect(text).toMatch(/^imflow_messages_received_total\{channel="sandbox"\} [1-9]/m);
    expect(text).toMatch(/^imflow_runs_total\{channel="sandbox",status="replied"\} [1-9]/m);
    expect(text).toContain('# TYPE imflow_run_duration_seconds histogram');
  });
});

describe('admin auth', () => {
  it('rejects /api without the admin token, or with a wrong one', async () => {
    for (const headers of [{ authorization: '' }, { authorization: 'Bearer nope' }, { authorization: `Basic ${stack.token}` }]) {
      const res = await stack.api('POST', '/api/sandbox/messages', { text: 'hi' }, headers);
      expect(res.status).toBe(401);
      expect(res.body.error).toMatch(/admin token/);
    }
    expect((await stack.api('GET', '/api/runs/msg:x:y', undefined, { authorization: '' })).status).toBe(401);
  });
});

describe('bad input starts nothing', () => {
  it('answers 400 naming the field, 413 for a huge body, 404 for an unknown channel', async () => {
    const before = await workflowCount();
    const calls = stack.fake.requests.length;
    const cases: [unknown, number, RegExp][] = [
      ['{"text": ', 400, /not valid JSON/],
      [{ text: 5 }, 400, /^invalid request: text: /],
      [{}, 400, /^invalid request: text: give "text" or "payload"/],
      [{ text: 'x', colour: 'red' }, 400, /colour/],
      [{ text: 'x', senderId: 'has space' }, 400, /^invalid request: senderId: /],
      [{ text: 'x'.repeat(16_001) }, 400, /^invalid request: text: /],
      [{ text: 'x', model: 'no-slash' }, 400, /^invalid request: model: /],
      [{ text: 'x', model: 'fake/unknown' }, 400, /model: "fake\/unknown" is not configured/],
      [{ text: 'x', channelId: 'nope' }, 404, /no channel "nope"/],
      [{ text: 'x'.repeat(300 * 1024) }, 413, /too large/],
    ];
    for (const [body, status, message] of cases) {
      const res = await stack.api('POST', '/api/sandbox/messages', body);
      expect(res.status, JSON.stringify(body).slice(0, 60)).toBe(status);
      expect(res.body.error).toMatch(message);
    }
    expect(await workflowCount()).toBe(before);
    expect(stack.fake.requests.length).toBe(calls);
  });

  it('unknown API routes are 404', async () => {
    expect((await stack.api('GET', '/api/nothing-here')).status).toBe(404);
  });
});

describe('GET /api/runs/:workflowId', () => {
  it('shows a live run at its current step, then the finished trace', async () => {
    stack.fake.enqueue('qwen3:32b', { firstTokenDelayMs: 1500 });
    const started = await stack.sandbox({ text: 'slow one', conversationId: uniq('c'), waitMs: 0 });
    expect(started.status).toBe(202);
    const path = `/api/runs/${encodeURIComponent(started.body.workflowId)}`;
    const live = await waitFor('the run to reach the model', async () => {
      const r = await stack.api('GET', path);
      return r.status === 200 && r.body.currentStep === 'callModel' && r.body;
    });
    expect(live.status).toBe('running');
    expect(live.trace.map((s: any) => s.step)).toEqual(['verify', 'loadSession', 'matchRule', 'retrieve']);

    const done = await waitFor('the run to finish', async () => {
      const r = await stack.api('GET', path);
      return r.body.status === 'replied' && r.body;
    });
    expect(done.reply.text).toBe('fake answer to: slow one');
    expect(done.trace.at(-1).step).toBe('audit');
    expect(done.trace.find((s: any) => s.step === 'callModel').durationMs).toBeGreaterThanOrEqual(1400);
  });

  it('404 for a run that does not exist, 400 for something that is not a run id', async () => {
    expect((await stack.api('GET', '/api/runs/msg:sandbox:nope')).status).toBe(404);
    expect((await stack.api('GET', '/api/runs/conv:sandbox:x')).status).toBe(400);
  });
});
