import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { makeCallModel } from '../activities/call-model.js';
import { defaultChannels } from '../channels/index.js';
import { alerted, alertText, createAlerter, recentAlerts } from '../runtime/alerts.js';
import { breakerKey, CircuitBreaker, verdictOf, type BreakerTransition, type Verdict } from '../runtime/breaker.js';
import { Catalog } from '../runtime/catalog.js';
import { modelSchema, parseConfig, type BreakerSettings } from '../runtime/config.js';
import { openDatabase, type Database } from '../runtime/db.js';
import { memoryStore, openKeyValueStore, type KeyValueStore } from '../runtime/kv.js';
import { logger } from '../runtime/logger.js';
import { SecretBox } from '../runtime/secrets.js';
import type { ModelAnswer } from '../workflows/types.js';
import { startFakeDingTalk, type FakeDingTalk } from './fakes/dingtalk-server.js';
import { readBody } from './fakes/http.js';
import { startFakeModelServer, type FakeModelServer } from './fakes/model-server.js';
import { startFakeWecomServer, type FakeWecomServer } from './fakes/wecom-server.js';
import { freshDatabase } from './helpers/database.js';

const REDIS_URL = process.env.REDIS_URL;
const SERVER = 'http://model-server.test/v1';
const DEFAULTS: BreakerSettings = { errorRate: 0.05, minCalls: 20, timeouts: 5, windowSeconds: 60, openSeconds: 30 };
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function readyStore(open: () => KeyValueStore): Promise<KeyValueStore> {
  const store = open();
  // Redis: commands fail fast until the connection is up
  const deadline = Date.now() + 5000;
  while (!(await store.ping())) {
    if (Date.now() > deadline) throw new Error(`${store.kind} store did not become ready`);
    await sleep(20);
  }
  return store;
}

/** A store that can be switched off, as Redis going away mid-run. */
function switchable(inner: KeyValueStore) {
  let down = false;
  const store = new Proxy(inner, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function' || prop === 'close') return value;
      return (...args: unknown[]) => (down ? Promise.reject(new Error('Connection is closed.')) : value.apply(target, args));
    },
  });
  return { store, setDown: (d: boolean) => (down = d) };
}

