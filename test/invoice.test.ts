// The seed's invoice scenario end to end: a customer asks in a DingTalk group whether the invoice for
// order 20240521-8892 has been issued; the published pipeline retrieves the e-invoice SOP, the model asks
// for the ERP tool, the ERP receives the order number, and the answer with its status and link goes back
// to the group — once, however often DingTalk delivers the message.
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeDingTalk, type FakeDingTalk } from './fakes/dingtalk-server.js';
import { PRIMARY, startStack, uniq, waitFor, type Stack } from './helpers/stack.js';

const APP_KEY = 'dinginvoiceapp01';
const APP_SECRET = 'invoice-app-secret-8Kp2';
const ROBOT_CODE = 'dinginvoicerobot';
const ERP_TOKEN = 'erp-token-invoice-42';
const ORDER = '20240521-8892';
const ERP_ANSWER = { status: 'issued', issuedAt: '2024-05-21T15:02:00+08:00', pdfUrl: 'https://erp.example.com/invoices/8892.pdf' };
const ANSWER = `订单${ORDER}的电子发票已开具（2024-05-21 15:02），下载链接：${ERP_ANSWER.pdfUrl}。按《电子发票SOP》，发票在下单后24小时内开具。`;

let stack: Stack;
let dingtalk: FakeDingTalk;
let erp: http.Server;
const erpSeen: { url: string; authorization?: string }[] = [];

beforeAll(async () => {
  erp = http.createServer((req, res) => {
    erpSeen.push({ url: req.url!, authorization: req.headers.authorization });
    const found = req.headers.authorization === `Bearer ${ERP_TOKEN}` && req.url === `/orders/${ORDER}/invoice`;
    res.writeHead(found ? 200 : 404, { 'content-type': 'application/json' }).end(JSON.stringify(found ? ERP_ANSWER : { error: 'no such order' }));
  });
  await new Promise<void>((r) => erp.listen(0, '127.0.0.1', r));
  const erpHost = `127.0.0.1:${(erp.address() as AddressInfo).port}`;
  dingtalk = await startFakeDingTalk({ appKey: APP_KEY, appSecret: APP_SECRET, robotCode: ROBOT_CODE });
  stack = await startStack({
    namespace: 'it-invoice',
    config: {
      channels: [{ id: 'dt-invoice', type: 'dingtalk', name: '售后群', appKey: APP_KEY, appSecret: APP_SECRET, robotCode: ROBOT_CODE, apiBase: dingtalk.url, oapiBase: dingtalk.url }],
      tools: {
        allowedHosts: [erpHost],
        definitions: [
          {
            id: 'order-invoice',
            name: 'get_order_invoice',
            description: '查询订单的电子发票开具状态',
            parameters: { type: 'object', properties: { orderId: { type: 'string', pattern: '^\\d{8}-\\d{4}$' } }, required: ['orderId'] },
            url: `http://${erpHost}/orders/{{args.orderId}}/invoice`,
            headers: { Authorization: 'Bearer {{secrets.ERP_TOKEN}}' },
            secrets: { ERP_TOKEN },
            responseMapping: ['status', 'issuedAt', 'pdfUrl'],
          },
          { id: 'refund', name: 'issue_refund', description: '退款', method: 'POST', url: `http://${erpHost}/refunds`, parameters: { type: 'object', properties: {} } },
        ],
      },
      departments: [{ id: 'finance', name: '财务部', tools: ['refund'], members: [{ senderId: 'fin-amy' }] }],
    },
  });

  // the e-invoice SOP among other documents, and the pipeline an analyst published in the studio
  await stack.api('POST', '/api/knowledge-bases', { id: 'invoice-sop', name: '电子发票SOP', attachToDefaultPipeline: false });
  for (const [name, text] of [
    ['invoice.md', '# 电子发票SOP\n\n电子发票开具时效：下单后24小时内。发票抬头错误可在七天内申请重开。'],
    ['returns.md', '# 退货政策\n\n签收后七天内可无理由退货，运费由买家承担。'],
  ]) {
    const res = await fetch(`${stack.url}/api/knowledge-bases/invoice-sop/documents?name=${name}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.token}`, 'content-type': 'text/markdown' },
      body: text,
    });
    const { id } = (await res.json()) as { id: string };
    await waitFor(`${name} indexed`, async () => (await stack.api('GET', `/api/knowledge-bases/invoice-sop/documents/${id}`)).body.status === 'ready');
  }
  const at = (x: number) => ({ x, y: 0 });
  const created = await stack.api('POST', '/api/pipelines', {
    id: 'invoice',
    name: '发票查询',
    graph: {
      nodes: [
        { id: 'when', type: 'trigger', position: at(0), data: { keywordsAny: ['发票'] } },
        { id: 'sop', type: 'retrieve', position: at(200), data: { knowledgeBases: ['invoice-sop'], topK: 2 } },
        { id: 'ask', type: 'llm', position: at(400), data: { model: PRIMARY, systemPrompt: '你是客服。只依据参考资料和工具结果回答。', tools: ['order-invoice', 'refund'] } },
        { id: 'answer', type: 'reply', position: at(600), data: {} },
      ],
      edges: [
        { id: 'e1', source: 'when', target: 'sop' },
        { id: 'e2', source: 'sop', target: 'ask' },
        { id: 'e3', source: 'ask', target: 'answer' },
      ],
    },
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  const published = await stack.api('POST', '/api/pipelines/invoice/publish', { note: '发票查询上线' });
  expect(published.status, JSON.stringify(published.body)).toBe(201);
}, 180_000);
afterAll(async () => {
  await stack?.stop();
  await dingtalk?.close();
  await new Promise((r) => erp?.close(r));
});
beforeEach(() => {
  stack.fake.reset();
  dingtalk.reset();
  erpSeen.length = 0;
});

