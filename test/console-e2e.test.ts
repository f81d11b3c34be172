// The console in Debian's Chromium: each page's main action, as an operator does it, with a screenshot of
// every page kept as a test artifact and copied into docs/console/ for the documentation.
import fs from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../runtime/imflow.js';
import { launchBrowser, screenshot } from './helpers/browser.js';
import { startStack, uniq, waitFor, type Stack } from './helpers/stack.js';

const ADMIN = 'ops-admin';
const VIEWER = 'ops-viewer';
const PASSWORD = 'console e2e password';
const docsDir = path.join(projectRoot, 'docs', 'console');

let stack: Stack;
let browser: Browser;
let context: BrowserContext;
let page: Page;
const pageErrors: string[] = [];

beforeAll(async () => {
  process.env.IMFLOW_TEMPORAL_UI_URL = 'http://127.0.0.1:8233';
  stack = await startStack({
    namespace: 'it-console-e2e',
    config: {
      fallbacks: [],
      channels: [{ id: 'dt-support', type: 'dingtalk', name: '售后群', appKey: 'dingkey', appSecret: 'ding-secret-0123456789', robotCode: 'dingrobot' }],
    },
  });
  await stack.api('POST', '/api/users', { id: ADMIN, role: 'admin', password: PASSWORD, displayName: '运维管理员' });
  await stack.api('POST', '/api/users', { id: VIEWER, role: 'viewer', password: PASSWORD });
  // some history for the dashboard and the runs page
  for (const text of ['发票多久能开出来？', '退货运费谁出？', '我的手机 13812345678 收不到验证码']) {
    await stack.sandbox({ text, conversationId: uniq('demo'), senderId: 'customer-li' });
  }
  browser = await launchBrowser();
  context = await browser.newContext({ locale: 'zh-CN', viewport: { width: 1440, height: 900 } });
  page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(String(err)));
  fs.mkdirSync(docsDir, { recursive: true });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  delete process.env.IMFLOW_TEMPORAL_UI_URL;
});

/** A screenshot as test artifact, also kept for docs/console.md. */
async function shoot(name: string) {
  const file = await screenshot(page, `console-${name}`);
  // the docs' pictures change only when asked to: UPDATE_DOC_SCREENSHOTS=1 npx vitest run test/console-e2e.test.ts
  if (process.env.UPDATE_DOC_SCREENSHOTS) fs.copyFileSync(file, path.join(docsDir, `${name}.png`));
}

const nav = (name: string) => page.getByTestId(`nav-${name}`).click();