function breakerBehaviour(open: () => KeyValueStore) {
  let kv: KeyValueStore;
  const models: string[] = [];
  beforeAll(async () => {
    kv = await readyStore(open);
  });
  afterAll(async () => {
    for (const m of models) await kv.del(`${breakerKey(m, SERVER)}:state`).catch(() => {});
    await kv.close();
  });

  /** Workers sharing one store and one clock; each test its own model, so a shared Redis stays clean. */
  function setup(settings: Partial<BreakerSettings> = {}, opts: { workers?: number; callTimeoutMs?: number } = {}) {
    const model = `t${crypto.randomBytes(4).toString('hex')}/qwen3:32b`;
    models.push(model);
    const clock = { now: 1_700_000_000_000 };
    const transitions: BreakerTransition[] = [];
    const workers = Array.from(
      { length: opts.workers ?? 1 },
      () => new CircuitBreaker({ kv, settings: async () => ({ ...DEFAULTS, ...settings }), now: () => clock.now, onTransition: (t) => transitions.push(t) }),
    );
    const b = workers[0]!;
    const admit = (w = b) => w.admit(model, SERVER, opts.callTimeoutMs ?? 5000);
    /** one call through the breaker: admitted, then its verdict recorded */
    const call = async (verdict: Verdict, w = b, detail?: string) => {
      const a = await admit(w);
      if (a.allowed) await w.record(a.permit, verdict, detail);
      return a;
    };
    const calls = async (n: number, verdict: Verdict) => {
      for (let i = 0; i < n; i++) await call(verdict);
    };
    const status = () => b.status(model, SERVER);
    const changes = () => transitions.map((t) => `${t.from}→${t.to}`);
    return { model, clock, transitions, workers, b, admit, call, calls, status, changes };
  }

  describe('thresholds', () => {
    it('stays closed below minCalls however many fail, and opens at minCalls', async () => {
      const s = setup({ minCalls: 20 });
      await s.calls(19, 'error');
      expect(await s.status()).toMatchObject({ state: 'closed', windowCalls: 19, windowErrors: 19, windowTimeouts: 0 });
      expect(s.transitions).toEqual([]);
      await s.calls(1, 'error');
      expect(s.changes()).toEqual(['closed→open']);
      expect(s.transitions[0]).toMatchObject({ model: s.model, reason: '20 of 20 calls failed within 60 s (100% > 5%)', at: s.clock.now });
    });

    it('opens when the error rate exceeds 5 %, not when it is exactly 5 %', async () => {
      const s = setup();
      await s.calls(19, 'success');
      await s.calls(1, 'error'); // 1 of 20: 5 %, not above it
      expect((await s.status()).state).toBe('closed');
      await s.calls(1, 'error'); // 2 of 21
      expect(s.changes()).toEqual(['closed→open']);
      expect(s.transitions[0]!.reason).toBe('2 of 21 calls failed within 60 s (9.5% > 5%)');
    });

    it('opens on the timeouts threshold even below minCalls', async () => {
      const s = setup({ timeouts: 5, minCalls: 100 });
      await s.calls(4, 'timeout');
      expect(await s.status()).toMatchObject({ state: 'closed', windowCalls: 4, windowErrors: 4, windowTimeouts: 4 });
      await s.calls(1, 'timeout');
      expect(s.transitions).toMatchObject([{ from: 'closed', to: 'open', reason: '5 calls timed out within 60 s (limit 5)' }]);
    });

    it('counts only what the window holds: older failures roll out', async () => {
      const s = setup({ timeouts: 5, windowSeconds: 60 });
      await s.calls(4, 'timeout');
      s.clock.now += 61_000;
      await s.calls(4, 'timeout');
      expect(await s.status()).toMatchObject({ state: 'closed', windowTimeouts: 4 });
      await s.calls(1, 'timeout');
      expect(s.changes()).toEqual(['closed→open']);
    });
  });

  describe('what counts', () => {
    it('model faults are errors or timeouts; our request’s faults, 429 and cancels are neutral', () => {
      expect(['ModelUnavailable', 'EmptyAnswer'].map(verdictOf)).toEqual(['error', 'error']);
      expect(['ModelTimeout', 'FirstTokenTimeout'].map(verdictOf)).toEqual(['timeout', 'timeout']);
      const ours = ['InvalidRequest', 'Unauthorized', 'ModelNotFound', 'ContentPolicy', 'ContextLengthExceeded', 'RateLimited', 'UnknownModel', undefined];
      expect(ours.map(verdictOf)).toEqual(ours.map(() => 'neutral'));
    });

    it('neutral calls are not counted at all: they neither fail the model nor dilute its error rate', async () => {
      const s = setup({ minCalls: 5 });
      await s.calls(50, 'neutral');
      expect(await s.status()).toMatchObject({ state: 'closed', windowCalls: 0, windowErrors: 0 });
      await s.calls(4, 'success');
      await s.calls(1, 'error'); // 1 of 5 = 20 %: 50 neutral calls counted would have made it 1 of 55
      expect(s.changes()).toEqual(['closed→open']);
    });
  });

  describe('open and half-open', () => {
    async function opened(settings: Partial<BreakerSettings> = {}, opts: { workers?: number; callTimeoutMs?: number } = {}) {
      const s = setup({ timeouts: 2, openSeconds: 30, ...settings }, opts);
      await s.calls(2, 'timeout');
      expect(s.changes()).toEqual(['closed→open']);
      return s;
    }

    it('turns calls away while open, until openSeconds have passed', async () => {
      const s = await opened();
      const openedAt = s.clock.now;
      expect(await s.admit()).toEqual({ allowed: false, state: 'open', since: openedAt, reason: '2 calls timed out within 60 s (limit 2)' });
      s.clock.now += 29_999;
      expect(await s.admit()).toMatchObject({ allowed: false, state: 'open' });
      expect(await s.status()).toMatchObject({ state: 'open', since: new Date(openedAt).toISOString(), windowCalls: 0 });
      s.clock.now += 1;
      expect(await s.admit()).toMatchObject({ allowed: true, permit: { probe: true } });
    });

    it('admits exactly one probe among concurrent callers on several workers', async () => {
      const s = await opened({}, { workers: 3 });
      s.clock.now += 30_000;
      expect((await s.status()).state).toBe('half-open');
      const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => s.admit(s.workers[i % 3])));
      const probes = answers.filter((a) => a.allowed);
      expect(probes).toHaveLength(1);
      expect(probes[0]).toMatchObject({ permit: { probe: true } });
      expect(answers.filter((a) => !a.allowed).every((a) => !a.allowed && a.state === 'half-open')).toBe(true);
      expect(s.changes()).toEqual(['closed→open', 'open→half-open']); // announced once, by the prober
    });

    it('a successful probe closes the breaker and starts a fresh window', async () => {
      const s = await opened({ timeouts: 2 });
      s.clock.now += 30_000;
      const probe = await s.admit();
      expect(probe.allowed).toBe(true);
      await s.b.record(probe.allowed ? probe.permit : undefined, 'success');
      expect(s.changes()).toEqual(['closed→open', 'open→half-open', 'half-open→closed']);
      expect(s.transitions.at(-1)!.reason).toBe('probe call succeeded');
      expect(await s.status()).toMatchObject({ state: 'closed', windowCalls: 0, windowTimeouts: 0 });
      // the two timeouts that opened it are still inside 60 s, but no longer count: one more does not re-open
      await s.calls(1, 'timeout');
      expect((await s.status()).state).toBe('closed');
      expect(s.transitions).toHaveLength(3);
    });

    it('a failed probe opens the breaker again for another openSeconds', async () => {
      const s = await opened();
      s.clock.now += 30_000;
      await s.call('error', s.b, 'ModelUnavailable');
      expect(s.changes()).toEqual(['closed→open', 'open→half-open', 'half-open→open']);
      expect(s.transitions.at(-1)!.reason).toBe('probe call failed (ModelUnavailable): open for another 30 s');
      const reopenedAt = s.clock.now;
      expect(await s.admit()).toMatchObject({ allowed: false, state: 'open', since: reopenedAt });
      s.clock.now += 29_999;
      expect((await s.admit()).allowed).toBe(false);
      s.clock.now += 1;
      expect(await s.admit()).toMatchObject({ allowed: true, permit: { probe: true } });
    });

    it('a probe that says nothing about the model (4xx, 429, cancel) hands the probe to the next caller', async () => {
      const s = await opened();
      s.clock.now += 30_000;
      await s.call('neutral');
      expect(s.changes()).toEqual(['closed→open', 'open→half-open']);
      expect(await s.admit()).toMatchObject({ allowed: true, permit: { probe: true } });
      expect(s.changes()).toEqual(['closed→open', 'open→half-open']); // the same half-open period: not announced again
    });

    it('a probe that never reports (its worker died) frees the probe after the call timeout', async () => {
      const s = await opened({}, { callTimeoutMs: 150 });
      s.clock.now += 30_000;
      expect((await s.admit()).allowed).toBe(true);
      expect((await s.admit()).allowed).toBe(false);
      await sleep(250); // the probe lock lives in the store, on its clock
      expect(await s.admit()).toMatchObject({ allowed: true, permit: { probe: true } });
    });
  });

  describe('decided once across workers', () => {
    it('concurrent failures on several workers announce one state change', async () => {
      const s = setup({ minCalls: 20 }, { workers: 4 });
      await s.calls(20, 'success');
      const admitted = await Promise.all(Array.from({ length: 40 }, (_, i) => s.admit(s.workers[i % 4])));
      await Promise.all(admitted.map((a, i) => s.workers[i % 4]!.record(a.allowed ? a.permit : undefined, 'error')));
      expect(s.changes()).toEqual(['closed→open']);
      expect((await s.status()).state).toBe('open');
    });

    it('a call admitted before a state change cannot move the breaker after it', async () => {
      const s = setup({ timeouts: 3 });
      const early = await Promise.all(Array.from({ length: 6 }, () => s.admit()));
      for (const a of early.slice(0, 3)) await s.b.record(a.allowed ? a.permit : undefined, 'timeout');
      s.clock.now += 30_000;
      await s.call('success'); // the probe closes it
      expect(s.changes()).toEqual(['closed→open', 'open→half-open', 'half-open→closed']);
      // the slow calls from before the opening finish now, timed out: they belong to the old window
      for (const a of early.slice(3)) await s.b.record(a.allowed ? a.permit : undefined, 'timeout');
      expect(s.transitions).toHaveLength(3);
      expect(await s.status()).toMatchObject({ state: 'closed', windowTimeouts: 0 });
    });
  });

  describe('store unavailable', () => {
    afterEach(() => vi.restoreAllMocks());

    it('lets every call through, counts nothing, and logs once', async () => {
      const { store, setDown } = switchable(kv);
      const warn = vi.spyOn(logger, 'warn');
      const transitions: BreakerTransition[] = [];
      const b = new CircuitBreaker({ kv: store, settings: async () => ({ ...DEFAULTS, timeouts: 1 }), onTransition: (t) => transitions.push(t) });
      const model = `t${crypto.randomBytes(4).toString('hex')}/m`;
      models.push(model);
      setDown(true);
      for (let i = 0; i < 5; i++) {
        const a = await b.admit(model, SERVER, 5000);
        expect(a).toEqual({ allowed: true });
        await b.record(a.allowed ? a.permit : undefined, 'timeout');
      }
      await expect(b.status(model, SERVER)).rejects.toThrow(/Connection is closed/);
      expect(warn.mock.calls.filter(([, msg]) => String(msg).includes('circuit breaker store unavailable'))).toHaveLength(1);
      expect(transitions).toEqual([]);

      setDown(false);
      const back = await b.admit(model, SERVER, 5000);
      expect(back).toMatchObject({ allowed: true, permit: { probe: false } });
      await b.record(back.allowed ? back.permit : undefined, 'timeout');
      expect(transitions.map((t) => t.to)).toEqual(['open']); // guarding again
    });
  });
}