/** A robot callback exactly as DingTalk posts it: JSON body, `timestamp` and HMAC-SHA256 `sign` headers. */
async function postToRobot(text: string, msgId = `msg${crypto.randomBytes(6).toString('hex')}`, senderStaffId = 'customer-lee') {
  const body = JSON.stringify({
    msgtype: 'text',
    text: { content: ` ${text}` },
    msgId,
    createAt: Date.now(),
    conversationType: '2',
    conversationId: `cid${uniq('g')}==`,
    conversationTitle: '售后群',
    senderId: `$:LWCP_v1:$${senderStaffId}==`,
    senderStaffId,
    senderNick: '李先生',
    isInAtList: true,
    chatbotUserId: '$:LWCP_v1:$bot==',
    robotCode: ROBOT_CODE,
    sessionWebhook: dingtalk.openSession(),
    sessionWebhookExpiredTime: Date.now() + 90 * 60_000,
  });
  const timestamp = String(Date.now());
  const sign = crypto.createHmac('sha256', APP_SECRET).update(`${timestamp}\n${APP_SECRET}`).digest('base64');
  const res = await fetch(`${stack.url}/webhooks/dingtalk/dt-invoice`, { method: 'POST', headers: { 'content-type': 'application/json', timestamp, sign }, body });
  expect(res.status).toBe(200);
  return msgId;
}

const toolMessages = (req: { messages: { role: string; content: string | null }[] }) => req.messages.filter((m) => m.role === 'tool');

