// /api/tools end to end: CRUD with write-only secrets, the allowlist, config-as-code, and the callTool
// activity reading what the API stored, against a fake ERP on 127.0.0.1.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCallTool } from '../activities/call-tool.js';
import { verifyAuditChain } from '../runtime/audit.js';
import { parseConfig } from '../runtime/config.js';
import { startStack, testConfig, type Stack } from './helpers/stack.js';

const TOKEN = 'erp-token-9f8e7d6c';
let stack: Stack;
let erp: http.Server;
let erpUrl = '';
const erpSeen: { url: string; authorization?: string }[] = [];

beforeAll(async () => {
  // the seed's ERP: the invoice status of order 20240521-8892, for callers presenting the token
  erp = http.createServer((req, res) => {
    erpSeen.push({ url: req.url!, authorization: req.headers.authorization });
    const ok = req.headers.authorization === `Bearer ${TOKEN}`;
    const status = !ok ? 401 : req.url === '/orders/20240521-8892/invoice' ? 200 : 404;
    const body = status === 200 ? { status: 'issued', issuedAt: '2024-05-21T15:02:00+08:00', pdfUrl: 'https://erp.example.com/invoices/8892.pdf' } : { error: status === 401 ? 'unauthorized' : 'no such order' };
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  await new Promise<void>((r) => erp.listen(0, '127.0.0.1', r));
  erpUrl = `http://127.0.0.1:${(erp.address() as AddressInfo).port}`;
  stack = await startStack({ namespace: 'it-tools' });
});
afterAll(async () => {
  await stack?.stop();
  await new Promise((r) => erp?.close(r));
});

const query = (sql: string, params: unknown[] = []) => stack.imflow.db.pool.query(sql, params).then((r) => r.rows);
const invoiceTool = () => ({
  id: 'order-invoice',
  name: 'get_order_invoice',
  description: '查询订单的电子发票开具状态',
  parameters: { type: 'object', properties: { orderId: { type: 'string', pattern: '^\\d{8}-\\d{4}$' } }, required: ['orderId'] },
  url: `${erpUrl}/orders/{{args.orderId}}/invoice`,
  headers: { Authorization: 'Bearer {{secrets.ERP_TOKEN}}' },
  secrets: { ERP_TOKEN: TOKEN },
  responseMapping: ['status', 'issuedAt', 'pdfUrl'],
  timeoutMs: 5000,
});
const callTool = () => makeCallTool({ db: stack.imflow.db.pool, catalog: stack.imflow.catalog });

const requester = { channelId: 'sandbox', senderId: 'tools-api-tester' };

describe('/api/tools', () => {
  it('keeps the allowlist, refusing bad entries by field, and audits changes', async () => {
    expect((await stack.api('GET', '/api/tools/allowed-hosts')).body).toEqual({ allowedHosts: [] });
    const bad = await stack.api('PUT', '/api/tools/allowed-hosts', { allowedHosts: ['erp.example.com', 'https://x.example.com/'] });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/^invalid request: allowedHosts\.1: "https:\/\/x\.example\.com\/" is not a host/);
    const host = new URL(erpUrl).host;
    const put = await stack.api('PUT', '/api/tools/allowed-hosts', { allowedHosts: [host, '*.erp.example.com'] });
    expect(put.body).toEqual({ allowedHosts: [host, '*.erp.example.com'] });
    const [row] = await query(`SELECT detail FROM audit_log WHERE action = 'tools.allowedHosts.update' ORDER BY id DESC LIMIT 1`);
    expect(row.detail).toMatchObject({ added: [host, '*.erp.example.com'], removed: [] });
  });

  it('creates the invoice tool with a write-only secret: set, sealed, never shown or audited', async () => {
    const created = await stack.api('POST', '/api/tools', invoiceTool());
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      id: 'order-invoice',
      name: 'get_order_invoice',
      method: 'GET',
      idempotent: true,
      retry: { maxAttempts: 3, allowNonIdempotent: false },
      responseMapping: { status: 'status', issuedAt: 'issuedAt', pdfUrl: 'pdfUrl' },
      secrets: { ERP_TOKEN: true },
      source: 'api',
    });
    expect((await stack.api('POST', '/api/tools', invoiceTool())).status).toBe(409);
    const listed = await stack.api('GET', '/api/tools');
    expect(listed.body.tools.map((t: any) => t.id)).toEqual(['order-invoice']);
    const read = await stack.api('GET', '/api/tools/order-invoice');
    for (const body of [created.body, listed.body, read.body]) expect(JSON.stringify(body)).not.toContain(TOKEN);
    const [stored] = await query(`SELECT definition::text AS d, secrets_enc FROM tools WHERE id = 'order-invoice'`);
    expect(stored.d + stored.secrets_enc).not.toContain(TOKEN);
    const audit = await query(`SELECT action, detail FROM audit_log WHERE subject = 'order-invoice'`);
    expect(audit).toEqual([{ action: 'tool.create', detail: { name: 'get_order_invoice', method: 'GET', origin: erpUrl, secretsSet: ['ERP_TOKEN'] } }]);
  });

  it('refuses bad tools with a 400 naming the field', async () => {
    const error = async (over: Record<string, unknown>, method = 'POST', p = '/api/tools') => (await stack.api(method, p, { ...invoiceTool(), id: 'other', name: 'other', ...over })).body.error;
    expect(await error({ name: 'get invoice!' })).toMatch(/^invalid tool: name: letters, digits/);
    expect(await error({ parameters: { type: 'object', properties: { a: { type: 'strin' } } } })).toMatch(/^invalid tool: parameters: not a valid JSON schema/);
    expect(await error({ method: 'CONNECT' })).toMatch(/^invalid tool: method:/);
    expect(await error({ headers: { 'X-Key': '{{secrets.ERP_TOKEN}}', 'bad header': 'x' } })).toMatch(/^invalid tool: headers\.bad header: not an HTTP header name/);
    expect(await error({ secrets: { 'bad-name': 'x' } })).toMatch(/^invalid tool: secrets\.bad-name: a secret name/);
    expect(await error({ name: 'get_order_invoice' })).toMatch(/^invalid tool: name: another tool is already named "get_order_invoice"/);
    expect((await stack.api('PATCH', '/api/tools/order-invoice', { timeoutMs: 0 })).body.error).toMatch(/^invalid tool: timeoutMs:/);
    expect((await stack.api('PATCH', '/api/tools/order-invoice', { id: 'x' })).body.error).toBe('invalid request: id: a tool id cannot change');
    expect((await stack.api('GET', '/api/tools/nope')).status).toBe(404);
  });

  it('updates: merges fields and secrets, and will not carry secrets to another server', async () => {
    const patched = await stack.api('PATCH', '/api/tools/order-invoice', { description: '发票状态', secrets: { EXTRA: 'extra-value' } });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ description: '发票状态', secrets: { ERP_TOKEN: true, EXTRA: true } });
    const moved = await stack.api('PATCH', '/api/tools/order-invoice', { url: 'https://collector.example.net/{{args.orderId}}' });
    expect(moved.status).toBe(400);
    expect(moved.body.error).toBe('invalid request: url: points at another server: give secrets (ERP_TOKEN, EXTRA) again, or null to drop them');
    const cleared = await stack.api('PATCH', '/api/tools/order-invoice', { secrets: { EXTRA: null } });
    expect(cleared.body.secrets).toEqual({ ERP_TOKEN: true });
    const [row] = await query(`SELECT detail FROM audit_log WHERE subject = 'order-invoice' AND action = 'tool.update' ORDER BY id DESC LIMIT 1`);
    expect(row.detail).toEqual({ changed: [], secretsSet: [], secretsCleared: ['EXTRA'] });
    const all = JSON.stringify(await query(`SELECT detail FROM audit_log`));
    expect(all).not.toContain(TOKEN);
    expect(all).not.toContain('extra-value');
  });

  it('test-calls the tool: the ERP receives the order number and the token, the answer is the mapped status', async () => {
    erpSeen.length = 0;
    const res = await stack.api('POST', '/api/tools/order-invoice/test', { arguments: { orderId: '20240521-8892' } });
    expect(res.body).toEqual({ ok: true, status: 200, output: { status: 'issued', issuedAt: '2024-05-21T15:02:00+08:00', pdfUrl: 'https://erp.example.com/invoices/8892.pdf' } });
    expect(erpSeen).toEqual([{ url: '/orders/20240521-8892/invoice', authorization: `Bearer ${TOKEN}` }]);
  });

  it('serves the callTool activity from what the API stored, and honours allowlist changes', async () => {
    const call = callTool();
    expect(await call({ toolId: 'order-invoice', argumentsJson: '{"orderId":"20240521-8892"}', callId: 'run-1/call-1', requester })).toEqual({
      ok: true,
      output: { status: 'issued', issuedAt: '2024-05-21T15:02:00+08:00', pdfUrl: 'https://erp.example.com/invoices/8892.pdf' },
    });
    expect(await call({ toolId: 'order-invoice', argumentsJson: '{"order": "8892"}', callId: 'run-1/call-2', requester })).toEqual({
      ok: false,
      error: "invalid arguments: (arguments): must have required property 'orderId'",
    });
    expect(await call({ toolId: 'order-invoice', argumentsJson: '{"orderId":"20240101-0001"}', callId: 'run-1/call-3', requester })).toEqual({ ok: false, error: 'HTTP 404: {"error":"no such order"}' });
    // the same ERP reached as localhost: only 127.0.0.1:<port> is listed
    await stack.api('PATCH', '/api/tools/order-invoice', { url: invoiceTool().url.replace('127.0.0.1', 'localhost'), secrets: { ERP_TOKEN: TOKEN } });
    expect(await call({ toolId: 'order-invoice', argumentsJson: '{"orderId":"20240521-8892"}', callId: 'run-1/call-4', requester })).toMatchObject({ ok: false, error: expect.stringMatching(/^refused: host localhost:\d+ is not on the tools allowlist/) });
    await stack.api('PATCH', '/api/tools/order-invoice', { url: invoiceTool().url, secrets: { ERP_TOKEN: TOKEN } });
    await stack.api('PUT', '/api/tools/allowed-hosts', { allowedHosts: ['*.erp.example.com'] });
    expect(await call({ toolId: 'order-invoice', argumentsJson: '{"orderId":"20240521-8892"}', callId: 'run-1/call-5', requester })).toMatchObject({ ok: false, error: expect.stringMatching(/^refused: host 127\.0\.0\.1:\d+ is not on the tools allowlist/) });
    await stack.api('PUT', '/api/tools/allowed-hosts', { allowedHosts: [new URL(erpUrl).host] });
  });

  it('upserts tools and the allowlist from the config file', async () => {
    const config = parseConfig({
      ...testConfig(stack.fake.baseURL),
      tools: { allowedHosts: [new URL(erpUrl).host], definitions: [{ ...invoiceTool(), id: 'cfg-invoice', name: 'cfg_invoice', secrets: { ERP_TOKEN: TOKEN } }] },
    });
    await stack.imflow.catalog.upsertFromConfig(config);
    const res = await stack.api('GET', '/api/tools/cfg-invoice');
    expect(res.body).toMatchObject({ source: 'config', name: 'cfg_invoice', secrets: { ERP_TOKEN: true } });
    expect(JSON.stringify(res.body)).not.toContain(TOKEN);
    expect(await callTool()({ toolId: 'cfg-invoice', argumentsJson: '{"orderId":"20240521-8892"}', callId: 'c', requester })).toMatchObject({ ok: true, output: { status: 'issued' } });

    // a restart with the secret left out of the file keeps the one stored (set here, or through the API)
    const { secrets: _omitted, ...withoutSecrets } = config.tools!.definitions[0]!;
    await stack.imflow.catalog.upsertFromConfig({ ...config, tools: { ...config.tools!, definitions: [withoutSecrets] } });
    expect((await stack.api('GET', '/api/tools/cfg-invoice')).body.secrets).toEqual({ ERP_TOKEN: true });
    expect(await callTool()({ toolId: 'cfg-invoice', argumentsJson: '{"orderId":"20240521-8892"}', callId: 'c2', requester })).toMatchObject({ ok: true });
  });

  it('deletes a tool, and the activity then says there is none', async () => {
    expect((await stack.api('DELETE', '/api/tools/order-invoice')).status).toBe(204);
    expect((await stack.api('DELETE', '/api/tools/order-invoice')).status).toBe(404);
    expect(await callTool()({ toolId: 'order-invoice', argumentsJson: '{}', callId: 'c', requester })).toEqual({ ok: false, error: 'there is no tool "order-invoice"' });
    const actions = (await query(`SELECT action FROM audit_log WHERE subject = 'order-invoice' ORDER BY id`)).map((r) => r.action);
    expect(actions).toEqual(['tool.create', 'tool.update', 'tool.update', 'tool.test', 'tool.update', 'tool.update', 'tool.delete']);
    expect((await verifyAuditChain(stack.imflow.db.pool)).ok).toBe(true);
  });
});