describe('circuit breaker (in-process store)', () => breakerBehaviour(memoryStore));
describe.runIf(REDIS_URL)('circuit breaker (Redis)', () => breakerBehaviour(() => openKeyValueStore(REDIS_URL)));

// ---- alerts ----

interface Received {
  path: string;
  query: Record<string, string>;
  headers: http.IncomingHttpHeaders;
  body: any;
}

/** A tiny HTTP server answering each request with `respond` (default 200 {}) and recording it. */
async function receiver(respond: (r: Received) => [number, object] = () => [200, {}]) {
  const received: Received[] = [];
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const raw = await readBody(req);
    let body: unknown = raw;
    try {
      body = JSON.parse(raw);
    } catch {
      /* keep the text */
    }
    const r: Received = { path: url.pathname, query: Object.fromEntries(url.searchParams), headers: req.headers, body };
    received.push(r);
    const [status, answer] = respond(r);
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, received, close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))) };
}

/** Feishu's token and send-message APIs, as far as a proactive send uses them. */
const feishuApi = (r: Received): [number, object] => {
  if (r.path === '/open-apis/auth/v3/tenant_access_token/internal') return [200, { code: 0, msg: 'ok', tenant_access_token: 't-feishu', expire: 7200 }];
  if (r.path === '/open-apis/im/v1/messages' && r.headers.authorization === 'Bearer t-feishu') {
    return [200, { code: 0, msg: 'success', data: { message_id: `om_${crypto.randomBytes(4).toString('hex')}` } }];
  }
  return [400, { code: 230001, msg: 'invalid request' }];
};

