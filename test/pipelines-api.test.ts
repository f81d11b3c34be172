// /api/pipelines end to end: CRUD, validation per node, publishing, versions, rollback, config-as-code,
// and the matchRule step picking the published pipeline and pinning its version.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeMatchRule } from '../activities/match-rule.js';
import type { PipelineGraph } from '../pipelines/graph.js';
import { ConfigError, parseConfig } from '../runtime/config.js';
import type { InboundMessage } from '../workflows/types.js';
import { SEED_SYSTEM_PROMPT, seedGraph } from './fixtures/seed-pipeline.js';
import { inbound } from './helpers/messages.js';
import { PRIMARY, startStack, testConfig, type Stack } from './helpers/stack.js';

let stack: Stack;
const CUSTOMER = 'buyer-1';

beforeAll(async () => {
  stack = await startStack({ namespace: 'it-pipelines' });
  await upsertConfig({});
});
afterAll(async () => {
  await stack?.stop();
});

function upsertConfig(extra: Record<string, unknown>) {
  const config = parseConfig({ ...testConfig(stack.fake.baseURL), departments: [{ id: 'customer', name: '客户群', members: [{ senderId: CUSTOMER }] }], ...extra });
  return stack.imflow.catalog.upsertFromConfig(config);
}
const query = (sql: string, params: unknown[] = []) => stack.imflow.db.pool.query(sql, params).then((r) => r.rows);
const seed = () => seedGraph(PRIMARY);
const withPrompt = (prompt: string): PipelineGraph => {
  const g = seed();
  (g.nodes[1]!.data as { systemPrompt?: string }).systemPrompt = prompt;
  return g;
};
const matchRule = (msg: Partial<InboundMessage>) =>
  makeMatchRule({ catalog: stack.imflow.catalog, db: stack.imflow.db.pool })(inbound({ senderId: CUSTOMER, text: '我想退款，怎么操作？', ...msg }));
const promptOf = (g: PipelineGraph | undefined) => (g?.nodes.find((n) => n.type === 'llm')?.data as { systemPrompt?: string } | undefined)?.systemPrompt;

