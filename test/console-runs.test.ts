import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { temporal } from '@temporalio/proto';
import { startFakeDingTalk, type FakeDingTalk } from './fakes/dingtalk-server.js';
import { startStack, uniq, waitFor, type Stack } from './helpers/stack.js';

const APP_KEY = 'dingconsolekey';
const APP_SECRET = 'console-app-secret-0123456789';
const ROBOT_CODE = 'dingconsolerobot';
const CHANNEL = 'dt-console';

let stack: Stack;
let dingtalk: FakeDingTalk;
let viewerToken: string;

beforeAll(async () => {
  dingtalk = await startFakeDingTalk({ appKey: APP_KEY, appSecret: APP_SECRET, robotCode: ROBOT_CODE });
  stack = await startStack({
    namespace: 'it-console-runs',
    config: {
      fallbacks: [],
      channels: [{ id: CHANNEL, type: 'dingtalk', appKey: APP_KEY, appSecret: APP_SECRET, robotCode: ROBOT_CODE, apiBase: dingtalk.url, oapiBase: dingtalk.url, respondTo: 'all' }],
    },
  });
  await stack.api('POST', '/api/users', { id: 'runs-viewer', role: 'viewer', password: 'a long enough password' });
  viewerToken = (await stack.api('POST', '/api/users/runs-viewer/tokens', { name: 't' })).body.token;
});
afterAll(async () => {
  await stack?.stop();
  await dingtalk?.close();
  delete process.env.IMFLOW_TEMPORAL_UI_URL;
});