describe('the console in a browser', () => {
  it('logs in with a user name and password', async () => {
    await page.goto(stack.url);
    await page.getByLabel('用户名').waitFor();
    await shoot('login');
    await page.getByLabel('用户名').fill(ADMIN);
    await page.getByLabel('密码').fill('wrong password!');
    await page.getByRole('button', { name: /登\s*录/ }).first().click();
    await page.getByText(/登录失败/).waitFor();
    await page.getByLabel('密码').fill(PASSWORD);
    await page.getByRole('button', { name: /登\s*录/ }).first().click();
    await expect.poll(() => page.getByTestId('whoami').textContent()).toContain('运维管理员');
    const cookies = await context.cookies();
    expect(cookies.find((c) => c.name === 'imflow_session')).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
  });

  it('shows runs in flight on the dashboard, live, with their current step', async () => {
    stack.fake.enqueue('qwen3:32b', { firstTokenDelayMs: 6000 });
    const started = await stack.sandbox({ text: '正在处理的一条消息', conversationId: uniq('live'), waitMs: 0 });
    await nav('dashboard');
    const row = page.locator('tr', { hasText: '正在处理的一条消息' });
    await row.getByText('调用模型').waitFor({ timeout: 15_000 });
    await page.waitForTimeout(500); // let the charts finish drawing
    await shoot('dashboard');
    await waitFor('the slow run to finish', async () => (await stack.api('GET', `/api/runs/${encodeURIComponent(started.body.workflowId)}`)).body.status === 'replied');
    await row.waitFor({ state: 'detached', timeout: 15_000 });
  });

  it('finds a run and opens its steps, with a link to Temporal', async () => {
    await nav('runs');
    await page.getByTestId('runs-text').locator('input').fill('退货运费');
    await page.getByTestId('runs-text').locator('input').press('Enter');
    await page.locator('tr', { hasText: '退货运费谁出？' }).first().waitFor();
    await shoot('runs');
    await page.locator('tr', { hasText: '退货运费谁出？' }).first().click();
    await page.getByTestId('run-detail').waitFor();
    for (const step of ['verify', 'loadSession', 'matchRule', 'callModel', 'reply', 'audit']) await page.getByTestId(`step-${step}`).first().waitFor();
    await expect.poll(() => page.getByTestId('reply').textContent()).toBe('fake answer to: 退货运费谁出？');
    expect(await page.getByTestId('temporal-link').getAttribute('href')).toMatch(/^http:\/\/127\.0\.0\.1:8233\/namespaces\/it-console-e2e\/workflows\/msg%3Asandbox%3A/);
    // the model's complete input, from Temporal's record of the activity
    await page.getByTestId('step-callModel').first().click();
    await page.getByText('模型输入（完整）').waitFor();
    await page.waitForTimeout(500); // the panel's opening animation
    await shoot('run');
  });

  it('retries a failed run from the step that failed', async () => {
    stack.fake.enqueue('qwen3:32b', { status: 400, errorMessage: 'bad request once' });
    const failed = await stack.sandbox({ text: '这条会先失败', conversationId: uniq('retry') });
    expect(failed.body.status).toBe('failed');
    await page.goto(`${stack.url}/runs/${encodeURIComponent(failed.body.workflowId)}`);
    await page.getByTestId('retry').click();
    await page.getByRole('button', { name: /确\s*定|OK/ }).click();
    await expect.poll(() => page.getByTestId('reply').textContent().catch(() => null), { timeout: 30_000 }).toBe('fake answer to: 这条会先失败');
  });

  it('runs a message in the sandbox and shows the trace', async () => {
    await nav('sandbox');
    await page.getByTestId('sandbox-text').fill('你好，请介绍一下你自己');
    await page.getByTestId('sandbox-run').click();
    await expect.poll(() => page.getByTestId('sandbox-reply').textContent(), { timeout: 30_000 }).toBe('fake answer to: 你好，请介绍一下你自己');
    await page.getByTestId('trace').getByTestId('step-callModel').waitFor();
    await shoot('sandbox');
  });

  it('edits a model provider, and the change is saved and audited', async () => {
    await nav('models');
    await page.getByTestId('edit-provider-fake').click();
    await page.getByTestId('model-name-0').fill('Qwen3 32B（本机）');
    await page.getByRole('dialog').getByRole('button', { name: /保\s*存/ }).click();
    await page.getByText('Qwen3 32B（本机） (qwen3:32b)').waitFor();
    const models = await stack.api('GET', '/api/models');
    expect(models.body.providers.fake.models[0]).toMatchObject({ id: 'qwen3:32b', name: 'Qwen3 32B（本机）', contextWindow: 32000, firstTokenTimeoutMs: 8000 });
    expect(models.body.providers.fake.apiKey).toBe(true); // the stored key was kept
    const audit = await stack.imflow.db.pool.query(`SELECT actor FROM audit_log WHERE action = 'model.provider.update' AND subject = 'fake'`);
    expect(audit.rows).toEqual([{ actor: `user:${ADMIN}` }]);
    await shoot('models');
  });

  it('shows channels with their callback URLs', async () => {
    await nav('channels');
    await page.getByText('dt-support').first().waitFor();
    await page.getByText(`${stack.url}/webhooks/dingtalk/dt-support`).first().waitFor();
    await shoot('channels');
  });

  it('verifies the audit chain and shows where it broke after tampering', async () => {
    await nav('audit');
    await expect.poll(() => page.getByTestId('chain-status').textContent()).toMatch(/哈希链完整/);
    await shoot('audit');
    const pool = stack.imflow.db.pool;
    const { rows } = await pool.query('SELECT id, actor FROM audit_log ORDER BY id LIMIT 1 OFFSET 2');
    await pool.query(`UPDATE audit_log SET actor = 'someone-else' WHERE id = $1`, [rows[0].id]);
    try {
      await page.getByTestId('verify-chain').click();
      await expect.poll(() => page.getByTestId('chain-status').textContent()).toContain(`第 ${rows[0].id} 条`);
    } finally {
      await pool.query('UPDATE audit_log SET actor = $2 WHERE id = $1', [rows[0].id, rows[0].actor]);
    }
    const csv = await page.evaluate(async () => (await fetch('/api/audit/export.csv?action=model.')).text());
    expect(csv).toContain('model.provider.update');
  });

  it('shows settings, and mounts the pipeline studio', async () => {
    await nav('settings');
    await page.getByText(VIEWER).waitFor();
    await shoot('settings');
    // flow control edited in the browser reaches every process through /api/settings
    await page.getByRole('tab', { name: '限流、告警与熔断' }).click();
    const limits = page.getByTestId('limits-settings');
    await limits.getByLabel('同时进行的模型调用').fill('3');
    await limits.getByRole('button', { name: /保\s*存/ }).first().click(); // antd spaces out two-character labels
    await expect.poll(async () => (await stack.imflow.catalog.limitSettings()).concurrency).toBe(3);
    await shoot('settings-limits');
    await stack.api('PUT', '/api/settings/limits', {});
    await nav('pipelines');
    await page.getByTestId('pipeline-studio').waitFor({ timeout: 20_000 });
    await page.waitForTimeout(500);
    await shoot('pipelines');
  });

  it('switches to English', async () => {
    await page.getByRole('button', { name: 'English' }).click();
    await nav('runs');
    await page.getByText('Runs').first().waitFor();
    expect(await page.evaluate(() => document.documentElement.lang)).toBe('en');
    await page.getByRole('button', { name: /中\s*文/ }).click();
  });

  it('opens with ?token= and drops the token from the address bar', async () => {
    const other = await browser.newContext({ locale: 'zh-CN' });
    const p = await other.newPage();
    await p.goto(`${stack.url}/?token=${encodeURIComponent(stack.token)}`);
    await expect.poll(() => p.getByTestId('whoami').textContent()).toContain('管理员令牌');
    expect(p.url()).not.toContain('token=');
    await other.close();
  });

  it('shows a viewer only what a viewer may use', async () => {
    const other = await browser.newContext({ locale: 'zh-CN' });
    const p = await other.newPage();
    await p.goto(stack.url);
    await p.getByLabel('用户名').fill(VIEWER);
    await p.getByLabel('密码').fill(PASSWORD);
    await p.getByLabel('密码').press('Enter');
    await p.getByTestId('nav-runs').waitFor();
    expect(await p.getByTestId('nav-audit').count()).toBe(0);
    expect(await p.getByTestId('nav-sandbox').count()).toBe(0);
    // and the API refuses what the menu hides
    expect(await p.evaluate(async () => (await fetch('/api/audit')).status)).toBe(403);
    await other.close();
  });

  it('raised no errors in the page', () => {
    expect(pageErrors).toEqual([]);
  });
});
