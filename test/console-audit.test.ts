import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { maskText } from '../api/audit.js';
import { appendAudit } from '../runtime/audit.js';
import { startStack, uniq, type Stack } from './helpers/stack.js';

let stack: Stack;
const tokens: Record<string, string> = {};
beforeAll(async () => {
  stack = await startStack({ namespace: 'it-console-audit' });
  for (const role of ['admin', 'analyst', 'viewer', 'auditor']) {
    const id = uniq(role).toLowerCase();
    await stack.api('POST', '/api/users', { id, role, password: 'a long enough password' });
    tokens[role] = (await stack.api('POST', `/api/users/${id}/tokens`, { name: 'test' })).body.token;
  }
});
afterAll(() => stack?.stop());

const as = (role: string, method: string, p: string, body?: unknown) => stack.api(method, p, body, { authorization: `Bearer ${tokens[role]}` });

const PHONE = '13812345678';
const EMAIL = 'zhang.san@example.com';

describe('masking', () => {
  it('masks mobile numbers, international numbers, landlines and e-mail addresses, and nothing else', () => {
    expect(maskText(`请联系 ${PHONE} 或 ${EMAIL}`)).toBe('请联系 138****5678 或 z***@example.com');
    expect(maskText('+86 138-1234-5678')).toBe('+86 138****5678');
    expect(maskText('call +44 20 7946 0958 now')).toBe('call +44****0958 now');
    expect(maskText('座机 010-62345678')).toBe('座机 ****5678');
    // ids, timestamps, order numbers and amounts stay as they are
    for (const s of ['msg:sandbox:3f2a-1b', '1732400000000', '订单 202411230001 金额 138.50', 'v1.2.3', 'qwen3:32b']) expect(maskText(s)).toBe(s);
  });

  it('masks runs and their audit rows for viewers and analysts, not for admins and auditors', async () => {
    const conversationId = uniq('c');
    const run = await stack.sandbox({ text: `我的手机 ${PHONE}，邮箱 ${EMAIL}`, conversationId, senderId: PHONE });
    expect(run.body.status).toBe('replied');
    const p = `/api/runs/${encodeURIComponent(run.body.workflowId)}`;

    for (const role of ['viewer', 'analyst']) {
      const detail = await as(role, 'GET', p);
      expect(detail.status).toBe(200);
      const text = JSON.stringify(detail.body);
      expect(text, role).not.toContain(PHONE);
      expect(text, role).not.toContain(EMAIL);
      expect(detail.body.message.text).toBe('我的手机 138****5678，邮箱 z***@example.com');
      expect(detail.body.message.senderId).toBe('138****5678');
      expect(detail.body.audit[0].detail.text).toContain('138****5678');
      expect(detail.body.workflowId).toBe(run.body.workflowId); // ids stay usable

      const list = await as(role, 'GET', `/api/runs?conversation=${conversationId}`);
      expect(list.body.runs).toHaveLength(1);
      expect(JSON.stringify(list.body)).not.toContain(PHONE);
    }
    for (const role of ['admin', 'auditor']) {
      const detail = await as(role, 'GET', p);
      expect(detail.body.message.text, role).toContain(PHONE);
      expect(detail.body.audit[0].detail.text, role).toContain(EMAIL);
    }
    const log = await as('auditor', 'GET', `/api/audit?subject=${encodeURIComponent(run.body.workflowId)}`);
    expect(log.body.rows[0].detail.text).toContain(PHONE);
  });
});

