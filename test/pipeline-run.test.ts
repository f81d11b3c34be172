// The message workflow running published pipelines: each node's own model chain, condition branches,
// templates, tool nodes feeding variables, handoff, draft test runs, and runs pinned to their version
// while a new one is published.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ingestMessage } from '../api/ingest.js';
import type { PipelineGraph, PipelineNode } from '../pipelines/graph.js';
import { inbound } from './helpers/messages.js';
import { FALLBACK, PRIMARY, startStack, uniq, waitFor, type Stack } from './helpers/stack.js';

let stack: Stack;
let stock: http.Server;
beforeAll(async () => {
  stock = http.createServer((req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ sku: req.url!.split('/').pop(), left: 7 })));
  await new Promise<void>((r) => stock.listen(0, '127.0.0.1', r));
  const host = `127.0.0.1:${(stock.address() as AddressInfo).port}`;
  stack = await startStack({
    namespace: 'it-pipeline-run',
    config: {
      tools: {
        allowedHosts: [host],
        definitions: [
          { id: 'stock', name: 'stock_level', description: '库存', url: `http://${host}/stock/{{args.sku}}`, parameters: { type: 'object', properties: { sku: { type: 'string' } }, required: ['sku'] } },
        ],
      },
    },
  });
}, 120_000);
afterAll(async () => {
  await stack?.stop();
  stock?.close();
});
beforeEach(() => stack.fake.reset());

type Node = Omit<PipelineNode, 'position'>;
/** A chain of nodes from a trigger, with extra edges for branches. */
function graph(nodes: Node[], edges: [string, string, ('true' | 'false')?][]): PipelineGraph {
  return {
    nodes: nodes.map((n, i) => ({ ...n, position: { x: i * 200, y: 0 } }) as PipelineNode),
    edges: edges.map(([source, target, handle], i) => ({ id: `e${i}`, source, target, ...(handle && { sourceHandle: handle }) })),
  };
}

async function publish(id: string, g: PipelineGraph) {
  const exists = (await stack.api('GET', `/api/pipelines/${id}`)).status === 200;
  const saved = exists ? await stack.api('PUT', `/api/pipelines/${id}`, { graph: g }) : await stack.api('POST', '/api/pipelines', { id, name: id, graph: g });
  expect(saved.status, JSON.stringify(saved.body)).toBeLessThan(300);
  const published = await stack.api('POST', `/api/pipelines/${id}/publish`, { note: 'test' });
  expect(published.status, JSON.stringify(published.body)).toBe(201);
  return published.body.version as number;
}

const steps = (trace: { step: string; nodeId?: string }[]) => trace.map((s) => `${s.step}${s.nodeId ? `@${s.nodeId}` : ''}`);