describe('the invoice scenario', () => {
  it('retrieves the SOP, calls the ERP with the order number and answers the group with its status and link, once', async () => {
    stack.fake.enqueue('qwen3:32b', { toolCalls: [{ name: 'get_order_invoice', arguments: JSON.stringify({ orderId: ORDER }) }] }, { text: ANSWER });
    const question = `@小助手 订单${ORDER}的发票开了吗？`;
    const msgId = await postToRobot(question);
    await postToRobot(question, msgId); // DingTalk re-delivers
    await waitFor('the answer in the group', () => dingtalk.delivered.length > 0);

    expect(erpSeen).toEqual([{ url: `/orders/${ORDER}/invoice`, authorization: `Bearer ${ERP_TOKEN}` }]);
    const [first, second] = stack.fake.requestsFor('qwen3:32b');
    // the SOP chunk reached the model, and the ERP tool was offered by name
    expect(first!.messages[0].content).toContain('下单后24小时内');
    expect(first!.messages[0].content).not.toContain('无理由退货');
    expect(first!.tools!.map((t: { function: { name: string } }) => t.function.name)).toEqual(['get_order_invoice']);
    // the ERP's answer went back to the model as the tool's result
    expect(JSON.parse(toolMessages(second!)[0]!.content!)).toEqual(ERP_ANSWER);
    expect(second!.messages.at(-2)).toMatchObject({ role: 'assistant', tool_calls: [{ function: { name: 'get_order_invoice', arguments: JSON.stringify({ orderId: ORDER }) } }] });

    await new Promise((r) => setTimeout(r, 1500)); // a second reply would have arrived by now
    expect(dingtalk.delivered).toHaveLength(1);
    expect(dingtalk.delivered[0]).toMatchObject({ via: 'session', text: ANSWER, atUserIds: ['customer-lee'] });
    expect(stack.fake.requestsFor('qwen3:32b')).toHaveLength(2);
  });

  it('shows the pipeline, the retrieval, the tool call and the reply in the trace', async () => {
    stack.fake.enqueue('qwen3:32b', { toolCalls: [{ name: 'get_order_invoice', arguments: JSON.stringify({ orderId: ORDER }) }] }, { text: ANSWER });
    const res = await stack.sandbox({ text: `订单${ORDER}的发票开了吗`, senderId: 'customer-lee' });
    expect(res.status).toBe(200);
    const steps = res.body.trace.map((s: { step: string; nodeId?: string }) => `${s.step}${s.nodeId ? `@${s.nodeId}` : ''}`);
    expect(steps).toEqual(['verify', 'loadSession', 'matchRule@when', 'retrieve@sop', 'callModel@ask', 'callTool@ask', 'callModel@ask', 'reply@answer', 'saveSession', 'audit']);
    const tool = res.body.trace.find((s: { step: string }) => s.step === 'callTool');
    expect(tool).toMatchObject({ status: 'ok', input: { tool: 'order-invoice' }, output: { ok: true, output: ERP_ANSWER } });
    expect(res.body.trace.find((s: { step: string }) => s.step === 'matchRule').output).toMatchObject({ pipelineId: 'invoice', pipelineVersion: 1 });
    expect(res.body.reply.text).toBe(ANSWER);
  });

  it('hands malformed arguments and unknown tools back to the model as errors, and it recovers', async () => {
    stack.fake.enqueue(
      'qwen3:32b',
      { toolCalls: [{ name: 'get_order_invoice', arguments: '{"orderId": 8892' }, { name: 'lookup_everything', arguments: '{}' }] },
      { toolCalls: [{ name: 'get_order_invoice', arguments: JSON.stringify({ orderId: ORDER }) }] },
      { text: ANSWER },
    );
    const res = await stack.sandbox({ text: `订单${ORDER}的发票开了吗`, senderId: 'customer-lee' });
    expect(res.status).toBe(200);
    expect(res.body.reply.text).toBe(ANSWER);
    const [, second, third] = stack.fake.requestsFor('qwen3:32b');
    const errors = toolMessages(second!).map((m) => m.content);
    expect(errors[0]).toMatch(/^error: invalid arguments: .*not valid JSON/);
    expect(errors[1]).toBe('error: there is no tool named "lookup_everything"');
    expect(JSON.parse(toolMessages(third!).at(-1)!.content!)).toEqual(ERP_ANSWER);
    expect(erpSeen).toHaveLength(1); // the malformed call never reached the ERP
  });

  it('stops offering tools after maxToolSteps, so a looping model must answer', async () => {
    const loop = { toolCalls: [{ name: 'get_order_invoice', arguments: JSON.stringify({ orderId: ORDER }) }] };
    stack.fake.enqueue('qwen3:32b', loop, loop, loop, loop, { text: '好的' });
    const res = await stack.sandbox({ text: `订单${ORDER}的发票开了吗`, senderId: 'customer-lee' });
    expect(res.body.reply.text).toBe('好的');
    const requests = stack.fake.requestsFor('qwen3:32b');
    expect(requests).toHaveLength(5);
    expect(requests.map((r) => !!r.tools?.length)).toEqual([true, true, true, true, false]);
  });

  it('offers a department tool only to its members', async () => {
    await stack.sandbox({ text: '发票能退款吗', senderId: 'customer-lee' });
    const customer = stack.fake.requestsFor('qwen3:32b').at(-1)!;
    expect(customer.tools!.map((t: { function: { name: string } }) => t.function.name)).toEqual(['get_order_invoice']);
    await stack.sandbox({ text: '发票能退款吗', senderId: 'fin-amy' });
    const finance = stack.fake.requestsFor('qwen3:32b').at(-1)!;
    expect(finance.tools!.map((t: { function: { name: string } }) => t.function.name).sort()).toEqual(['get_order_invoice', 'issue_refund']);
    // asking for the refund tool anyway, by name, reaches nothing
    stack.fake.enqueue('qwen3:32b', { toolCalls: [{ name: 'issue_refund', arguments: '{}' }] }, { text: '无法办理' });
    const res = await stack.sandbox({ text: '发票能退款吗', senderId: 'customer-lee' });
    expect(toolMessages(stack.fake.requestsFor('qwen3:32b').at(-1)!)[0]!.content).toBe('error: there is no tool named "issue_refund"');
    expect(res.body.trace.find((s: { step: string }) => s.step === 'callModel').output.toolsDenied).toEqual(['refund']);
    expect(erpSeen).toEqual([]);
  });

  it('leaves messages the trigger does not match to the default pipeline', async () => {
    const res = await stack.sandbox({ text: '你们几点下班？', senderId: 'customer-lee' });
    expect(res.body.trace.find((s: { step: string }) => s.step === 'matchRule').output.pipelineId).toBe('default');
    expect(stack.fake.requestsFor('qwen3:32b').at(-1)!.tools).toBeUndefined();
  });
});