/** A DingTalk robot callback as the platform sends it: signed headers, JSON body with a live session webhook. */
async function deliver(text: string) {
  const body = {
    msgtype: 'text',
    text: { content: ` ${text}` },
    msgId: `msg${crypto.randomBytes(8).toString('hex')}`,
    createAt: Date.now(),
    conversationType: '2',
    conversationId: uniq('cid'),
    senderId: '$:LWCP_v1:$sender==',
    senderStaffId: 'staff-console',
    senderNick: '控制台',
    chatbotUserId: '$:LWCP_v1:$bot==',
    isInAtList: true,
    sessionWebhook: dingtalk.openSession(),
    sessionWebhookExpiredTime: Date.now() + 90 * 60_000,
    robotCode: ROBOT_CODE,
  };
  const timestamp = String(Date.now());
  const sign = crypto.createHmac('sha256', APP_SECRET).update(`${timestamp}\n${APP_SECRET}`).digest('base64');
  const res = await fetch(`${stack.url}/webhooks/dingtalk/${CHANNEL}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json; charset=utf-8', timestamp, sign },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(200);
  return { workflowId: `msg:${CHANNEL}:${body.msgId}`, session: new URL(body.sessionWebhook).searchParams.get('session')!, body };
}

const detail = (id: string) => stack.api('GET', `/api/runs/${encodeURIComponent(id)}`);
const settled = (id: string, status: string) =>
  waitFor(`${id} to be ${status}`, async () => {
    const r = await detail(id);
    // the run's record is written by its last step, a moment before Temporal closes the run
    return r.status === 200 && r.body.status === status && r.body.temporal?.status !== 'RUNNING' && r.body;
  }, 60_000);
const modelCallsFor = (text: string) => stack.fake.requests.filter((r) => r.messages.at(-1)?.content?.includes(text));

describe('GET /api/runs', () => {
  it('searches finished runs by text, sender, channel, status and time, paged, newest first', async () => {
    const tag = uniq('tag');
    const conv = uniq('c');
    for (const [i, sender] of ['alice', 'bob', 'alice'].entries()) {
      expect((await stack.sandbox({ text: `${tag} 第${i}条`, senderId: `${tag}-${sender}`, conversationId: conv })).body.status).toBe('replied');
    }
    stack.fake.enqueue('qwen3:32b', { status: 400, errorMessage: 'bad request' });
    expect((await stack.sandbox({ text: `${tag} 坏的`, senderId: `${tag}-carol`, conversationId: uniq('c') })).body.status).toBe('failed');

    const search = async (q: string) => (await stack.api('GET', `/api/runs?${q}`)).body;
    const all = await search(`text=${tag}`);
    expect(all.total).toBe(4);
    expect(all.runs.map((r: any) => r.text)).toEqual([`${tag} 坏的`, `${tag} 第2条`, `${tag} 第1条`, `${tag} 第0条`]);
    expect(all.runs[1]).toMatchObject({ channelId: 'sandbox', status: 'replied', model: 'fake/qwen3:32b', dryRun: true, durationMs: expect.any(Number) });
    expect((await search(`text=${tag}&sender=${tag}-alice`)).total).toBe(2);
    expect((await search(`text=${tag}&status=failed`)).runs.map((r: any) => r.senderId)).toEqual([`${tag}-carol`]);
    expect((await search(`text=${tag}&channel=${CHANNEL}`)).total).toBe(0);
    expect((await search(`conversation=${conv}`)).total).toBe(3);
    // the reply text is searched too
    expect((await search(`text=${encodeURIComponent(`fake answer to: ${tag} 第1条`)}`)).total).toBe(1);
    const page2 = await search(`text=${tag}&pageSize=3&page=2`);
    expect(page2).toMatchObject({ total: 4, page: 2, pageSize: 3 });
    expect(page2.runs).toHaveLength(1);
    const later = new Date(Date.now() + 60_000).toISOString();
    expect((await search(`text=${tag}&from=${later}`)).total).toBe(0);
    expect((await search(`text=${tag}&to=${later}`)).total).toBe(4);
    expect((await stack.api('GET', '/api/runs?status=lost')).status).toBe(400);
    expect((await stack.api('GET', "/api/runs?channel=a'b")).status).toBe(400);
  });

  it('lists runs in flight from Temporal with the step they are at', async () => {
    const tag = uniq('slow');
    stack.fake.enqueue('qwen3:32b', { firstTokenDelayMs: 4000 });
    const started = await stack.sandbox({ text: `${tag} 慢`, conversationId: uniq('c'), waitMs: 0 });
    const live = await waitFor('the run to show as running at callModel', async () => {
      const r = (await stack.api('GET', `/api/runs?status=running&text=${tag}`)).body;
      return r.runs[0]?.currentStep === 'callModel' && r;
    });
    expect(live.runs).toEqual([expect.objectContaining({ workflowId: started.body.workflowId, status: 'running', channelId: 'sandbox', text: `${tag} 慢` })]);
    await settled(started.body.workflowId, 'replied');
    expect((await stack.api('GET', `/api/runs?status=running&text=${tag}`)).body.runs).toEqual([]);
  });
});

describe('GET /api/runs/:id', () => {
  it('shows the whole chain: raw request without secrets, each step with its duration, the model input and output, reply, audit, Temporal link', async () => {
    process.env.IMFLOW_TEMPORAL_UI_URL = 'http://temporal-ui.example:8233/';
    const { workflowId, body } = await deliver('发票多久能开出来？');
    const run = await settled(workflowId, 'replied');

    expect(run.message).toMatchObject({ channelId: CHANNEL, text: '发票多久能开出来？', senderId: 'staff-console' });
    expect(run.rawRequest.body.text.content).toBe(' 发票多久能开出来？');
    expect(run.rawRequest.body.msgId).toBe(body.msgId);
    expect(run.rawRequest.body.sessionWebhook).toBe('[redacted]');
    expect(run.rawRequest.headers.sign).toBeUndefined();
    expect(run.rawRequest.headers.timestamp).toBeDefined();

    const steps = run.trace.map((s: any) => s.step);
    expect(steps).toEqual(expect.arrayContaining(['verify', 'loadSession', 'matchRule', 'callModel', 'reply', 'saveSession', 'audit']));
    for (const s of run.trace) expect(s.durationMs, s.step).toEqual(expect.any(Number));
    const model = run.trace.find((s: any) => s.step === 'callModel');
    expect(model.output.text).toBe('fake answer to: 发票多久能开出来？');
    // what the model was given, from the activity's recorded input
    expect(model.activity.input).toMatchObject({ model: 'fake/qwen3:32b', userText: '发票多久能开出来？', systemPrompt: expect.any(String) });
    expect(model.activity.attempts).toBe(1);
    expect(run.trace.find((s: any) => s.step === 'reply').input.text).toBe('fake answer to: 发票多久能开出来？');
    expect(run.modelCalls).toEqual([expect.objectContaining({ model: 'fake/qwen3:32b', outcome: 'ok', attempt: 1 })]);
    expect(run.audit).toEqual([expect.objectContaining({ action: 'message.replied', subject: workflowId })]);
    expect(run.temporal).toMatchObject({ namespace: 'it-console-runs', status: 'COMPLETED', runId: expect.any(String) });
    expect(run.temporal.url).toBe(`http://temporal-ui.example:8233/namespaces/it-console-runs/workflows/${encodeURIComponent(workflowId)}/${run.temporal.runId}/history`);
    expect(run.retry).toMatchObject({ possible: false });
    expect((await stack.api('POST', `/api/runs/${encodeURIComponent(workflowId)}/retry`)).status).toBe(409);
    expect((await detail('msg:nope:nope')).status).toBe(404);
  });
});