describe('/api/pipelines', () => {
  it('needs the admin token', async () => {
    const res = await fetch(`${stack.url}/api/pipelines`);
    expect(res.status).toBe(401);
    expect((await fetch(`${stack.url}/api/pipelines/catalogue`)).status).toBe(401);
  });

  it('serves the node catalogue and what nodes may refer to', async () => {
    const catalogue = await stack.api('GET', '/api/pipelines/catalogue');
    expect(catalogue.body.map((k: any) => k.type)).toEqual(['trigger', 'retrieve', 'llm', 'tool', 'condition', 'reply', 'handoff', 'end']);
    expect(catalogue.body.find((k: any) => k.type === 'llm').fields.find((f: any) => f.name === 'model')).toMatchObject({ kind: 'select', lookup: 'models' });
    const lookups = await stack.api('GET', '/api/pipelines/lookups');
    expect(lookups.body.models).toContainEqual({ id: PRIMARY, name: 'qwen3:32b' });
    expect(lookups.body.channels).toContainEqual({ id: 'sandbox', name: 'Sandbox' });
    expect(lookups.body).toMatchObject({ knowledgeBases: [], tools: [] });
  });

  it('creates pipelines: an id is generated when none is given; a taken or reserved one is refused', async () => {
    const created = await stack.api('POST', '/api/pipelines', { name: '草稿' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ id: expect.stringMatching(/^pipeline_[0-9a-f]{16}$/), name: '草稿', enabled: true, published: null, createdBy: 'admin' });
    // a new pipeline starts with its trigger, which leads nowhere yet
    expect(created.body.draft.graph.nodes.map((n: any) => n.type)).toEqual(['trigger']);
    expect(created.body.validation.errors).toEqual([{ nodeId: 'trigger', message: expect.stringMatching(/^it leads nowhere/) }]);

    const returns = await stack.api('POST', '/api/pipelines', { id: 'returns', name: '售后退款', description: '退货退款', graph: seed() });
    expect(returns.status).toBe(201);
    expect(returns.body).toMatchObject({ id: 'returns', validation: { ok: true, errors: [] }, draft: { graph: seed() } });
    expect((await stack.api('POST', '/api/pipelines', { id: 'returns', name: 'x' })).status).toBe(409);
    const reserved = await stack.api('POST', '/api/pipelines', { id: 'default', name: 'x' });
    expect(reserved.status).toBe(400);
    expect(reserved.body.error).toMatch(/^invalid pipeline: id: "default", .* are reserved/);
  });

  it('refuses malformed requests with a 400 naming the field, and graph shape errors per node', async () => {
    expect((await stack.api('POST', '/api/pipelines', {})).body.error).toMatch(/^invalid pipeline: name: /);
    expect((await stack.api('POST', '/api/pipelines', { name: 'x', colour: 'red' })).body.error).toMatch(/^invalid pipeline: .*colour/);
    const g = seed();
    (g.nodes[1]!.data as any).temperature = 5;
    const bad = await stack.api('PUT', '/api/pipelines/returns', { graph: g });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe('invalid pipeline: graph: node "llm": temperature: Too big: expected number to be <=2');
    expect(bad.body.details).toEqual([{ nodeId: 'llm', field: 'temperature', message: 'temperature: Too big: expected number to be <=2' }]);
    expect((await stack.api('PUT', '/api/pipelines/returns', { enabled: 'yes' })).body.error).toMatch(/^invalid pipeline: enabled: /);
    expect((await stack.api('PUT', '/api/pipelines/nope', { name: 'x' })).status).toBe(404);
    expect((await stack.api('GET', '/api/pipelines/nope')).status).toBe(404);
    // the draft was not touched by any of it
    expect((await stack.api('GET', '/api/pipelines/returns')).body.draft.graph).toEqual(seed());
  });

  it('saves a draft that cannot be published yet, shows why, and refuses to publish it with every error per node', async () => {
    const g = seed();
    (g.nodes[1]!.data as any).model = 'fake/qwen9';
    g.nodes.push({ id: 'orphan', type: 'end', position: { x: 0, y: 300 }, data: {} });
    const saved = await stack.api('PUT', '/api/pipelines/returns', { graph: g });
    expect(saved.status).toBe(200);
    const errors = [
      { nodeId: 'orphan', message: 'not reachable from the trigger "trigger": connect it or remove it' },
      { nodeId: 'llm', field: 'model', message: 'model: there is no configured model "fake/qwen9"' },
    ];
    expect(saved.body.validation).toEqual({ ok: false, errors });
    expect((await stack.api('GET', '/api/pipelines/returns')).body.draft.graph).toEqual(g);

    const publish = await stack.api('POST', '/api/pipelines/returns/publish', { note: 'try' });
    expect(publish.status).toBe(400);
    expect(publish.body.error).toBe(`pipeline "returns" cannot be published: node "orphan": ${errors[0]!.message}; node "llm": ${errors[1]!.message}`);
    expect(publish.body.details).toEqual(errors);
    expect((await stack.api('GET', '/api/pipelines/returns/versions')).body).toEqual([]);

    expect((await stack.api('POST', '/api/pipelines/validate', { graph: g })).body).toEqual({ ok: false, errors });
    expect((await stack.api('POST', '/api/pipelines/validate', { graph: seed() })).body).toEqual({ ok: true, errors: [] });
  });

  it('publishes the draft as version 1, listed without its graph, read with it', async () => {
    await stack.api('PUT', '/api/pipelines/returns', { graph: seed() });
    const publish = await stack.api('POST', '/api/pipelines/returns/publish', { note: '首版' });
    expect(publish).toEqual({ status: 201, body: { version: 1 } });
    const versions = await stack.api('GET', '/api/pipelines/returns/versions');
    expect(versions.body).toEqual([{ version: 1, publishedAt: expect.any(String), publishedBy: 'admin', note: '首版' }]);
    const v1 = await stack.api('GET', '/api/pipelines/returns/versions/1');
    expect(v1.body).toMatchObject({ version: 1, note: '首版', graph: seed() });
    expect((await stack.api('GET', '/api/pipelines/returns/versions/2')).status).toBe(404);
    expect((await stack.api('GET', '/api/pipelines/returns/versions/x')).status).toBe(400);

    const list = await stack.api('GET', '/api/pipelines');
    const returns = list.body.find((p: any) => p.id === 'returns');
    expect(returns).toMatchObject({
      name: '售后退款',
      description: '退货退款',
      enabled: true,
      draft: { graph: seed(), updatedAt: expect.any(String) },
      published: { version: 1, publishedAt: expect.any(String), note: '首版' },
      validation: { ok: true, errors: [] },
    });
  });

  it('matchRule takes the published pipeline for a matching message, pinned to its version', async () => {
    const rule = await matchRule({});
    expect(rule).toMatchObject({
      pipelineId: 'returns',
      pipelineVersion: 1,
      reason: 'pipeline "returns" version 1 matched: keywordsAny: "退款" in the text; department "customer"',
      models: [PRIMARY, 'fake/qwen2:7b'],
      knowledgeBases: [],
      pipeline: { id: 'returns', version: 1, name: '售后退款', graph: seed() },
      sender: { departments: ['customer'], roles: [] },
    });

    // no keyword, or not in the customer group: the default pipeline, saying why
    const other = await matchRule({ text: '发票多久能开出来？' });
    expect(other).toMatchObject({ pipelineId: 'default', pipelineVersion: 0, reason: 'no published pipeline matched ("returns": keywordsAny: none of "退货", "退款" in the text): default pipeline' });
    expect(other.pipeline).toBeUndefined();
    const stranger = await matchRule({ senderId: 'someone-else' });
    expect(stranger).toMatchObject({ pipelineId: 'default', sender: { departments: [], roles: [] } });
    expect(stranger.reason).toContain(`departments: the sender is in none of "customer"`);
  });

  it('a later draft edit does not change what runs; publishing it does', async () => {
    await stack.api('PUT', '/api/pipelines/returns', { graph: withPrompt('请联系人工客服。') });
    const rule = await matchRule({});
    expect(rule.pipelineVersion).toBe(1);
    expect(promptOf(rule.pipeline?.graph)).toBe(SEED_SYSTEM_PROMPT);

    expect((await stack.api('POST', '/api/pipelines/returns/publish', {})).body).toEqual({ version: 2 });
    const after = await matchRule({});
    expect(after.pipelineVersion).toBe(2);
    expect(promptOf(after.pipeline?.graph)).toBe('请联系人工客服。');
  });

  it('a sandbox run may name the pipeline, a version or the draft, whatever its trigger', async () => {
    const v1 = await matchRule({ text: 'hello', pipelineId: 'returns', pipelineVersion: 1 });
    expect(v1).toMatchObject({ pipelineId: 'returns', pipelineVersion: 1, reason: 'pipeline "returns" version 1 was requested' });
    expect(promptOf(v1.pipeline?.graph)).toBe(SEED_SYSTEM_PROMPT);
    expect((await matchRule({ text: 'hello', pipelineId: 'returns' })).pipelineVersion).toBe(2);

    await stack.api('PUT', '/api/pipelines/returns', { graph: withPrompt('草稿提示词') });
    const draft = await matchRule({ text: 'hello', pipelineId: 'returns', pipelineVersion: 'draft' });
    expect(draft.pipeline).toMatchObject({ id: 'returns', version: 'draft' });
    expect(promptOf(draft.pipeline?.graph)).toBe('草稿提示词');

    expect((await matchRule({ text: 'hello', pipelineId: 'default' })).pipelineId).toBe('default');
    const refused = (msg: Partial<InboundMessage>) => expect(matchRule(msg)).rejects.toMatchObject({ type: 'InvalidInput', nonRetryable: true });
    await refused({ pipelineId: 'nope' });
    await refused({ pipelineId: 'returns', pipelineVersion: 99 });
    const unpublished = (await stack.api('GET', '/api/pipelines')).body.find((p: any) => p.name === '草稿').id;
    await expect(matchRule({ pipelineId: unpublished })).rejects.toThrow(/has no published version/);
    await expect(matchRule({ pipelineId: unpublished, pipelineVersion: 'draft' })).rejects.toThrow(/the draft of pipeline "pipeline_[0-9a-f]+" cannot run: node "trigger": it leads nowhere/);

    const sandbox = await stack.sandbox({ text: 'hi', pipelineVersion: 1 });
    expect(sandbox.status).toBe(400);
    expect(sandbox.body.error).toMatch(/^invalid request: pipelineVersion: give the pipelineId/);
  });

  it('rolls back by publishing the old graph as a new version; the draft stays', async () => {
    const back = await stack.api('POST', '/api/pipelines/returns/rollback', { version: 1, note: '提示词有误' });
    expect(back).toEqual({ status: 201, body: { version: 3 } });
    const versions = (await stack.api('GET', '/api/pipelines/returns/versions')).body;
    expect(versions.map((v: any) => [v.version, v.note])).toEqual([
      [3, 'rollback to version 1: 提示词有误'],
      [2, ''],
      [1, '首版'],
    ]);
    expect((await stack.api('GET', '/api/pipelines/returns/versions/3')).body.graph).toEqual(seed());
    const rule = await matchRule({});
    expect(rule.pipelineVersion).toBe(3);
    expect(promptOf(rule.pipeline?.graph)).toBe(SEED_SYSTEM_PROMPT);
    expect(promptOf((await stack.api('GET', '/api/pipelines/returns')).body.draft.graph)).toBe('草稿提示词');

    expect((await stack.api('POST', '/api/pipelines/returns/rollback', { version: 9 })).status).toBe(404);
    expect((await stack.api('POST', '/api/pipelines/returns/rollback', {})).body.error).toMatch(/^invalid request: version: /);
  });

  it('a disabled pipeline takes no messages', async () => {
    expect((await stack.api('PUT', '/api/pipelines/returns', { enabled: false })).body.enabled).toBe(false);
    expect((await matchRule({})).pipelineId).toBe('default');
    await stack.api('PUT', '/api/pipelines/returns', { enabled: true });
    expect((await matchRule({})).pipelineId).toBe('returns');
  });

  it('upserts pipelines from the config file: a graph equal to the latest version publishes nothing new', async () => {
    const versions = async () => (await stack.api('GET', '/api/pipelines/cfg-night/versions')).body.map((v: any) => v.version);
    const night = (priority: number) => {
      const g = seed();
      g.nodes[0]!.data = { ...g.nodes[0]!.data, priority };
      return { id: 'cfg-night', name: '夜间退款', graph: g };
    };
    await upsertConfig({ pipelines: [night(5)] });
    await upsertConfig({ pipelines: [night(5)] });
    expect(await versions()).toEqual([1]);
    expect((await stack.api('GET', '/api/pipelines/cfg-night')).body).toMatchObject({ source: 'config', createdBy: 'config', published: { version: 1, publishedBy: 'config', note: 'from the config file' } });
    // priority 5 beats "returns" (0)
    expect(await matchRule({})).toMatchObject({ pipelineId: 'cfg-night', pipelineVersion: 1 });

    await upsertConfig({ pipelines: [night(6)] });
    expect(await versions()).toEqual([2, 1]);
    await upsertConfig({ pipelines: [{ ...night(6), publish: false, graph: withPrompt('只存草稿') }] });
    expect(await versions()).toEqual([2, 1]);
    expect(promptOf((await stack.api('GET', '/api/pipelines/cfg-night')).body.draft.graph)).toBe('只存草稿');

    // a graph that cannot be published stops start-up, naming the pipeline and the problem
    const broken = night(7);
    (broken.graph.nodes[1]!.data as any).model = 'fake/qwen9';
    await expect(upsertConfig({ pipelines: [broken] })).rejects.toThrow(ConfigError);
    await expect(upsertConfig({ pipelines: [broken] })).rejects.toThrow('pipelines[0] ("cfg-night") cannot be published:\n  node "llm": model: there is no configured model "fake/qwen9"');
    expect(await versions()).toEqual([2, 1]);
    // a malformed one does not even parse
    const malformed = night(7);
    (malformed.graph.nodes[0]!.data as any).regex = '(';
    expect(() => parseConfig({ pipelines: [malformed] })).toThrow(/pipelines\[0\]\.graph\.nodes\[0\]\.data\.regex: not a valid regular expression/);
    expect(() => parseConfig({ pipelines: [night(1), night(2)] })).toThrow(/pipelines\[1\]\.id: duplicate pipeline id "cfg-night"/);
  });

  it('deletes a pipeline with its versions; every change was audited', async () => {
    expect((await stack.api('DELETE', '/api/pipelines/cfg-night')).status).toBe(204);
    expect((await stack.api('DELETE', '/api/pipelines/cfg-night')).status).toBe(404);
    expect((await stack.api('GET', '/api/pipelines/cfg-night/versions')).status).toBe(404);
    expect(await query(`SELECT 1 FROM pipeline_versions WHERE pipeline_id = 'cfg-night'`)).toEqual([]);
    expect((await matchRule({})).pipelineId).toBe('returns');

    const audit = await query(`SELECT actor, action, detail FROM audit_log WHERE subject = 'returns' ORDER BY id`);
    expect(audit.map((r) => r.action)).toEqual([
      'pipeline.create',
      'pipeline.update', // the draft that could not be published
      'pipeline.update',
      'pipeline.publish',
      'pipeline.update',
      'pipeline.publish',
      'pipeline.update',
      'pipeline.rollback',
      'pipeline.update',
      'pipeline.update',
    ]);
    expect(audit.every((r) => r.actor === 'admin')).toBe(true);
    expect(audit.find((r) => r.action === 'pipeline.rollback')!.detail).toEqual({ to: 1, version: 3, note: '提示词有误' });
    expect(audit.at(-1)!.detail).toEqual({ changed: ['enabled'], enabled: true });
  });
});