describe('pipelines in the message workflow', () => {
  it('an llm node uses its own model and fallbacks, and its prompt templates', async () => {
    await publish(
      'smalltalk',
      graph(
        [
          { id: 'when', type: 'trigger', data: { keywordsAny: ['闲聊'] } },
          { id: 'chat', type: 'llm', data: { model: 'down/gone', fallbacks: [FALLBACK], systemPrompt: '用户 {{message.senderId}} 想闲聊', prompt: '请回应：{{message.text}}' } },
          { id: 'say', type: 'reply', data: { text: '🙂 {{reply.text}}' } },
        ],
        [['when', 'chat'], ['chat', 'say']],
      ),
    );
    const res = await stack.sandbox({ text: '闲聊一下', senderId: 'u-7' });
    expect(res.body.status).toBe('replied');
    expect(res.body.trace.filter((s: { step: string }) => s.step === 'callModel').map((s: { input: { model: string }; status: string }) => [s.input.model, s.status])).toEqual([
      ['down/gone', 'failed'],
      [FALLBACK, 'ok'],
    ]);
    const req = stack.fake.requestsFor('qwen2:7b')[0]!;
    expect(req.messages[0]).toEqual({ role: 'system', content: '用户 u-7 想闲聊' });
    expect(req.messages.at(-1)).toEqual({ role: 'user', content: '请回应：闲聊一下' });
    expect(res.body.reply.text).toBe('🙂 fake answer to: 请回应：闲聊一下');
  });

  it('an llm node\'s own retry count replaces the default', async () => {
    await publish(
      'no-retry',
      graph(
        [
          { id: 'when', type: 'trigger', data: { keywordsAny: ['别重试'] } },
          { id: 'once', type: 'llm', data: { model: PRIMARY, fallbacks: [FALLBACK], retries: 0 } },
          { id: 'say', type: 'reply', data: {} },
        ],
        [['when', 'once'], ['once', 'say']],
      ),
    );
    // by default a 503 is retried on the same model (and would succeed here); with retries 0 the fallback answers
    stack.fake.enqueue('qwen3:32b', { status: 503 });
    const res = await stack.sandbox({ text: '别重试', senderId: 'u-9' });
    expect(res.body.reply.model).toBe(FALLBACK);
    expect(stack.fake.requestsFor('qwen3:32b')).toHaveLength(1);
  });

  it('follows the branch the condition picks, with buttons; a tool node feeds {{vars}}', async () => {
    await publish(
      'stock',
      graph(
        [
          { id: 'when', type: 'trigger', data: { keywordsAny: ['库存'] } },
          { id: 'look', type: 'tool', data: { tool: 'stock', arguments: { sku: 'A-100' }, saveAs: 'stock' } },
          { id: 'ask', type: 'llm', data: { systemPrompt: '库存数据：{{vars.stock}}' } },
          { id: 'check', type: 'condition', data: { subject: 'reply', operator: 'contains', value: '联系人工' } },
          { id: 'human', type: 'reply', data: { text: '{{reply.text}}', buttons: [{ label: '转接人工客服' }] } },
          { id: 'plain', type: 'reply', data: { text: '剩余 {{vars.stock.left}} 件。{{reply.text}}' } },
        ],
        [['when', 'look'], ['look', 'ask'], ['ask', 'check'], ['check', 'human', 'true'], ['check', 'plain', 'false']],
      ),
    );
    stack.fake.enqueue('qwen3:32b', { text: '有货' });
    const plain = await stack.sandbox({ text: '库存还有吗', senderId: 'u-1' });
    expect(steps(plain.body.trace)).toEqual(['verify', 'loadSession', 'matchRule@when', 'callTool@look', 'callModel@ask', 'condition@check', 'reply@plain', 'saveSession', 'audit']);
    expect(plain.body.trace.find((s: { step: string }) => s.step === 'condition').output).toEqual({ result: false });
    expect(stack.fake.requestsFor('qwen3:32b')[0]!.messages[0].content).toBe('库存数据：{"sku":"A-100","left":7}');
    expect(plain.body.reply).toMatchObject({ text: '剩余 7 件。有货' });
    expect(plain.body.reply.buttons).toBeUndefined();

    stack.fake.enqueue('qwen3:32b', { text: '这个需要联系人工处理' });
    const human = await stack.sandbox({ text: '库存不对', senderId: 'u-1' });
    expect(steps(human.body.trace)).toContain('reply@human');
    expect(human.body.reply).toEqual({ text: '这个需要联系人工处理', model: 'fake/qwen3:32b', buttons: [{ label: '转接人工客服' }] });
  });

  it('hands over to a human with a notice, and runs the draft only when asked to', async () => {
    await publish(
      'complaint',
      graph(
        [
          { id: 'when', type: 'trigger', data: { keywordsAny: ['投诉'], priority: 5 } },
          { id: 'human', type: 'handoff', data: { text: '已为您转接客服主管。', target: '客服主管' } },
        ],
        [['when', 'human']],
      ),
    );
    const res = await stack.sandbox({ text: '我要投诉', senderId: 'u-2' });
    expect(steps(res.body.trace)).toEqual(['verify', 'loadSession', 'matchRule@when', 'reply@human', 'handoff@human', 'saveSession', 'audit']);
    expect(res.body.reply.text).toBe('已为您转接客服主管。');
    expect(res.body.trace.find((s: { step: string }) => s.step === 'handoff').output).toEqual({ announced: false }); // a sandbox run pages nobody
    expect(stack.fake.requests).toHaveLength(0);

    // a real message: the operators hear about it through the alert targets, once
    const paged: Record<string, unknown>[] = [];
    const hook = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c)).on('end', () => {
        paged.push(JSON.parse(body));
        res.end('{}');
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    try {
      await stack.api('PUT', '/api/settings/alerts', { webhooks: [`http://127.0.0.1:${(hook.address() as AddressInfo).port}/page`] });
      const m = inbound({ text: '我要投诉，快递摔坏了', senderId: 'u-5', senderName: '王女士' });
      await ingestMessage(stack.imflow.client, m);
      const run = stack.imflow.client.workflow.getHandle(`msg:sandbox:${m.platformMessageId}`);
      // the conversation starts the run a moment after the message is accepted
      await waitFor('the run to start', () => run.describe().then(() => true, () => false));
      const result = await run.result();
      expect(result.trace.find((s: { step: string }) => s.step === 'handoff')).toMatchObject({ status: 'ok', output: { announced: true } });
      expect(paged).toEqual([
        {
          event: 'conversation.handoff',
          channelId: 'sandbox',
          conversationId: m.conversationId,
          chatType: 'direct',
          sender: '王女士 (u-5)',
          text: '我要投诉，快递摔坏了',
          target: '客服主管',
          workflowId: `msg:sandbox:${m.platformMessageId}`,
        },
      ]);
    } finally {
      await stack.api('PUT', '/api/settings/alerts', {});
      hook.close();
    }

    // an unpublished edit: the published version keeps answering; the draft runs only in a test run
    const draft = graph(
      [
        { id: 'when', type: 'trigger', data: { keywordsAny: ['投诉'], priority: 5 } },
        { id: 'human', type: 'handoff', data: { text: '草稿：请稍候。' } },
      ],
      [['when', 'human']],
    );
    expect((await stack.api('PUT', '/api/pipelines/complaint', { graph: draft })).status).toBe(200);
    expect((await stack.sandbox({ text: '我要投诉', senderId: 'u-2' })).body.reply.text).toBe('已为您转接客服主管。');
    const tried = await stack.sandbox({ text: '我要投诉', senderId: 'u-2', pipelineId: 'complaint', pipelineVersion: 'draft' });
    expect(tried.body.reply.text).toBe('草稿：请稍候。');
  });

  it('a run keeps the version it started with while a new one is published', async () => {
    const version = (text: string) =>
      graph(
        [
          { id: 'when', type: 'trigger', data: { keywordsAny: ['版本'] } },
          { id: 'ask', type: 'llm', data: {} },
          { id: 'say', type: 'reply', data: { text: `${text} {{reply.text}}` } },
        ],
        [['when', 'ask'], ['ask', 'say']],
      );
    const v1 = await publish('versions', version('v1:'));
    stack.fake.enqueue('qwen3:32b', { text: '慢答', firstTokenDelayMs: 2000 });
    const conversationId = uniq('c');
    const running = stack.sandbox({ text: '版本测试', senderId: 'u-3', conversationId });
    // publish v2 while the first run waits for its model
    while (!stack.fake.requests.length) await new Promise((r) => setTimeout(r, 20));
    const v2 = await publish('versions', version('v2:'));
    expect(v2).toBe(v1 + 1);
    const first = await running;
    expect(first.body.reply.text).toBe('v1: 慢答');
    expect(first.body.trace.find((s: { step: string }) => s.step === 'matchRule').output).toMatchObject({ pipelineId: 'versions', pipelineVersion: v1 });
    const second = await stack.sandbox({ text: '版本测试', senderId: 'u-3', conversationId });
    expect(second.body.reply.text).toMatch(/^v2: /);
  });
});