describe('POST /api/runs/:id/retry', () => {
  const historyOf = async (workflowId: string) => (await stack.imflow.client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
  const scheduled = (events: temporal.api.history.v1.IHistoryEvent[], type: string) =>
    events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === type).length;

  it('a run that failed at the model (its key was refused) resumes at the model call once fixed, and answers once', async () => {
    // an outage (connection refused, 5xx) makes a run wait for the model instead of failing; a refused
    // key is a failure no wait fixes: the run fails, the sender is told, an operator fixes it and retries
    stack.fake.setDefault('qwen3:32b', { status: 401, errorMessage: 'invalid api key' });
    const { workflowId, session } = await deliver('模型拒绝了密钥时问的');
    const failed = await settled(workflowId, 'failed');
    expect(failed.retry).toEqual({ possible: true, from: 'callModel' });
    expect(failed.trace.find((s: any) => s.step === 'callModel')).toMatchObject({ status: 'failed', activity: { attempts: 1 } });
    expect(modelCallsFor('模型拒绝了密钥时问的')).toHaveLength(1);
    const answer = 'fake answer to: 模型拒绝了密钥时问的';
    const answers = () => dingtalk.delivered.filter((d) => d.to === session && d.text === answer);
    expect(answers()).toEqual([]);

    stack.fake.setDefault('qwen3:32b', {});
    const viewerRetry = await stack.api('POST', `/api/runs/${encodeURIComponent(workflowId)}/retry`, undefined, { authorization: `Bearer ${viewerToken}` });
    expect(viewerRetry.status).toBe(403);
    const retry = await stack.api('POST', `/api/runs/${encodeURIComponent(workflowId)}/retry`);
    expect(retry.status).toBe(202);
    expect(retry.body).toMatchObject({ workflowId, from: 'callModel', runId: expect.any(String) });
    expect(retry.body.runId).not.toBe(failed.temporal.runId);

    const done = await settled(workflowId, 'replied');
    expect(done.reply.text).toBe(answer);
    await waitFor('the answer to reach the chat', () => answers().length > 0);
    await new Promise((r) => setTimeout(r, 500));
    expect(answers()).toHaveLength(1);
    expect(modelCallsFor('模型拒绝了密钥时问的')).toHaveLength(2); // the refused call, and one answer after the retry
    const events = await historyOf(workflowId);
    expect(scheduled(events, 'callModel')).toBe(1);
    expect(done.temporal.runId).toBe(retry.body.runId);
    expect(done.audit.map((a: any) => a.action)).toEqual(['message.failed', 'run.retry', 'message.replied']);
    expect(done.audit[1]).toMatchObject({ actor: 'admin', detail: { from: 'callModel', failedRunId: failed.temporal.runId, newRunId: retry.body.runId } });
    // a second retry of a run that now replied is refused
    expect((await stack.api('POST', `/api/runs/${encodeURIComponent(workflowId)}/retry`)).status).toBe(409);
  });

  it('a run that failed at the reply resumes at the reply: the model is not asked again, the chat gets one answer', async () => {
    dingtalk.failNext('session', { status: 400, body: { errcode: 400, errmsg: 'bad session' } });
    const { workflowId, session } = await deliver('回复失败的那条');
    const failed = await settled(workflowId, 'failed');
    expect(failed.retry).toEqual({ possible: true, from: 'reply' });
    expect(modelCallsFor('回复失败的那条')).toHaveLength(1);
    const modelEventsBefore = scheduled(await historyOf(workflowId), 'callModel');

    const retry = await stack.api('POST', `/api/runs/${encodeURIComponent(workflowId)}/retry`);
    expect(retry.status).toBe(202);
    expect(retry.body.from).toBe('reply');
    const done = await settled(workflowId, 'replied');
    await waitFor('the reply to reach the chat', () => dingtalk.delivered.some((d) => d.to === session));

    // the model call was recorded before the reset point: replayed from history, not made again
    expect(modelCallsFor('回复失败的那条')).toHaveLength(1);
    const events = await historyOf(workflowId);
    expect(scheduled(events, 'callModel')).toBe(modelEventsBefore);
    expect(events.some((e) => e.workflowTaskFailedEventAttributes?.cause === temporal.api.enums.v1.WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_RESET_WORKFLOW)).toBe(true);
    // the failure was in sending itself: no failure notice, and exactly one answer
    expect(dingtalk.delivered.filter((d) => d.to === session)).toEqual([expect.objectContaining({ text: 'fake answer to: 回复失败的那条' })]);
    expect(done.trace.filter((s: any) => s.step === 'callModel')).toHaveLength(1);
  });
});

