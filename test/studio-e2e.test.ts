// The seed's rule, drawn in the studio by an analyst in a real browser (Debian's Chromium): message
// contains 退货 or 退款 and the sender is in the customer group → Qwen3:32B with the after-sales system
// prompt → if the reply contains 联系人工, the reply carries the button 转接人工客服. Then it is published,
// and real messages through the sandbox show the published rule at work (and the default pipeline for
// the rest). The canvas screenshot is kept as test-artifacts/studio-canvas.png and docs/studio/canvas.png.
import fs from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../runtime/imflow.js';
import { SEED_SYSTEM_PROMPT } from './fixtures/seed-pipeline.js';
import { launchBrowser, screenshot } from './helpers/browser.js';
import { FALLBACK, PRIMARY, startStack, uniq, type Stack } from './helpers/stack.js';

const BUTTON = '转接人工客服';
/** what the fake Qwen3:32B answers: it says 联系人工, so the rule's "yes" branch adds the button */
const ANSWER = '退货需在签收后 7 天内申请；特殊情况请联系人工客服。';
const CUSTOMER = 'buyer-001';
/** a person's pace through many screens, on a shared 2-core machine */
const BROWSER_TIMEOUT = 180_000;
const OUTSIDER = 'passer-by';

let stack: Stack;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  // the default pipeline answers with Qwen2:7B, so a run that reached Qwen3:32B went through the rule
  stack = await startStack({ namespace: 'it-studio', config: { default: FALLBACK, fallbacks: [] } });
  stack.fake.setDefault('qwen3:32b', { text: ANSWER });
  stack.fake.setDefault('qwen2:7b', { text: '这是默认流程的回答。' });
  const created = await stack.api('POST', '/api/departments', { id: 'customer', name: '客户群', members: [{ senderId: CUSTOMER }] });
  expect(created.status).toBe(201);

  browser = await launchBrowser();
  page = await browser.newPage({ viewport: { width: 1920, height: 1080 }, locale: 'zh-CN', deviceScaleFactor: 1 });
});

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

/** Chooses an option of the antd select in the side panel's field. */
async function choose(field: string, option: string) {
  await page.getByTestId(`form-item-${field}`).locator('.ant-select').click();
  await page.locator('.ant-select-dropdown:not(.ant-select-dropdown-hidden) .ant-select-item-option').filter({ hasText: option }).click();
  await page.keyboard.press('Escape');
}

/** Drags a line from one handle to another, as a person does with the mouse. */
async function connect(from: string, to: string) {
  const a = (await page.getByTestId(from).boundingBox())!;
  const b = (await page.getByTestId(to).boundingBox())!;
  await page.mouse.move(a.x + a.width / 2, a.y + a.height / 2);
  await page.mouse.down();
  await page.mouse.move(b.x + b.width / 2, b.y + b.height / 2, { steps: 12 });
  await page.mouse.up();
}

let pipelineId: string;
const toolbar = () => page.getByTestId('editor-toolbar');
const nodeCount = async () => [await page.locator('.react-flow__node').count(), await page.locator('.react-flow__edge').count()];

/** A screenshot for test-artifacts/ once toasts and drawers have finished moving. */
async function still(name: string) {
  await page.locator('.ant-message-notice').first().waitFor({ state: 'detached' });
  await page.waitForTimeout(300);
  return screenshot(page, name);
}