describe('alerts', () => {
  const WEBHOOK_TOKEN = 'hook-secret-0123';
  let db: Database;
  let dropDb: () => Promise<void>;
  let dataDir: string;
  let kv: KeyValueStore;
  let hook: Awaited<ReturnType<typeof receiver>>;
  let failingHook: Awaited<ReturnType<typeof receiver>>;
  let feishu: Awaited<ReturnType<typeof receiver>>;
  let dingtalk: FakeDingTalk;
  let wecom: FakeWecomServer;
  let catalog: Catalog;

  beforeAll(async () => {
    const fresh = await freshDatabase();
    dropDb = fresh.drop;
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'imflow-alerts-'));
    db = await openDatabase({ url: fresh.url, dataDir });
    kv = memoryStore();
    hook = await receiver();
    let failures = 0;
    // fails twice (503), then takes it
    failingHook = await receiver(() => (++failures <= 2 ? [503, {}] : [200, {}]));
    feishu = await receiver(feishuApi);
    dingtalk = await startFakeDingTalk({ appKey: 'dk', appSecret: 'ds', robotCode: 'robot' });
    wecom = await startFakeWecomServer({ corpId: 'corp', secret: 'wecom-secret', agentId: 1000002, users: ['zhangsan'] });
    catalog = new Catalog(db.pool, new SecretBox('k'));
    await catalog.upsertFromConfig(
      parseConfig({
        channels: [
          { id: 'fs', type: 'feishu', appId: 'cli_a', appSecret: 'feishu-secret', apiBase: feishu.url },
          { id: 'dt', type: 'dingtalk', appKey: 'dk', appSecret: 'ds', robotCode: 'robot', apiBase: dingtalk.url, oapiBase: dingtalk.url },
          { id: 'wc', type: 'wecom', corpId: 'corp', secret: 'wecom-secret', agentId: 1000002, apiBase: wecom.apiBase },
        ],
        alerts: {
          webhooks: [`${hook.url}/hooks/${WEBHOOK_TOKEN}?access_token=${WEBHOOK_TOKEN}`, `${failingHook.url}/flaky`],
          chats: [
            { channelId: 'fs', to: 'oc_ops', chatType: 'group' },
            { channelId: 'fs', to: 'ou_admin', chatType: 'direct' },
            { channelId: 'dt', to: 'cid_ops', chatType: 'group' },
            { channelId: 'wc', to: 'zhangsan', chatType: 'direct' },
            { channelId: 'wc', to: 'nobody', chatType: 'direct' },
          ],
        },
      }),
    );
  });
  afterAll(async () => {
    await Promise.all([hook?.close(), failingHook?.close(), feishu?.close(), dingtalk?.close(), wecom?.close()]);
    await db?.close();
    await dropDb?.();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  const transition = (over: Partial<BreakerTransition> = {}): BreakerTransition => ({
    id: `fake/qwen3:32b#${crypto.randomBytes(4).toString('hex')}`,
    model: 'fake/qwen3:32b',
    from: 'closed',
    to: 'open',
    reason: '2 of 21 calls failed within 60 s (9.5% > 5%)',
    at: Date.parse('2025-03-01T08:00:00Z'),
    ...over,
  });

  it('only opening from closed and closing reach admins', () => {
    const t = (from: BreakerTransition['from'], to: BreakerTransition['to']) => alerted(transition({ from, to }));
    expect([t('closed', 'open'), t('half-open', 'closed'), t('open', 'half-open'), t('half-open', 'open')]).toEqual([true, true, false, false]);
  });

  it('a breaker opening reaches every webhook and chat, each delivery recorded, no secret in sight', async () => {
    const alert = createAlerter({ db: db.pool, kv, catalog, channels: defaultChannels(), retryDelaysMs: [0, 50, 100] });
    const t = transition();
    await alert(t);

    expect(hook.received).toHaveLength(1);
    expect(hook.received[0]!.headers['content-type']).toBe('application/json');
    expect(hook.received[0]!.body).toEqual({
      event: 'model.breaker',
      model: 'fake/qwen3:32b',
      from: 'closed',
      to: 'open',
      reason: '2 of 21 calls failed within 60 s (9.5% > 5%)',
      at: '2025-03-01T08:00:00.000Z',
    });
    expect(failingHook.received).toHaveLength(3); // 503, 503, then taken

    const text = alertText(t);
    expect(text).toMatch(/^【imflow 告警】模型 fake\/qwen3:32b 已熔断/);
    expect(text).toContain('circuit breaker OPEN');
    // Feishu has no message to reply to: a new message to the group (chat_id) and to the person (open_id)
    const sent = feishu.received.filter((r) => r.path === '/open-apis/im/v1/messages');
    expect(sent.map((r) => [r.query.receive_id_type, r.body.receive_id, JSON.parse(r.body.content).text])).toEqual(
      expect.arrayContaining([
        ['chat_id', 'oc_ops', text],
        ['open_id', 'ou_admin', text],
      ]),
    );
    expect(sent).toHaveLength(2);
    expect(dingtalk.delivered).toMatchObject([{ via: 'group', to: 'cid_ops', text }]);
    expect(wecom.delivered).toMatchObject([{ touser: 'zhangsan', content: text }]);

    const rows = (await recentAlerts(db.pool)).filter((a) => a.at.getTime() === t.at);
    const byTarget = Object.fromEntries(rows.map((r) => [r.target, [r.status, r.attempts, r.lastError]]));
    expect(byTarget).toEqual({
      [`webhooks[0] ${hook.url}`]: ['delivered', 1, null],
      [`webhooks[1] ${failingHook.url}`]: ['delivered', 3, null],
      'chats[0] fs group oc_ops': ['delivered', 1, null],
      'chats[1] fs direct ou_admin': ['delivered', 1, null],
      'chats[2] dt group cid_ops': ['delivered', 1, null],
      'chats[3] wc direct zhangsan': ['delivered', 1, null],
      // outside the app's visible range: refused, so not retried
      'chats[4] wc direct nobody': ['failed', 1, expect.stringMatching(/^message\/send: errcode 81013 .*https:\/\/open\.work\.weixin\.qq\.com\)$/)],
    });
    expect(rows.every((r) => r.model === 'fake/qwen3:32b' && r.from === 'closed' && r.to === 'open' && r.event === 'model.breaker')).toBe(true);
    // what admins see and what is stored (the Feishu token request carries the app secret by design)
    const everything = JSON.stringify(rows) + JSON.stringify([...hook.received, ...sent].map((r) => r.body)) + JSON.stringify(dingtalk.delivered);
    for (const secret of [WEBHOOK_TOKEN, 'feishu-secret', 'wecom-secret']) expect(everything).not.toContain(secret);
  });

  it('the same state change announced twice is delivered once per target', async () => {
    const before = hook.received.length;
    const alert = createAlerter({ db: db.pool, kv, catalog, channels: defaultChannels(), retryDelaysMs: [0] });
    const t = transition({ from: 'half-open', to: 'closed', reason: 'probe call succeeded' });
    await Promise.all([alert(t), alert(t)]);
    expect(hook.received.slice(before).map((r) => r.body.to)).toEqual(['closed']);
    expect(wecom.deliveredTo('zhangsan').at(-1)!.content).toMatch(/^【imflow 恢复】模型 fake\/qwen3:32b 已恢复/);
  });

  it('changes that are not announced send nothing and record nothing', async () => {
    const before = { hook: hook.received.length, rows: (await recentAlerts(db.pool, 100)).length };
    const alert = createAlerter({ db: db.pool, kv, catalog, channels: defaultChannels(), retryDelaysMs: [0] });
    await alert(transition({ from: 'open', to: 'half-open' }));
    await alert(transition({ from: 'half-open', to: 'open' }));
    expect(hook.received.length).toBe(before.hook);
    expect((await recentAlerts(db.pool, 100)).length).toBe(before.rows);
  });
});

