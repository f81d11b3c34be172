import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FALLBACK, PRIMARY, startStack, uniq, waitFor, type Stack } from './helpers/stack.js';
import { readBody } from './fakes/http.js';

// A 5xx burst on the primary, end to end: Temporal runs, the fake model server, a webhook receiver.
const HOOK_TOKEN = 'it-breaker-hook-token';
let stack: Stack;
let hook: { url: string; events: any[]; close(): Promise<void> };

beforeAll(async () => {
  const events: any[] = [];
  const server = http.createServer(async (req, res) => {
    events.push(JSON.parse(await readBody(req)));
    res.writeHead(204).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  hook = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    events,
    close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
  stack = await startStack({
    namespace: 'it-breaker',
    config: {
      // three failed calls open it (timeouts are left out of it), two seconds open
      breaker: { errorRate: 0.05, minCalls: 3, timeouts: 100, windowSeconds: 10, openSeconds: 2 },
      alerts: {
        webhooks: [`${hook.url}/alerts?token=${HOOK_TOKEN}`],
        chats: [{ channelId: 'sandbox', to: 'ops-room', chatType: 'group' }],
      },
    },
  });
});
afterAll(async () => {
  await stack?.stop();
  await hook?.close();
});

const primaryCalls = () => stack.fake.requestsFor('qwen3:32b').length;
const ask = async (text: string) => (await stack.sandbox({ text, conversationId: uniq('c') })).body;
const modelSteps = (body: any) => body.trace.filter((s: any) => s.step === 'callModel').map((s: any) => [s.input.model, s.status, s.error]);
const health = async () => (await stack.api('GET', '/api/models/health')).body;
const breaker = async () => (await health()).models[PRIMARY].breaker;

async function metric(name: string, labels: Record<string, string>): Promise<number | undefined> {
  const text = await (await fetch(`${stack.url}/metrics`)).text();
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && want.every((w) => l.includes(w)));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('circuit breaker, end to end', () => {
  it('a 5xx burst on the primary opens its breaker: the fallback answers and admins are alerted', async () => {
    stack.fake.enqueue('qwen3:32b', { status: 503 }, { status: 503 }, { status: 503 });
    const body = await ask('burst');
    expect(body.reply).toEqual({ text: 'fake answer to: burst', model: FALLBACK });
    expect(primaryCalls()).toBe(3); // Temporal's three attempts, the third one trips the breaker

    await waitFor('the opening alert', () => hook.events.length === 1, 10_000);
    expect(hook.events[0]).toEqual({
      event: 'model.breaker',
      model: PRIMARY,
      from: 'closed',
      to: 'open',
      reason: '3 of 3 calls failed within 10 s (100% > 5%)',
      at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    expect(await breaker()).toMatchObject({ state: 'open', reason: '3 of 3 calls failed within 10 s (100% > 5%)', windowCalls: 0 });
    expect((await health()).models[FALLBACK].breaker).toMatchObject({ state: 'closed', since: null, windowCalls: 1, windowErrors: 0 });
  });

  it('while open, messages go straight to the fallback without touching the primary', async () => {
    const before = primaryCalls();
    for (const text of ['second', 'third']) {
      const body = await ask(text);
      expect(body.reply.model).toBe(FALLBACK);
      const steps = modelSteps(body);
      expect(steps).toMatchObject([
        [PRIMARY, 'failed', expect.stringMatching(/^CircuitOpen: fake\/qwen3:32b: circuit breaker open since .*: not called$/)],
        [FALLBACK, 'ok', undefined],
      ]);
      // not retried: the step failed at once
      expect(body.trace.find((s: any) => s.step === 'callModel').durationMs).toBeLessThan(1000);
    }
    expect(primaryCalls()).toBe(before);
    expect(await metric('imflow_model_breaker_state', { model: PRIMARY })).toBe(2);
    expect(await metric('imflow_model_breaker_rejected_total', { model: PRIMARY })).toBe(2);

    // the last model of a chain is called even while its breaker is open: refusing it would leave the
    // message unanswered for sure (a sandbox run naming the fallback puts the primary last)
    stack.fake.enqueue('qwen2:7b', { status: 400, errorMessage: 'bad request' });
    const { body: last } = await stack.sandbox({ text: 'last resort', conversationId: uniq('c'), model: FALLBACK });
    expect(last.reply.model).toBe(PRIMARY);
    expect(primaryCalls()).toBe(before + 1);
    expect(await metric('imflow_model_breaker_state', { model: PRIMARY })).toBe(2); // not counted: still open
  });

  it('after openSeconds one probe reaches the primary; failing, it re-opens the breaker without a new alert', async () => {
    await waitFor('half-open', async () => (await breaker()).state === 'half-open', 5000);
    const before = primaryCalls();
    stack.fake.enqueue('qwen3:32b', { status: 503 });
    const body = await ask('probe fails');
    expect(body.reply.model).toBe(FALLBACK);
    expect(primaryCalls()).toBe(before + 1); // the probe only: its retry met the re-opened breaker
    expect(modelSteps(body)[0][2]).toMatch(/^CircuitOpen: .*probe call failed \(ModelUnavailable\)/);
    expect(await breaker()).toMatchObject({ state: 'open', reason: 'probe call failed (ModelUnavailable): open for another 2 s' });
    expect(hook.events).toHaveLength(1);
  });

  it('after openSeconds a probe reaches the recovered primary and closes the breaker, alerting again', async () => {
    await waitFor('half-open again', async () => (await breaker()).state === 'half-open', 5000);
    const before = primaryCalls();
    const body = await ask('recovered');
    expect(body.reply).toEqual({ text: 'fake answer to: recovered', model: PRIMARY });
    expect(primaryCalls()).toBe(before + 1);

    await waitFor('the closing alert', () => hook.events.length === 2, 10_000);
    expect(hook.events[1]).toMatchObject({ event: 'model.breaker', model: PRIMARY, from: 'half-open', to: 'closed', reason: 'probe call succeeded' });
    expect(await breaker()).toMatchObject({ state: 'closed', reason: 'probe call succeeded', windowCalls: 0 });
    expect((await ask('and again')).reply.model).toBe(PRIMARY);
    await waitFor('the success counted', async () => (await breaker()).windowCalls === 1, 5000);

    expect(await metric('imflow_model_breaker_state', { model: PRIMARY })).toBe(0);
    const transitions = async (from: string, to: string) => metric('imflow_model_breaker_transitions_total', { model: PRIMARY, from, to });
    expect([await transitions('closed', 'open'), await transitions('open', 'half-open'), await transitions('half-open', 'open'), await transitions('half-open', 'closed')]).toEqual([1, 2, 1, 1]);
  });

  it('health lists the alerts, newest first, each target named without its secrets and delivered', async () => {
    await waitFor('both deliveries of both alerts', async () => (await health()).alerts.every((a: any) => a.status === 'delivered'), 10_000);
    const { alerts } = await health();
    expect(alerts.map((a: any) => [a.from, a.to, a.target])).toEqual(
      expect.arrayContaining([
        ['half-open', 'closed', `webhooks[0] ${hook.url}`],
        ['half-open', 'closed', 'chats[0] sandbox group ops-room'],
        ['closed', 'open', `webhooks[0] ${hook.url}`],
        ['closed', 'open', 'chats[0] sandbox group ops-room'],
      ]),
    );
    expect(alerts).toHaveLength(4);
    expect(alerts.slice(0, 2).every((a: any) => a.to === 'closed')).toBe(true);
    expect(alerts[0]).toMatchObject({ event: 'model.breaker', model: PRIMARY, reason: 'probe call succeeded', attempts: 1, lastError: null });
    expect(JSON.stringify(await health())).not.toContain(HOOK_TOKEN);
  });
});