describe('the studio', () => {
  it("lets an analyst draw the seed's rule, test it and publish it", async () => {
    await page.goto(`${stack.url}/pipelines?token=${stack.token}`);
    await page.getByTestId('pipeline-new').click();
    await page.getByTestId('pipeline-name').fill('售后退货退款');
    await page.getByTestId('pipeline-create').click();
    const canvas = page.getByTestId('canvas');

    // a new pipeline starts with its trigger; the other steps are dragged from the palette to its right
    await page.getByTestId('node-trigger').waitFor();
    for (const [type, x, y] of [
      ['llm', 310, 220],
      ['condition', 560, 220],
      ['reply', 810, 100],
      ['reply', 810, 360],
    ] as const) {
      await page.getByTestId(`palette-${type}`).dragTo(canvas, { targetPosition: { x, y } });
    }
    await expect.poll(nodeCount).toEqual([5, 0]);

    await connect('handle-trigger-out', 'handle-llm-in');
    await connect('handle-llm-out', 'handle-condition-in');
    await connect('handle-condition-true', 'handle-reply-in');
    await connect('handle-condition-false', 'handle-reply-2-in');
    await expect.poll(nodeCount).toEqual([5, 4]);

    // the condition has no text to look for yet: marked on the canvas while editing
    await expect.poll(() => page.getByTestId('node-condition').getAttribute('data-invalid')).toBe('true');
    await still('studio-nodes');

    await page.getByTestId('node-trigger').click();
    const keywords = page.getByTestId('form-item-keywordsAny').locator('input');
    for (const word of ['退货', '退款']) {
      await keywords.fill(word);
      await keywords.press('Enter');
    }
    await choose('departments', '客户群');
    await still('studio-trigger');

    await page.getByTestId('node-llm').click();
    await choose('model', PRIMARY);
    await page.getByTestId('field-systemPrompt').fill(SEED_SYSTEM_PROMPT);
    await still('studio-llm');

    await page.getByTestId('node-condition').click();
    await choose('subject', '模型回复');
    await choose('operator', '包含');
    await page.getByTestId('field-value').fill('联系人工');
    await still('studio-condition');

    await page.getByTestId('node-reply').click();
    await page.getByTestId('field-buttons-add').click();
    await page.getByTestId('field-buttons-0-label').fill(BUTTON);
    await page.getByTestId('editor-valid').waitFor();
    expect(await page.locator('[data-invalid="true"]').count()).toBe(0);
    await still('studio-reply');

    // a node deleted by mistake comes back with its lines: Ctrl+Z, and Ctrl+Shift+Z does it again
    await page.getByTestId('node-reply-2').click();
    await page.keyboard.press('Delete');
    await expect.poll(nodeCount).toEqual([4, 3]);
    await page.keyboard.press('Control+z');
    await expect.poll(nodeCount).toEqual([5, 4]);
    await page.keyboard.press('Control+Shift+z');
    await expect.poll(nodeCount).toEqual([4, 3]);
    await page.getByTestId('editor-undo').click();
    await expect.poll(nodeCount).toEqual([5, 4]);

    await page.getByTestId('editor-save').click();
    await page.getByTestId('editor-dirty').waitFor({ state: 'detached' });

    // a test run of the draft lights up the path the message took, with each node's duration
    await page.getByTestId('editor-test').click();
    await page.getByTestId('test-message').fill('我买的鞋子想退货，怎么办？');
    await page.getByTestId('test-sender').fill(CUSTOMER);
    await page.getByTestId('test-run').click();
    await page.getByTestId('test-reply').waitFor({ timeout: 60_000 });
    expect(await page.getByTestId('test-reply-button').allTextContents()).toEqual([BUTTON]);
    for (const id of ['trigger', 'llm', 'condition', 'reply']) expect(await page.getByTestId(`node-${id}`).getAttribute('data-run')).toBe('ran');
    expect(await page.getByTestId('node-reply-2').getAttribute('data-run')).toBe('skipped');
    // each node's output is on the canvas too: on its duration
    await page.getByTestId('node-llm-duration').hover();
    await expect.poll(() => page.locator('.pl-node-output').textContent()).toContain(ANSWER);
    await still('studio-test-run');

    await page.locator('.ant-drawer-open .ant-drawer-close').click();
    await page.locator('.ant-drawer-open').waitFor({ state: 'detached' });
    await page.getByTestId('node-llm').click();
    const shot = await still('studio-canvas');
    fs.mkdirSync(path.join(projectRoot, 'docs/studio'), { recursive: true });
    if (process.env.UPDATE_DOC_SCREENSHOTS) fs.copyFileSync(shot, path.join(projectRoot, 'docs/studio/canvas.png'));

    await page.getByTestId('editor-publish').click();
    await page.getByTestId('publish-note').fill('售后退货退款：首次发布');
    await still('studio-publish');
    await page.getByTestId('publish-confirm').click();
    await toolbar().getByText('已发布 v1').waitFor();

    const list = await stack.api('GET', '/api/pipelines');
    const mine = list.body.find((p: { name: string }) => p.name === '售后退货退款');
    pipelineId = mine.id;
    expect(mine.published).toMatchObject({ version: 1, note: '售后退货退款：首次发布' });
    expect(mine.validation).toEqual({ ok: true, errors: [] });
  }, BROWSER_TIMEOUT);

  it('publishes what was drawn: the trigger, the model, the condition and both replies', async () => {
    const { body } = await stack.api('GET', `/api/pipelines/${pipelineId}/versions/1`);
    const byId = Object.fromEntries(body.graph.nodes.map((n: { id: string }) => [n.id, n]));
    expect(byId.trigger).toMatchObject({ type: 'trigger', data: { keywordsAny: ['退货', '退款'], departments: ['customer'] } });
    expect(byId.llm).toMatchObject({ type: 'llm', data: { model: PRIMARY, systemPrompt: SEED_SYSTEM_PROMPT } });
    expect(byId.condition).toMatchObject({ type: 'condition', data: { subject: 'reply', operator: 'contains', value: '联系人工' } });
    expect(byId.reply).toMatchObject({ type: 'reply', data: { buttons: [{ label: BUTTON }] } });
    expect(byId['reply-2'].data.buttons).toBeUndefined();
    const edges = body.graph.edges.map((e: { source: string; target: string; sourceHandle?: string }) => `${e.source}-${e.sourceHandle ?? ''}->${e.target}`);
    expect(edges.sort()).toEqual(['condition-false->reply-2', 'condition-true->reply', 'llm-->condition', 'trigger-->llm']);
  });

  it('answers a matching message from the customer group with the button, through Qwen3:32B and that system prompt', async () => {
    stack.fake.reset();
    stack.fake.setDefault('qwen3:32b', { text: ANSWER });
    const { status, body } = await stack.sandbox({ text: '我想退款，订单还没发货', senderId: CUSTOMER, conversationId: uniq('c') });
    expect(status).toBe(200);
    expect(body.reply).toMatchObject({ text: ANSWER, buttons: [{ label: BUTTON }] });
    expect(body.trace.find((s: { step: string }) => s.step === 'matchRule').output).toMatchObject({ pipelineId, pipelineVersion: 1 });

    const asked = stack.fake.requestsFor('qwen3:32b');
    expect(asked).toHaveLength(1);
    const system = asked[0]!.messages.filter((m: { role: string }) => m.role === 'system');
    expect(system).toEqual([{ role: 'system', content: SEED_SYSTEM_PROMPT }]);
  });

  it('leaves every other message to the default pipeline', async () => {
    stack.fake.reset();
    stack.fake.setDefault('*', { text: '这是默认流程的回答。' });
    // no keyword, and a keyword from someone outside the customer group
    for (const [text, senderId] of [
      ['发票多久能开出来？', CUSTOMER],
      ['我要退货', OUTSIDER],
    ]) {
      const { body } = await stack.sandbox({ text, senderId, conversationId: uniq('c') });
      expect(body.reply.text).toBe('这是默认流程的回答。');
      expect(body.reply.buttons ?? []).toEqual([]);
      expect(body.trace.find((s: { step: string }) => s.step === 'matchRule').output).toMatchObject({ pipelineId: 'default' });
    }
    expect(stack.fake.requestsFor('qwen3:32b')).toHaveLength(0);
    const prompts = stack.fake.requestsFor('qwen2:7b').map((r) => r.messages.find((m: { role: string }) => m.role === 'system')?.content);
    expect(prompts).toHaveLength(2);
    expect(prompts).not.toContain(SEED_SYSTEM_PROMPT);
  });

  it('keeps every published version: one can be viewed read-only and rolled back to', async () => {
    await page.getByTestId('node-reply-2').click();
    await page.getByTestId('field-label').fill('普通回复');
    await page.getByTestId('editor-publish').click();
    await page.getByTestId('publish-note').fill('给普通回复起名');
    await page.getByTestId('publish-confirm').click();
    await toolbar().getByText('已发布 v2').waitFor();

    await page.getByTestId('editor-history').click();
    await page.getByTestId('version-1-view').click();
    await page.getByText('正在查看 v1（只读）').waitFor();
    expect(await page.getByTestId('node-reply-2').textContent()).not.toContain('普通回复');
    await expect.poll(() => page.getByTestId('editor-publish').isDisabled()).toBe(true);
    await still('studio-versions');

    await page.getByTestId('version-1-rollback').click();
    await page.locator('.ant-popconfirm-buttons .ant-btn-primary').click();
    await toolbar().getByText('已发布 v3').waitFor();
    const [v1, v3] = await Promise.all([1, 3].map((v) => stack.api('GET', `/api/pipelines/${pipelineId}/versions/${v}`)));
    expect(v3!.body.graph).toEqual(v1!.body.graph);

    // the draft, with its named reply, is still there
    await page.getByTestId('versions-back-to-draft').click();
    await expect.poll(() => page.getByTestId('node-reply-2').textContent()).toContain('普通回复');
    await page.locator('.ant-drawer-open .ant-drawer-close').click();
  }, BROWSER_TIMEOUT);

  it('speaks English when the console switches to it', async () => {
    await page.evaluate(() => (document.documentElement.lang = 'en'));
    await expect.poll(() => page.getByTestId('palette-condition').textContent()).toBe('Condition');
    expect(await page.getByTestId('editor-publish').textContent()).toBe('Publish');
    await page.evaluate(() => (document.documentElement.lang = 'zh-CN'));
    await expect.poll(() => page.getByTestId('palette-condition').textContent()).toBe('条件分支');

    await page.getByTestId('editor-back').click();
    await page.getByTestId(`pipeline-row-${pipelineId}`).getByText('v3').waitFor();
    await still('studio-list');
  });
});
