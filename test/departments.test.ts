// Department permissions: /api/departments and the config, and their enforcement inside the activities —
// a sales user never receives finance chunks nor calls finance tools, whatever the pipeline asks for.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCallTool } from '../activities/call-tool.js';
import { verifyAuditChain } from '../runtime/audit.js';
import { parseConfig } from '../runtime/config.js';
import { senderProfile } from '../runtime/departments.js';
import { startStack, uniq, waitFor, type Stack } from './helpers/stack.js';

let stack: Stack;
let ledger: http.Server;
let ledgerCalls = 0;
beforeAll(async () => {
  ledger = http.createServer((_req, res) => {
    ledgerCalls++;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ balance: 1200 }));
  });
  await new Promise<void>((r) => ledger.listen(0, '127.0.0.1', r));
  const host = `127.0.0.1:${(ledger.address() as AddressInfo).port}`;
  stack = await startStack({
    namespace: 'it-departments',
    config: {
      tools: {
        allowedHosts: [host],
        definitions: [
          { id: 'finance-ledger', name: 'finance_ledger', description: '查询部门预算余额', url: `http://${host}/ledger`, parameters: { type: 'object', properties: {} } },
          { id: 'open-weather', name: 'weather', description: '天气', url: `http://${host}/weather`, parameters: { type: 'object', properties: {} } },
        ],
      },
      departments: [
        { id: 'finance', name: '财务部', knowledgeBases: ['finance-kb'], tools: ['finance-ledger'], members: [{ senderId: 'fin-amy' }] },
        { id: 'sales', name: '销售部', members: [{ senderId: 'sales-bob', role: 'manager' }] },
      ],
    },
  });
}, 120_000);
afterAll(async () => {
  await stack?.stop();
  ledger?.close();
});

const query = (sql: string, params: unknown[] = []) => stack.imflow.db.pool.query(sql, params).then((r) => r.rows);
const upload = (base: string, name: string, body: string) =>
  fetch(`${stack.url}/api/knowledge-bases/${base}/documents?name=${encodeURIComponent(name)}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${stack.token}`, 'content-type': 'text/markdown' },
    body,
  }).then(async (r) => (await r.json()) as { id: string });
const indexed = (base: string, id: string) =>
  waitFor(`${id} indexed`, async () => (await stack.api('GET', `/api/knowledge-bases/${base}/documents/${id}`)).body.status === 'ready');

describe('/api/departments', () => {
  it('loads departments and members from the config, with roles', async () => {
    const list = (await stack.api('GET', '/api/departments')).body;
    expect(list).toEqual([
      { id: 'finance', name: '财务部', knowledgeBases: ['finance-kb'], tools: ['finance-ledger'], pipelines: [], source: 'config', members: 1 },
      { id: 'sales', name: '销售部', knowledgeBases: [], tools: [], pipelines: [], source: 'config', members: 1 },
    ]);
    expect(await senderProfile(stack.imflow.db.pool, 'any-channel', 'sales-bob')).toEqual({ departments: ['sales'], roles: ['manager'] });
  });

  it('creates, edits and deletes departments and members, auditing each change', async () => {
    const created = await stack.api('POST', '/api/departments', { id: 'hr', name: '人力资源部', knowledgeBases: ['hr-kb'], members: [{ senderId: 'hr-cat', channelId: 'dt-1' }] });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ id: 'hr', source: 'api', members: 1 });
    expect((await stack.api('POST', '/api/departments', { id: 'hr', name: 'again' })).status).toBe(409);
    // a member on one channel is not that id on another channel
    expect((await senderProfile(stack.imflow.db.pool, 'dt-1', 'hr-cat')).departments).toEqual(['hr']);
    expect((await senderProfile(stack.imflow.db.pool, 'fs-1', 'hr-cat')).departments).toEqual([]);

    const updated = await stack.api('PUT', '/api/departments/hr', { name: '人力资源', tools: ['open-weather'] });
    expect(updated.body).toMatchObject({ name: '人力资源', knowledgeBases: [], tools: ['open-weather'] });
    const added = await stack.api('POST', '/api/departments/hr/members', { members: [{ senderId: 'hr-dan', role: 'lead' }] });
    expect(added.body).toEqual([
      { senderId: 'hr-dan', channelId: '*', role: 'lead' },
      { senderId: 'hr-cat', channelId: 'dt-1' },
    ]);
    expect((await stack.api('DELETE', '/api/departments/hr/members/dt-1/hr-cat')).status).toBe(204);
    expect((await stack.api('DELETE', '/api/departments/hr/members/dt-1/hr-cat')).status).toBe(404);
    expect((await stack.api('GET', '/api/departments/hr/members')).body).toEqual([{ senderId: 'hr-dan', channelId: '*', role: 'lead' }]);
    expect((await stack.api('DELETE', '/api/departments/hr')).status).toBe(204);
    expect((await stack.api('GET', '/api/departments/hr')).status).toBe(404);
    expect((await senderProfile(stack.imflow.db.pool, 'dt-1', 'hr-dan')).departments).toEqual([]);

    const actions = (await query(`SELECT action FROM audit_log WHERE subject = 'hr' ORDER BY id`)).map((r) => r.action);
    expect(actions).toEqual(['department.create', 'department.update', 'department.members.add', 'department.members.remove', 'department.delete']);
    expect((await verifyAuditChain(stack.imflow.db.pool)).ok).toBe(true);
  });

  it('refuses bad input naming the field, and needs the admin token', async () => {
    expect((await stack.api('POST', '/api/departments', { id: 'bad id', name: 'x' })).body.error).toMatch(/id: letters, digits/);
    expect((await stack.api('POST', '/api/departments', { id: 'x' })).body.error).toMatch(/name/);
    expect((await stack.api('POST', '/api/departments/sales/members', { members: [{ senderId: '' }] })).body.error).toMatch(/^invalid request: members\.0\.senderId/);
    expect((await stack.api('PUT', '/api/departments/nope', { name: 'x' })).status).toBe(404);
    expect((await stack.api('GET', '/api/departments', undefined, { authorization: 'Bearer wrong' })).status).toBe(401);
  });

  it('re-applying the config replaces config members and keeps those added through the API', async () => {
    await stack.api('POST', '/api/departments/sales/members', { members: [{ senderId: 'sales-eve' }] });
    const raw = JSON.parse((await import('node:fs')).readFileSync(stack.configFile, 'utf8'));
    raw.departments[1].members = [{ senderId: 'sales-fay' }];
    await stack.imflow.catalog.upsertFromConfig(parseConfig(raw));
    const members = (await stack.api('GET', '/api/departments/sales/members')).body.map((m: { senderId: string }) => m.senderId);
    expect(members.sort()).toEqual(['sales-eve', 'sales-fay']);
  });
});