// ---- callModel with the breaker ----

describe('callModel and the breaker', () => {
  let fake: FakeModelServer;
  let kv: KeyValueStore;
  beforeAll(async () => {
    fake = await startFakeModelServer();
    kv = await readyStore(() => openKeyValueStore(REDIS_URL));
  });
  afterAll(async () => {
    await kv?.del(`${breakerKey('fake/qwen3:32b', fake.baseURL)}:state`).catch(() => {});
    await kv?.close();
    await fake?.close();
  });

  it('counts only model faults, and once open turns calls away without reaching the model', async () => {
    const model = modelSchema.parse({ id: 'qwen3:32b', firstTokenTimeoutMs: 2000 });
    const catalog = {
      resolveModel: async (ref: string) => ({ ref, providerId: 'fake', provider: { baseUrl: fake.baseURL, api: 'openai-completions', models: [model] }, model }),
      breakerSettings: async () => ({ ...DEFAULTS, minCalls: 3, errorRate: 0.5 }),
      alertSettings: async () => ({ webhooks: [], chats: [] }),
      channel: async () => undefined,
    } as unknown as Catalog;
    const db = { query: async () => ({ rows: [] }) } as never;
    const callModel = makeCallModel({ catalog, db, kv, channels: {} });
    const env = new MockActivityEnvironment();
    const call = () => env.run(callModel, { model: 'fake/qwen3:32b', history: [], userText: 'hi', hasFallback: true }).then(
      (answer) => (answer as ModelAnswer).text,
      (err: ApplicationFailure) => `${err.type}${err.nonRetryable ? ' (non-retryable)' : ''}`,
    );

    // our request's fault and the server's "slow down": no reason to stop calling the model
    fake.enqueue('qwen3:32b', { status: 400 }, { status: 401 }, { status: 429 }, { status: 400 });
    expect([await call(), await call(), await call(), await call()]).toEqual([
      'InvalidRequest (non-retryable)',
      'Unauthorized (non-retryable)',
      'RateLimited',
      'InvalidRequest (non-retryable)',
    ]);
    expect(await call()).toBe('fake answer to: hi');
    // 1 success, then 2 of 3 failed (> 50 %): open
    fake.enqueue('qwen3:32b', { status: 503 }, { status: 502 });
    expect([await call(), await call()]).toEqual(['ModelUnavailable', 'ModelUnavailable']);
    const reached = fake.requestsFor('qwen3:32b').length;
    expect(await call()).toBe('CircuitOpen (non-retryable)');
    expect(await call()).toBe('CircuitOpen (non-retryable)');
    expect(fake.requestsFor('qwen3:32b')).toHaveLength(reached);
  });
});
