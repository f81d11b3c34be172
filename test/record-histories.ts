// Records the golden workflow histories that test/replay.test.ts replays.
//   npm run histories:record
// Re-record only on purpose: a change to workflow code that fails replay against the committed
// histories would break runs already in flight; guard such changes with patched() instead.
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { ingestMessage } from '../api/ingest.js';
import { parseConfig } from '../runtime/config.js';
import { projectRoot, startImflow } from '../runtime/imflow.js';
import { conversationWorkflowId } from '../workflows/names.js';
import { startFakeModelServer } from './fakes/model-server.js';
import { testConfig } from './helpers/stack.js';
import { inbound } from './helpers/messages.js';
import { startTestTemporal } from './helpers/temporal.js';

const outDir = path.join(projectRoot, 'test', 'histories');
const { cli, dir, server } = await startTestTemporal('imflow-record-', ['--dynamic-config-value', 'limit.historyCount.suggestContinueAsNew=40']);
const fake = await startFakeModelServer();
// the ERP of the invoice pipeline below
const erp = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"issued"}'));
await new Promise<void>((r) => erp.listen(0, '127.0.0.1', r));
const erpHost = `127.0.0.1:${(erp.address() as AddressInfo).port}`;
const config = parseConfig({
  // one model call at a time, so the queued scenario below has to wait (and is told so)
  ...testConfig(fake.baseURL, {
    limits: { concurrency: 1, queueNoticeAfterSeconds: 1 },
    tools: {
      allowedHosts: [erpHost],
      definitions: [{ id: 'order-invoice', name: 'get_order_invoice', description: '发票状态', url: `http://${erpHost}/orders/{{args.orderId}}`, parameters: { type: 'object', properties: { orderId: { type: 'string' } } } }],
    },
    pipelines: [{ id: 'invoice', name: '发票', graph: invoiceGraph() }],
  }),
  channels: [{ id: 'mention-only', type: 'sandbox', respondTo: 'mention' }],
});

/** Every kind of node: a tool node, an llm with a tool, a condition and both of its replies. */
function invoiceGraph() {
  const at = (x: number, y = 0) => ({ x, y });
  return {
    nodes: [
      { id: 'when', type: 'trigger', position: at(0), data: { keywordsAny: ['发票'] } },
      { id: 'lookup', type: 'tool', position: at(200), data: { tool: 'order-invoice', arguments: { orderId: '20240521-8892' }, saveAs: 'invoice' } },
      { id: 'ask', type: 'llm', position: at(400), data: { systemPrompt: '发票状态：{{vars.invoice}}', tools: ['order-invoice'] } },
      { id: 'check', type: 'condition', position: at(600), data: { subject: 'reply', operator: 'contains', value: '联系人工' } },
      { id: 'handoff', type: 'reply', position: at(800, -80), data: { buttons: [{ label: '转接人工客服' }] } },
      { id: 'answer', type: 'reply', position: at(800, 80), data: {} },
    ],
    edges: [
      { id: 'e1', source: 'when', target: 'lookup' },
      { id: 'e2', source: 'lookup', target: 'ask' },
      { id: 'e3', source: 'ask', target: 'check' },
      { id: 'e4', source: 'check', target: 'handoff', sourceHandle: 'true' },
      { id: 'e5', source: 'check', target: 'answer', sourceHandle: 'false' },
    ],
  };
}
const imflow = await startImflow({ mode: 'all', config, dataDir: dir, port: 0, temporalAddress: server.address, adminToken: 'record' });
const client = imflow.client;