describe('GET /api/audit', () => {
  it('filters by action (or an action prefix), actor, subject, text and time, newest first, paged', async () => {
    const subject = uniq('subj');
    for (let i = 0; i < 3; i++) await appendAudit(stack.imflow.db.pool, { actor: 'user:test', action: `thing.change`, subject, detail: { n: i, note: `第${i}次` } });
    const page1 = await as('auditor', 'GET', `/api/audit?subject=${subject}&pageSize=2`);
    expect(page1.status).toBe(200);
    expect(page1.body.total).toBe(3);
    expect(page1.body.rows.map((r: any) => r.detail.n)).toEqual([2, 1]);
    const page2 = await as('auditor', 'GET', `/api/audit?subject=${subject}&pageSize=2&page=2`);
    expect(page2.body.rows.map((r: any) => r.detail.n)).toEqual([0]);
    expect((await as('auditor', 'GET', `/api/audit?action=thing.&subject=${subject}`)).body.total).toBe(3);
    expect((await as('auditor', 'GET', `/api/audit?action=thing.&actor=user:other`)).body.total).toBe(0);
    expect((await as('auditor', 'GET', `/api/audit?subject=${subject}&q=${encodeURIComponent('第1次')}`)).body.rows.map((r: any) => r.detail.n)).toEqual([1]);
    const future = new Date(Date.now() + 3600_000).toISOString();
    expect((await as('auditor', 'GET', `/api/audit?subject=${subject}&from=${future}`)).body.total).toBe(0);
    expect((await as('auditor', 'GET', '/api/audit?from=not-a-date')).status).toBe(400);
  });

  it('exports CSV: every matching row, quoted, formula-safe, UTF-8 with a BOM', async () => {
    const subject = uniq('csv');
    await appendAudit(stack.imflow.db.pool, { actor: '=HYPERLINK("x")', action: 'csv.test', subject, detail: { text: '逗号, "引号"\n换行' } });
    await appendAudit(stack.imflow.db.pool, { actor: 'user:b', action: 'csv.test', subject, detail: { n: 2 } });
    const res = await fetch(`${stack.url}/api/audit/export.csv?subject=${subject}`, { headers: { authorization: `Bearer ${tokens.auditor}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="?imflow-audit-[0-9T-]+\.csv"?$/);
    const bytes = new Uint8Array(await res.arrayBuffer());
    expect([...bytes.slice(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const text = new TextDecoder().decode(bytes.slice(3));
    const lines = text.split('\r\n').filter(Boolean);
    expect(lines[0]).toBe('id,at,actor,action,subject,detail,prev_hash,hash');
    // the quoted newline keeps the first row on two physical lines
    expect(text).toContain(`"'=HYPERLINK(""x"")",csv.test,${subject},"{""text"":""逗号, \\""引号\\""\\n换行""}"`);
    expect(text.match(/csv\.test/g)).toHaveLength(2);
    expect((await fetch(`${stack.url}/api/audit/export.csv`, { headers: { authorization: `Bearer ${tokens.viewer}` } })).status).toBe(403);
  });
});

describe('GET /api/audit/verify', () => {
  it('is ok on an intact chain, finds a tampered row (brokenAt), and a deleted one', async () => {
    await stack.sandbox({ text: 'one more for the chain', conversationId: uniq('c') });
    const before = await as('auditor', 'GET', '/api/audit/verify');
    expect(before.body).toEqual({ ok: true, rows: expect.any(Number) });
    expect(before.body.rows).toBeGreaterThan(5);

    const pool = stack.imflow.db.pool;
    const { rows } = await pool.query(`SELECT id, detail FROM audit_log ORDER BY id LIMIT 1 OFFSET 3`);
    const target = Number(rows[0].id);
    // someone edits a row in the database: rewrites who did what
    await pool.query(`UPDATE audit_log SET detail = jsonb_set(detail, '{tampered}', 'true') WHERE id = $1`, [target]);
    const broken = await as('admin', 'GET', '/api/audit/verify');
    expect(broken.body).toEqual({ ok: false, rows: before.body.rows, brokenAt: target });

    // put back, the chain holds again; a deleted row is found at the row after it, whose link no longer fits
    await pool.query(`UPDATE audit_log SET detail = $2 WHERE id = $1`, [target, rows[0].detail]);
    expect((await as('auditor', 'GET', '/api/audit/verify')).body.ok).toBe(true);
    const next = Number((await pool.query('SELECT min(id) AS id FROM audit_log WHERE id > $1', [target])).rows[0].id);
    await pool.query('DELETE FROM audit_log WHERE id = $1', [target]);
    expect((await as('auditor', 'GET', '/api/audit/verify')).body).toEqual({ ok: false, rows: before.body.rows - 1, brokenAt: next });
  });
});
