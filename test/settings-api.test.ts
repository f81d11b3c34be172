// /api/settings: flow-control limits, the breaker and alert targets edited at run time — validated,
// audited, applied to the next message, alert webhook tokens shown to admins only.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, uniq, type Stack } from './helpers/stack.js';

const HOOK = 'https://oapi.dingtalk.com/robot/send?access_token=alert-token-93ab';
let stack: Stack;
let viewer: Record<string, string>;
beforeAll(async () => {
  stack = await startStack({ namespace: 'it-settings' });
  await stack.api('POST', '/api/users', { id: 'settings-viewer', role: 'viewer', password: 'a long enough password' });
  viewer = { authorization: `Bearer ${(await stack.api('POST', '/api/users/settings-viewer/tokens', { name: 't' })).body.token}` };
}, 120_000);
afterAll(() => stack?.stop());

describe('/api/settings', () => {
  it('shows the limits, breaker and alerts in effect', async () => {
    const res = await stack.api('GET', '/api/settings');
    expect(res.status).toBe(200);
    expect(res.body.breaker).toEqual({ errorRate: 0.05, minCalls: 20, timeouts: 5, windowSeconds: 60, openSeconds: 30 });
    expect(res.body.limits).toMatchObject({ perModel: {}, queueNoticeAfterSeconds: 15 });
    expect(res.body.alerts).toEqual({ webhooks: [], chats: [] });
  });

  it('a concurrency limit set here queues the next messages behind the one in flight', async () => {
    const put = await stack.api('PUT', '/api/settings/limits', { concurrency: 1, queueNoticeAfterSeconds: 60 });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ concurrency: 1, perModel: {} });
    stack.fake.enqueue('qwen3:32b', { firstTokenDelayMs: 1500 });
    const [first, second] = await Promise.all([
      stack.sandbox({ text: '慢的那条', conversationId: uniq('c') }),
      new Promise((r) => setTimeout(r, 300)).then(() => stack.sandbox({ text: '排队的那条', conversationId: uniq('c') })),
    ]);
    expect(first.body.status).toBe('replied');
    expect(second.body.status).toBe('replied');
    expect(second.body.trace.find((s: { step: string }) => s.step === 'queue')).toMatchObject({ output: { limit: '1 calls at once in total' } });
    await stack.api('PUT', '/api/settings/limits', {});
    expect((await stack.imflow.catalog.limitSettings()).concurrency).toBeUndefined();
  });

  it('refuses bad values naming the field, and unknown settings', async () => {
    const bad = await stack.api('PUT', '/api/settings/breaker', { errorRate: 2 });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/^invalid breaker:.*errorRate/);
    expect((await stack.api('PUT', '/api/settings/breaker', { errorRate: 0.1, colour: 'red' })).status).toBe(400);
    expect((await stack.api('PUT', '/api/settings/secrets', {})).status).toBe(404);
    expect((await stack.api('PUT', '/api/settings/alerts', { webhooks: ['ftp://x'] })).body.error).toMatch(/webhooks/);
  });

  it('keeps alert webhook tokens from viewers and from the audit log; only admins change settings', async () => {
    const put = await stack.api('PUT', '/api/settings/alerts', { webhooks: [HOOK] });
    expect(put.body.webhooks).toEqual([HOOK]);
    expect((await stack.api('GET', '/api/settings')).body.alerts.webhooks).toEqual([HOOK]);
    const seen = await stack.api('GET', '/api/settings', undefined, viewer);
    expect(seen.status).toBe(200);
    expect(seen.body.alerts.webhooks).toEqual(['https://oapi.dingtalk.com/…']);
    expect((await stack.api('PUT', '/api/settings/breaker', { openSeconds: 5 }, viewer)).status).toBe(403);
    const rows = (await stack.imflow.db.pool.query(`SELECT action, subject, detail FROM audit_log WHERE action = 'settings.update' ORDER BY id`)).rows;
    expect(rows.map((r) => r.subject)).toEqual(['limits', 'limits', 'alerts']);
    expect(JSON.stringify(rows)).not.toContain('alert-token');
  });
});