describe('enforcement inside the activities', () => {
  it('a sales user never receives finance chunks; a finance user does', async () => {
    await stack.api('POST', '/api/knowledge-bases', { id: 'finance-kb', name: '财务制度' });
    await stack.api('POST', '/api/knowledge-bases', { id: 'faq-kb', name: '公司FAQ' });
    const fin = await upload('finance-kb', 'expense.md', '# 报销制度\n\n报销审批：单笔超过五千元的报销需财务总监审批。');
    const faq = await upload('faq-kb', 'faq.md', '# 报销常见问题\n\n报销单在OA系统提交，审批进度可在OA查看。');
    await indexed('finance-kb', fin.id);
    await indexed('faq-kb', faq.id);

    const ask = async (senderId: string) => {
      const res = await stack.sandbox({ text: '报销审批需要谁批准？', senderId, conversationId: uniq('c') });
      expect(res.status).toBe(200);
      const system = stack.fake.requests.at(-1)!.messages[0].content as string;
      return { retrieve: res.body.trace.find((s: { step: string }) => s.step === 'retrieve'), system };
    };
    const sales = await ask('sales-bob');
    expect(sales.retrieve.output).toMatchObject({ denied: ['finance-kb'] });
    expect(sales.retrieve.output.hits.map((h: { documentId: string }) => h.documentId)).toEqual([faq.id]);
    expect(sales.system).toContain('OA系统');
    expect(sales.system).not.toContain('五千元');

    const finance = await ask('fin-amy');
    expect(finance.retrieve.output.denied).toBeUndefined();
    expect(finance.retrieve.output.hits.map((h: { documentId: string }) => h.documentId)).toContain(fin.id);
    expect(finance.system).toContain('五千元');
  });

  it('callTool refuses a finance tool to a sales user, whatever the arguments, and calls it for finance', async () => {
    const callTool = makeCallTool({ db: stack.imflow.db.pool, catalog: stack.imflow.catalog });
    const before = ledgerCalls;
    const denied = await callTool({ toolId: 'finance-ledger', argumentsJson: '{}', callId: 't1', requester: { channelId: 'sandbox', senderId: 'sales-bob' } });
    expect(denied).toEqual({ ok: false, error: 'finance_ledger: not permitted for this user', denied: true });
    expect(ledgerCalls).toBe(before);
    const allowed = await callTool({ toolId: 'finance-ledger', argumentsJson: '{}', callId: 't2', requester: { channelId: 'sandbox', senderId: 'fin-amy' } });
    expect(allowed).toEqual({ ok: true, output: { balance: 1200 } });
    // a tool granted to no department is open to everyone
    expect(await callTool({ toolId: 'open-weather', argumentsJson: '{}', callId: 't3', requester: { channelId: 'sandbox', senderId: 'stranger' } })).toMatchObject({ ok: true });
    expect(ledgerCalls).toBe(before + 2);
  });
});