const waitForResult = async (id: string) => {
  for (;;) {
    try {
      return await client.workflow.getHandle(id).result();
    } catch (err) {
      if ((err as Error).name !== 'WorkflowNotFoundError') return undefined; // failed runs are recorded too
      await new Promise((r) => setTimeout(r, 50));
    }
  }
};
// The CLI writes the same JSON the Temporal UI downloads, which Worker.runReplayHistory accepts.
const save = async (name: string, workflowId: string, runId?: string) => {
  const args = ['workflow', 'show', '--address', server.address, '-w', workflowId, ...(runId ? ['-r', runId] : []), '--output', 'json'];
  const json = execFileSync(cli, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  fs.writeFileSync(path.join(outDir, `${name}.json`), json);
  console.log(`recorded ${name} (${JSON.parse(json).events.length} events)`);
};

try {
  // message: a plain answer; a retried and then fallen-back model; an ignored message; a run that fails.
  // One at a time, so each run consumes the failures scripted for it.
  const conv = 'recorded-conversation';
  const run = async (m: ReturnType<typeof inbound>, script: () => void) => {
    script();
    await ingestMessage(client, m);
    await waitForResult(`msg:${m.channelId}:${m.platformMessageId}`);
  };
  const plain = inbound({ conversationId: conv, platformMessageId: 'm-plain', text: '你好' });
  await run(plain, () => fake.enqueue('qwen3:32b', { text: '<think>plan</think>您好！' }));
  await ingestMessage(client, plain); // a re-delivery
  await run(inbound({ conversationId: conv, platformMessageId: 'm-fallback', text: '备用模型' }), () =>
    fake.enqueue('qwen3:32b', { status: 503 }, { status: 503 }, { status: 503 }),
  );
  await run(inbound({ channelId: 'mention-only', chatType: 'group', mentioned: false, conversationId: 'g', platformMessageId: 'm-ignored' }), () => {});
  await run(inbound({ conversationId: conv, platformMessageId: 'm-failed', text: '失败' }), () => {
    fake.enqueue('qwen3:32b', { status: 400 });
    fake.enqueue('qwen2:7b', { status: 400 });
  });
  // message: one that waits for a model slot behind a slow call, and gets the queue notice
  fake.enqueue('qwen3:32b', { firstTokenDelayMs: 2500 });
  const slow = inbound({ conversationId: 'recorded-slow', platformMessageId: 'm-slow', text: '慢' });
  const queued = inbound({ conversationId: 'recorded-queued', platformMessageId: 'm-queued', text: '排队' });
  await ingestMessage(client, slow);
  while (!fake.requests.some((r) => r.messages.at(-1).content === '慢')) await new Promise((r) => setTimeout(r, 20));
  await ingestMessage(client, queued);
  for (const m of [slow, queued]) await waitForResult(`msg:sandbox:${m.platformMessageId}`);
  await save('message-queued', 'msg:sandbox:m-queued');

  // message: every model down for a while: the run waits and answers when one is back
  const down = { status: 503 };
  await run(inbound({ conversationId: 'recorded-outage', platformMessageId: 'm-outage', text: '在吗' }), () => {
    fake.enqueue('qwen3:32b', down, down, down);
    fake.enqueue('qwen2:7b', down, down, down);
  });
  await save('message-model-outage', 'msg:sandbox:m-outage');
  // message: a published pipeline with a tool node, a model that calls a tool, and a condition
  await run(inbound({ conversationId: 'recorded-invoice', platformMessageId: 'm-pipeline', text: '发票开了吗' }), () =>
    fake.enqueue('qwen3:32b', { toolCalls: [{ name: 'get_order_invoice', arguments: '{"orderId":"20240521-8892"}' }] }, { text: '已开具，如有疑问请联系人工' }),
  );
  await save('message-pipeline', 'msg:sandbox:m-pipeline');

  await save('message-replied', 'msg:sandbox:m-plain');
  await save('message-fallback', 'msg:sandbox:m-fallback');
  await save('message-ignored', 'msg:mention-only:m-ignored');
  await save('message-failed', 'msg:sandbox:m-failed');

  // conversation: enough messages to continue-as-new once
  for (let i = 0; i < 6; i++) {
    const m = inbound({ conversationId: conv, platformMessageId: `m-more-${i}`, text: `第${i}条` });
    await ingestMessage(client, m);
    await waitForResult(`msg:sandbox:${m.platformMessageId}`);
  }
  const handle = client.workflow.getHandle(conversationWorkflowId('sandbox', conv));
  const firstRunId = (await handle.describe()).raw.workflowExecutionInfo?.firstRunId ?? undefined;
  await save('conversation-continued', conversationWorkflowId('sandbox', conv), firstRunId);
} finally {
  await imflow.stop();
  await fake.close();
  erp.close();
  await server.stop();
  fs.rmSync(dir, { recursive: true, force: true });
}