describe('GET /api/runs/stats', () => {
  it('gives messages per minute, latency percentiles and error rates per channel and per model, and open conversations', async () => {
    const stats = (await stack.api('GET', '/api/runs/stats?minutes=60')).body;
    const sandbox = stats.byChannel.find((c: any) => c.channelId === 'sandbox');
    expect(sandbox.messages).toBeGreaterThanOrEqual(5);
    expect(sandbox.failed).toBeGreaterThanOrEqual(1);
    expect(sandbox.errorRate).toBeGreaterThan(0);
    expect(sandbox.p50Ms).toBeGreaterThan(0);
    expect(sandbox.p95Ms).toBeGreaterThanOrEqual(sandbox.p50Ms);
    const model = stats.byModel.find((m: any) => m.model === 'fake/qwen3:32b');
    expect(model).toMatchObject({ calls: expect.any(Number), errors: expect.any(Number) });
    expect(model.errors).toBeGreaterThanOrEqual(2); // the bad request in the search test, the refused key
    expect(stats.perMinute.reduce((n: number, m: any) => n + m.messages, 0)).toBe(stats.byChannel.reduce((n: number, c: any) => n + c.messages, 0));
    expect(stats.conversations.length).toBeGreaterThan(0);
    expect(stats.conversations[0]).toMatchObject({ channelId: expect.any(String), conversationId: expect.any(String), last: expect.any(Object) });
  });
});

describe('GET /api/events', () => {
  /** Reads server-sent events from a stream until `until` says stop. */
  async function collect(token: string, until: (events: { event: string; data: any }[]) => boolean, start?: () => Promise<unknown>) {
    const controller = new AbortController();
    const res = await fetch(`${stack.url}/api/events`, { headers: { authorization: `Bearer ${token}` }, signal: controller.signal });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    const events: { event: string; data: any }[] = [];
    let buffer = '';
    const started = start?.();
    const deadline = Date.now() + 30_000;
    while (!until(events) && Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let i;
      while ((i = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, i);
        buffer = buffer.slice(i + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event && data) events.push({ event, data: JSON.parse(data) });
      }
    }
    controller.abort();
    await started;
    return events;
  }

  it('streams a run starting, its steps and its end, masked for viewers', async () => {
    const tag = uniq('live');
    let workflowId = '';
    const send = async () => {
      stack.fake.enqueue('qwen3:32b', { firstTokenDelayMs: 2500 });
      workflowId = (await stack.sandbox({ text: `${tag} 手机 13912345678`, conversationId: uniq('c'), waitMs: 0 })).body.workflowId;
    };
    const finishedFor = (events: { event: string; data: any }[]) => events.some((e) => e.event === 'run.finished' && e.data.workflowId === workflowId);
    const events = await collect(viewerToken, finishedFor, send);
    expect(events[0]!.event).toBe('snapshot');
    const mine = events.filter((e) => e.data.workflowId === workflowId);
    expect(mine.map((e) => e.event)).toEqual(expect.arrayContaining(['run.started', 'run.step', 'run.finished']));
    expect(mine.find((e) => e.event === 'run.started')!.data).toMatchObject({ channelId: 'sandbox', text: `${tag} 手机 139****5678` });
    expect(mine.some((e) => e.event === 'run.step' && e.data.step === 'callModel')).toBe(true);
    expect(mine.find((e) => e.event === 'run.finished')!.data).toMatchObject({ status: 'replied', durationMs: expect.any(Number) });
    expect(events.some((e) => e.event === 'audit')).toBe(false); // viewers do not see the audit log
    expect(JSON.stringify(events)).not.toContain('13912345678');
  });

  it('sends admins audit rows as they are written, and model health', async () => {
    const channel = uniq('ev').toLowerCase();
    const events = await collect(stack.token, (ev) => ev.some((e) => e.event === 'audit' && e.data.subject === channel) && ev.some((e) => e.event === 'model.health'), async () => {
      await new Promise((r) => setTimeout(r, 1500));
      await stack.api('POST', '/api/channels', { id: channel, type: 'sandbox' });
    });
    expect(events.find((e) => e.event === 'audit' && e.data.subject === channel)!.data).toMatchObject({ action: 'channel.create', actor: 'admin' });
    const health = events.find((e) => e.event === 'model.health')!.data.models;
    expect(health).toEqual(expect.arrayContaining([expect.objectContaining({ model: 'fake/qwen3:32b', breaker: expect.any(String) })]));
  });
});
