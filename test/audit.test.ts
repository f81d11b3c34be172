import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { appendAudit, auditHash, canonicalJson, verifyAuditChain, type AuditEntry } from '../runtime/audit.js';
import { openDatabase, type Database } from '../runtime/db.js';
import { freshDatabase } from './helpers/database.js';

let db: Database;
let dropDb: () => Promise<void>;
let dataDir: string;

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'imflow-audit-test-'));
  const fresh = await freshDatabase('imflow_u');
  dropDb = fresh.drop;
  db = await openDatabase({ url: fresh.url, dataDir });
  expect(db.kind).toBe(process.env.DATABASE_URL ? 'postgres' : 'pglite');
});

afterAll(async () => {
  await db?.close();
  await dropDb?.();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

beforeEach(async () => {
  await db.pool.query('TRUNCATE audit_log RESTART IDENTITY');
});

const ids = async () => (await db.pool.query<{ id: string }>('SELECT id FROM audit_log ORDER BY id')).rows.map((r) => Number(r.id));
const count = async () => Number((await db.pool.query<{ n: string }>('SELECT count(*) AS n FROM audit_log')).rows[0]!.n);

/** Several entries with Chinese text and nested details whose keys come in different orders. */
function sampleEntries(): AuditEntry[] {
  return [
    { actor: 'admin', action: 'channel.create', subject: 'dingtalk-main', detail: { name: '钉钉主群', settings: { respondTo: 'mention', groups: true } } },
    { actor: '张三', action: 'provider.update', subject: 'ollama', detail: { zeta: 1, alpha: { y: [3, 2, 1], x: '值' }, mid: null } },
    { actor: 'system', action: 'config.reload', subject: '配置文件', detail: { alpha: { x: '值', y: [3, 2, 1] }, mid: null, zeta: 1 } },
    {
      actor: 'admin',
      action: 'message.reply',
      subject: 'feishu-main/oc_123',
      detail: { list: [{ b: 2, a: 1 }, { d: { f: 6, e: 5 }, c: 3 }], text: '你好 🙂 "quoted" \\ back\nslash', n: 0.1 + 0.2, big: 1e21, tiny: -5.5e-7 },
    },
    { actor: 'admin', action: 'token.rotate', subject: 'admin', detail: {}, at: new Date('2024-02-10T08:00:00.123Z') },
  ];
}

async function appendAll(entries: AuditEntry[]): Promise<void> {
  for (const e of entries) await appendAudit(db.pool, e);
}

describe('canonicalJson', () => {
  it('sorts object keys at every depth and keeps array order', () => {
    const a = canonicalJson({ b: 1, a: { d: [{ y: 1, x: 2 }], c: '中' } });
    const b = canonicalJson({ a: { c: '中', d: [{ x: 2, y: 1 }] }, b: 1 });
    expect(a).toBe(b);
    expect(JSON.parse(a)).toEqual({ a: { c: '中', d: [{ x: 2, y: 1 }] }, b: 1 });
    expect(canonicalJson([2, 1])).not.toBe(canonicalJson([1, 2]));
  });

  it('the hash depends on the previous hash and on every field', () => {
    const row = { at: new Date('2024-01-01T00:00:00Z'), actor: 'a', action: 'x', subject: 's', detail: { k: 1 } };
    const h = auditHash('0'.repeat(64), row);
    expect(h).toMatch(/^[0-9a-f]{64}$/);
    expect(auditHash('1'.repeat(64), row)).not.toBe(h);
    expect(auditHash('0'.repeat(64), { ...row, at: new Date('2024-01-01T00:00:00.001Z') })).not.toBe(h);
    expect(auditHash('0'.repeat(64), { ...row, actor: 'b' })).not.toBe(h);
    expect(auditHash('0'.repeat(64), { ...row, detail: { k: 2 } })).not.toBe(h);
    expect(auditHash('0'.repeat(64), { ...row, detail: { k: 1 } })).toBe(h);
  });
});

describe('audit log hash chain', () => {
  it('an empty log is a valid chain', async () => {
    expect(await verifyAuditChain(db.pool)).toEqual({ ok: true, rows: 0 });
  });

  it('appends rows that form a valid chain, with details stored as given', async () => {
    const entries = sampleEntries();
    await appendAll(entries);
    expect(await verifyAuditChain(db.pool)).toEqual({ ok: true, rows: entries.length });

    const { rows } = await db.pool.query('SELECT id, at, actor, subject, detail, prev_hash, hash FROM audit_log ORDER BY id');
    expect(rows).toHaveLength(entries.length);
    expect(rows[0].prev_hash).toBe('0'.repeat(64));
    for (let i = 1; i < rows.length; i++) expect(rows[i].prev_hash).toBe(rows[i - 1].hash);
    expect(new Set(rows.map((r) => r.hash)).size).toBe(rows.length);
    rows.forEach((r, i) => {
      expect(r.actor).toBe(entries[i]!.actor);
      expect(r.subject).toBe(entries[i]!.subject);
      expect(r.detail).toEqual(entries[i]!.detail);
    });
    expect(new Date(rows[4].at).toISOString()).toBe('2024-02-10T08:00:00.123Z');
  });

  it('a chain keeps verifying as it grows', async () => {
    for (const [i, e] of sampleEntries().entries()) {
      await appendAudit(db.pool, e);
      expect(await verifyAuditChain(db.pool)).toEqual({ ok: true, rows: i + 1 });
    }
  });

  it('undefined values in a detail are dropped before hashing, so the stored row verifies', async () => {
    await appendAudit(db.pool, { actor: 'a', action: 'x', subject: 's', detail: { keep: 1, gone: undefined, nested: { also: undefined, v: '值' } } });
    expect(await verifyAuditChain(db.pool)).toEqual({ ok: true, rows: 1 });
    const { rows } = await db.pool.query('SELECT detail FROM audit_log');
    expect(rows[0].detail).toEqual({ keep: 1, nested: { v: '值' } });
  });

  it('the same idempotencyKey twice appends one row', async () => {
    const entry: AuditEntry = { actor: 'worker', action: 'message.reply', subject: 'wecom-main', detail: { text: '已回复' }, idempotencyKey: 'wf-1/reply' };
    await appendAudit(db.pool, entry);
    await appendAudit(db.pool, { ...entry, detail: { text: 'a retry with other content' } });
    await appendAudit(db.pool, { ...entry, idempotencyKey: 'wf-2/reply' });
    expect(await count()).toBe(2);
    const { rows } = await db.pool.query('SELECT detail FROM audit_log ORDER BY id');
    expect(rows[0].detail).toEqual({ text: '已回复' }); // the first write wins
    expect(await verifyAuditChain(db.pool)).toEqual({ ok: true, rows: 2 });
  });

  it('the same idempotencyKey appended concurrently still gives one row', async () => {
    const entry: AuditEntry = { actor: 'worker', action: 'x', subject: 's', detail: { n: 1 }, idempotencyKey: 'race' };
    await Promise.all(Array.from({ length: 5 }, () => appendAudit(db.pool, entry)));
    expect(await count()).toBe(1);
    expect((await verifyAuditChain(db.pool)).ok).toBe(true);
  });

  it('a detail changed with SQL UPDATE breaks the chain at that row', async () => {
    await appendAll(sampleEntries());
    const [first, , third] = await ids();
    await db.pool.query(`UPDATE audit_log SET detail = jsonb_set(detail, '{zeta}', '2') WHERE id = $1`, [third]);
    expect(await verifyAuditChain(db.pool)).toEqual({ ok: false, rows: 5, brokenAt: third });

    // a second, earlier change (a nested value) is reported instead: verification stops at the first bad row
    await db.pool.query(`UPDATE audit_log SET detail = jsonb_set(detail, '{settings,respondTo}', '"all"') WHERE id = $1`, [first]);
    expect(await verifyAuditChain(db.pool)).toEqual({ ok: false, rows: 5, brokenAt: first });
  });

  it('other tampered columns are caught too', async () => {
    await appendAll(sampleEntries());
    const rowIds = await ids();
    const target = rowIds[3]!;
    await db.pool.query(`UPDATE audit_log SET actor = 'someone else' WHERE id = $1`, [target]);
    expect(await verifyAuditChain(db.pool)).toMatchObject({ ok: false, brokenAt: target });
    await db.pool.query(`UPDATE audit_log SET actor = 'admin' WHERE id = $1`, [target]);
    expect(await verifyAuditChain(db.pool)).toEqual({ ok: true, rows: 5 });

    await db.pool.query(`UPDATE audit_log SET at = at + interval '1 second' WHERE id = $1`, [target]);
    expect(await verifyAuditChain(db.pool)).toMatchObject({ ok: false, brokenAt: target });
  });

  it('rewriting a row together with its own hash is still caught at the next row', async () => {
    await appendAll(sampleEntries());
    const { rows } = await db.pool.query('SELECT id, at, actor, action, subject, detail, prev_hash FROM audit_log WHERE id = 2');
    expect(rows).toHaveLength(1);
    const r = rows[0];
    const forgedDetail = { ...r.detail, zeta: 999 };
    const forgedHash = auditHash(r.prev_hash, { at: new Date(r.at), actor: r.actor, action: r.action, subject: r.subject, detail: forgedDetail });
    await db.pool.query('UPDATE audit_log SET detail = $1, hash = $2 WHERE id = 2', [JSON.stringify(forgedDetail), forgedHash]);
    expect(await verifyAuditChain(db.pool)).toEqual({ ok: false, rows: 5, brokenAt: 3 });
  });

  it('deleting a middle row is detected at the row after it', async () => {
    await appendAll(sampleEntries());
    const [, , third, fourth] = await ids();
    await db.pool.query('DELETE FROM audit_log WHERE id = $1', [third]);
    expect(await verifyAuditChain(db.pool)).toEqual({ ok: false, rows: 4, brokenAt: fourth });
  });

  it('deleting the first row is detected', async () => {
    await appendAll(sampleEntries());
    await db.pool.query('DELETE FROM audit_log WHERE id = 1');
    expect(await verifyAuditChain(db.pool)).toEqual({ ok: false, rows: 4, brokenAt: 2 });
  });

  it('20 concurrent appends still form one valid chain', async () => {
    await appendAudit(db.pool, { actor: 'admin', action: 'start', subject: 's', detail: {} });
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        appendAudit(db.pool, { actor: `user-${i}`, action: 'message.reply', subject: `会话-${i}`, detail: { i, nested: { z: i, a: [i, '中'] } } }),
      ),
    );
    expect(await verifyAuditChain(db.pool)).toEqual({ ok: true, rows: 21 });
    const { rows } = await db.pool.query('SELECT actor, prev_hash, hash FROM audit_log ORDER BY id');
    // every prev_hash is used exactly once: no two appends linked to the same predecessor
    expect(new Set(rows.map((r) => r.prev_hash)).size).toBe(21);
    expect(new Set(rows.map((r) => r.actor))).toEqual(new Set(['admin', ...Array.from({ length: 20 }, (_, i) => `user-${i}`)]));
  });
});
