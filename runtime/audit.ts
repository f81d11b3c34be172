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

/** Rows read per query when walking the whole table (verify, export): memory stays flat however long the log. */
const BATCH = 2000;

/** Walks the chain in order; the first row whose hash or link does not match is where it broke. */
export async function verifyAuditChain(db: Db): Promise<{ ok: boolean; rows: number; brokenAt?: number }> {
  let prevHash = GENESIS;
  let rows = 0;
  let brokenAt: number | undefined;
  for await (const r of walk(db, 'SELECT id, at, actor, action, subject, detail, prev_hash, hash FROM audit_log', [])) {
    rows++;
    if (brokenAt !== undefined) continue; // keep counting: the answer says how long the log is
    const expected = auditHash(prevHash, { at: new Date(r.at), actor: r.actor, action: r.action, subject: r.subject, detail: r.detail });
    if (r.prev_hash !== prevHash || r.hash !== expected) brokenAt = Number(r.id);
    prevHash = r.hash;
  }
  return brokenAt === undefined ? { ok: true, rows } : { ok: false, rows, brokenAt };
}

export interface AuditFilter {
  actor?: string;
  /** an exact action, or a prefix ending in "." ("model." = every model change) */
  action?: string;
  subject?: string;
  /** anywhere in the row's detail */
  text?: string;
  from?: Date;
  to?: Date;
}

export interface AuditRow {
  id: number;
  at: Date;
  actor: string;
  action: string;
  subject: string;
  detail: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

const toRow = (r: any): AuditRow => ({
  id: Number(r.id),
  at: r.at,
  actor: r.actor,
  action: r.action,
  subject: r.subject,
  detail: r.detail,
  prevHash: r.prev_hash,
  hash: r.hash,
});

const likeEscape = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

function where(f: AuditFilter, params: unknown[]): string {
  const parts: string[] = [];
  const add = (sql: string, v: unknown) => {
    params.push(v);
    parts.push(sql.replace('?', `$${params.length}`));
  };
  if (f.actor) add('actor = ?', f.actor);
  if (f.action) f.action.endsWith('.') ? add('action LIKE ?', `${likeEscape(f.action)}%`) : add('action = ?', f.action);
  if (f.subject) add('subject = ?', f.subject);
  if (f.text) add('detail::text ILIKE ?', `%${likeEscape(f.text)}%`);
  if (f.from) add('at >= ?', f.from);
  if (f.to) add('at < ?', f.to);
  return parts.length ? `WHERE ${parts.join(' AND ')}` : '';
}

/** Newest first, one page, and how many rows match in all. */
export async function queryAudit(db: Db, f: AuditFilter, page: { limit: number; offset: number }): Promise<{ rows: AuditRow[]; total: number }> {
  const params: unknown[] = [];
  const w = where(f, params);
  const [rows, total] = await Promise.all([
    db.query(`SELECT * FROM audit_log ${w} ORDER BY id DESC LIMIT ${page.limit} OFFSET ${page.offset}`, params),
    db.query<{ n: string }>(`SELECT count(*) AS n FROM audit_log ${w}`, params),
  ]);
  return { rows: rows.rows.map(toRow), total: Number(total.rows[0]!.n) };
}

/** Every matching row, oldest first, read in batches (for the CSV export). */
export async function* auditRows(db: Db, f: AuditFilter): AsyncGenerator<AuditRow> {
  const params: unknown[] = [];
  const w = where(f, params);
  for await (const r of walk(db, `SELECT * FROM audit_log ${w}`, params)) yield toRow(r);
}

/** Keyset pagination over id: `sql` selects from audit_log, with or without a WHERE clause. */
async function* walk(db: Db, sql: string, params: unknown[]): AsyncGenerator<any> {
  let after = 0;
  const joiner = /\bWHERE\b/.test(sql) ? 'AND' : 'WHERE';
  for (;;) {
    const { rows } = await db.query(`${sql} ${joiner} id > $${params.length + 1} ORDER BY id LIMIT ${BATCH}`, [...params, after]);
    yield* rows;
    if (rows.length < BATCH) return;
    after = Number(rows[rows.length - 1].id);
  }
}
