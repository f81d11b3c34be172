import crypto from 'node:crypto';
import type { Db } from './db.js';
import { inTransaction } from './db.js';

export interface AuditEntry {
  actor: string;
  action: string;
  subject: string;
  detail: Record<string, unknown>;
  /** makes a retried append a no-op */
  idempotencyKey?: string;
  at?: Date;
}

const GENESIS = '0'.repeat(64);

/** JSON with object keys sorted, so a row read back from jsonb hashes the same as when written. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1))) : v,
  );
}

export function auditHash(prevHash: string, row: { at: Date; actor: string; action: string; subject: string; detail: unknown }): string {
  const body = canonicalJson([row.at.toISOString(), row.actor, row.action, row.subject, row.detail]);
  return crypto.createHash('sha256').update(prevHash).update('\n').update(body).digest('hex');
}

/** Appends one row whose hash covers the previous row's hash. Serialised by an advisory lock. */
export async function appendAudit(db: Db, entry: AuditEntry): Promise<void> {
  const at = entry.at ?? new Date();
  // jsonb would drop undefined values anyway; hash exactly what is stored
  const detail = JSON.parse(JSON.stringify(entry.detail));
  await inTransaction(db, async (c) => {
    await c.query('SELECT pg_advisory_xact_lock(7411002)');
    if (entry.idempotencyKey) {
      const dup = await c.query('SELECT 1 FROM audit_log WHERE idempotency_key = $1', [entry.idempotencyKey]);
      if (dup.rowCount) return;
    }
    const prev = await c.query<{ hash: string }>('SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1');
    const prevHash = prev.rows[0]?.hash ?? GENESIS;
    const hash = auditHash(prevHash, { at, actor: entry.actor, action: entry.action, subject: entry.subject, detail });
    await c.query(
      `INSERT INTO audit_log (at, actor, action, subject, detail, idempotency_key, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [at, entry.actor, entry.action, entry.subject, JSON.stringify(detail), entry.idempotencyKey ?? null, prevHash, hash],
    );
  });
}

/** Walks the chain in order; the first row whose hash or link does not match is where it broke. */
export async function verifyAuditChain(db: Db): Promise<{ ok: boolean; rows: number; brokenAt?: number }> {
  const { rows } = await db.query('SELECT id, at, actor, action, subject, detail, prev_hash, hash FROM audit_log ORDER BY id');
  let prevHash = GENESIS;
  for (const r of rows) {
    const expected = auditHash(prevHash, { at: new Date(r.at), actor: r.actor, action: r.action, subject: r.subject, detail: r.detail });
    if (r.prev_hash !== prevHash || r.hash !== expected) return { ok: false, rows: rows.length, brokenAt: Number(r.id) };
    prevHash = r.hash;
  }
  return { ok: true, rows: rows.length };
}
