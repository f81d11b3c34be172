import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyAuditChain } from '../runtime/audit.js';
import { startStack, uniq, type Stack } from './helpers/stack.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ namespace: 'it-channels' });
});
afterAll(() => stack?.stop());

const SECRET = 'app-secret-0123456789';

describe('/api/channels', () => {
  it('creates a channel with write-only secrets, sealed at rest, and shows its callback URL', async () => {
    const res = await stack.api('POST', '/api/channels', {
      id: 'fs-sales', type: 'feishu', name: '销售群', appId: 'cli_1', appSecret: SECRET, verificationToken: 'vtok-secret', encryptKey: 'ekey-secret',
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      id: 'fs-sales', type: 'feishu', name: '销售群', appId: 'cli_1', enabled: true, respondTo: 'mention',
      secrets: { appSecret: true, verificationToken: true, encryptKey: true },
      callbackUrl: `${stack.url}/webhooks/feishu/fs-sales`,
    });
    expect(JSON.stringify(res.body)).not.toContain(SECRET);

    const list = await stack.api('GET', '/api/channels');
    expect(list.body.channels.map((c: any) => c.id)).toContain('fs-sales');
    expect(JSON.stringify(list.body)).not.toMatch(/secret-/);

    const row = (await stack.imflow.db.pool.query('SELECT settings::text, secrets_enc FROM channels WHERE id = $1', ['fs-sales'])).rows[0];
    expect(row.settings).not.toContain('secret');
    expect(row.secrets_enc).toMatch(/^v1:/);
    expect(row.secrets_enc).not.toContain(SECRET);
    // what the adapters see is the real secret
    expect((await stack.imflow.catalog.channel('fs-sales'))).toMatchObject({ appSecret: SECRET });
  });

  it('updates by merging, clears a secret with null, and keeps id and type fixed', async () => {
    const upd = await stack.api('PATCH', '/api/channels/fs-sales', { name: 'Sales', respondTo: 'all', encryptKey: null });
    expect(upd.status).toBe(200);
    expect(upd.body).toMatchObject({ name: 'Sales', respondTo: 'all', secrets: { appSecret: true, encryptKey: false } });
    expect(await stack.imflow.catalog.channel('fs-sales')).toMatchObject({ appSecret: SECRET, name: 'Sales' });

    const bad = await stack.api('PATCH', '/api/channels/fs-sales', { respondTo: 'sometimes' });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/respondTo/);
    expect((await stack.api('PATCH', '/api/channels/fs-sales', { type: 'wecom' })).status).toBe(400);
    expect((await stack.api('PATCH', '/api/channels/nope', { name: 'x' })).status).toBe(404);

    // moving the channel to another server must not carry the stored secret along
    const moved = await stack.api('PATCH', '/api/channels/fs-sales', { apiBase: 'https://evil.example' });
    expect(moved.status).toBe(400);
    expect(moved.body.error).toMatch(/apiBase: points at another server: give appSecret/);
    const resent = await stack.api('PATCH', '/api/channels/fs-sales', { apiBase: 'https://open.larksuite.com', appSecret: SECRET, verificationToken: null });
    expect(resent.status).toBe(200);
    expect(resent.body.apiBase).toBe('https://open.larksuite.com');
  });

  it('rejects bad channels with the field named, and duplicates', async () => {
    const cases: [unknown, number, RegExp][] = [
      [{ id: 'Bad Id', type: 'wecom' }, 400, /id/],
      [{ id: 'wc', type: 'slack' }, 400, /type/],
      [{ id: 'wc', type: 'wecom', encodingAESKey: 'short' }, 400, /encodingAESKey/],
      [{ id: 'wc', type: 'wecom', colour: 'red' }, 400, /colour/],
      [{ id: 'fs-sales', type: 'feishu' }, 409, /already exists/],
      [{ id: 'sandbox', type: 'sandbox' }, 409, /already exists/],
    ];
    for (const [body, status, message] of cases) {
      const res = await stack.api('POST', '/api/channels', body);
      expect(res.status, JSON.stringify(body)).toBe(status);
      expect(res.body.error).toMatch(message);
    }
  });

  it('a disabled channel answers nothing and says why; enabling it again restores it', async () => {
    await stack.api('POST', '/api/channels', { id: 'quiet', type: 'sandbox', respondTo: 'all' });
    expect((await stack.api('POST', '/api/channels/quiet/disable')).body.enabled).toBe(false);
    const off = await stack.sandbox({ channelId: 'quiet', text: 'anyone?', conversationId: uniq('c') });
    expect(off.body.status).toBe('ignored');
    expect(off.body.trace[0].output).toMatchObject({ allowed: false, reason: 'channel is disabled' });
    await stack.api('POST', '/api/channels/quiet/enable');
    const on = await stack.sandbox({ channelId: 'quiet', text: 'anyone?', conversationId: uniq('c') });
    expect(on.body.status).toBe('replied');
  });

  it('deletes, and audits every change without secret values', async () => {
    expect((await stack.api('DELETE', '/api/channels/quiet')).status).toBe(204);
    expect((await stack.api('GET', '/api/channels/quiet')).status).toBe(404);
    const { rows } = await stack.imflow.db.pool.query(`SELECT action, subject, detail::text AS detail FROM audit_log WHERE action LIKE 'channel.%' ORDER BY id`);
    expect(rows.map((r) => `${r.action} ${r.subject}`)).toEqual([
      'channel.create fs-sales', 'channel.update fs-sales', 'channel.update fs-sales', 'channel.create quiet', 'channel.disable quiet', 'channel.enable quiet', 'channel.delete quiet',
    ]);
    expect(rows[0].detail).toContain('appSecret');
    for (const r of rows) expect(r.detail).not.toMatch(/secret-/);
    expect(await verifyAuditChain(stack.imflow.db.pool)).toMatchObject({ ok: true });
  });
});

describe('webhooks: requests that start nothing', () => {
  it('unknown channel, wrong platform, a channel without a webhook, a body over the limit', async () => {
    const before = (await stack.imflow.client.workflow.count()).count;
    const post = (path: string, body: string) => fetch(stack.url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const unknown = await post('/webhooks/dingtalk/nope', '{}');
    expect(unknown.status).toBe(404);
    expect((await unknown.json()).error).toMatch(/no dingtalk channel "nope"/);
    expect((await post('/webhooks/dingtalk/fs-sales', '{}')).status).toBe(404); // fs-sales is a Feishu channel
    expect((await post('/webhooks/sandbox/sandbox', '{}')).status).toBe(404);
    expect((await post('/webhooks/feishu/fs-sales', 'x'.repeat(300 * 1024))).status).toBe(413);
    expect((await stack.imflow.client.workflow.count()).count).toBe(before);
  });
});

describe('sandbox payloads', () => {
  it('a platform-native payload is parsed by its adapter; a bad one is a 400', async () => {
    const ok = await stack.sandbox({ channelType: 'sandbox', payload: { text: '从载荷来', messageId: 'p-1', conversationId: uniq('c') } });
    expect(ok.body.reply.text).toBe('fake answer to: 从载荷来');
    expect(ok.body.workflowId).toBe('msg:sandbox:sandbox-p-1');
    const bad = await stack.sandbox({ payload: { txt: 'typo' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/^payload/);
  });
});
