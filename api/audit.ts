// /api/audit: the hash-chained audit log, filtered and paged, as CSV, and its chain verified.
// Also the masking of phone numbers and e-mail addresses that run and audit views apply for roles
// that may read conversations but not the people in them.
import { Router, type Request } from 'express';
import { z } from 'zod';
import { auditRows, queryAudit, verifyAuditChain, type AuditFilter } from '../runtime/audit.js';
import type { Db } from '../runtime/db.js';
import type { Role } from '../runtime/users.js';
import { validated } from './admin.js';
import { principalOf } from './auth.js';

/** Admins and auditors see contacts in clear; the other roles see them masked. */
export const seesContacts = (role: Role) => role === 'admin' || role === 'auditor';

const EMAIL = /([A-Za-z0-9])[A-Za-z0-9._%+-]*@((?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,})/g;
// mainland mobile numbers, with or without +86 and separators: 138 1234 5678 → 138****5678
const CN_MOBILE = /(?<![\d])((?:\+?86[-\s]?)?1[3-9]\d)[-\s]?\d{4}[-\s]?(\d{4})(?!\d)/g;
// other international numbers and landlines: keep the last four digits
const INTL = /\+\d{1,3}[-\s]?\d{1,4}[-\s]?\d{2,4}[-\s]?\d{2,4}(?:[-\s]?(\d{1,4}))?(?!\d)/g;
const LANDLINE = /(?<![\d-])0\d{2,3}-\d{3,4}(\d{4})(?![\d])/g;

export function maskText(s: string): string {
  return s
    .replace(EMAIL, (_m, first: string, domain: string) => `${first}***@${domain}`)
    .replace(CN_MOBILE, (_m, head: string, tail: string) => `${head}****${tail}`)
    .replace(INTL, (m) => `${m.slice(0, 3)}****${m.replace(/\D/g, '').slice(-4)}`)
    .replace(LANDLINE, (_m, tail: string) => `****${tail}`);
}

/** Identifiers the console links by: never masked (they carry no contact details). */
const ID_KEYS = new Set(['workflowId', 'runId', 'subject', 'hash', 'prevHash', 'url', 'id', 'nodeId', 'step', 'status', 'channelId', 'model', 'pipelineId']);

/** A deep copy with every string masked, except identifier fields. */
export function maskDeep<T>(value: T, key?: string): T {
  if (typeof value === 'string') return (key && ID_KEYS.has(key) ? value : maskText(value)) as T;
  if (Array.isArray(value)) return value.map((v) => maskDeep(v)) as T;
  if (value && typeof value === 'object' && !(value instanceof Date)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskDeep(v, k)])) as T;
  }
  return value;
}

export const maskFor = <T>(role: Role, value: T): T => (seesContacts(role) ? value : maskDeep(value));

const filterQuery = z.object({
  actor: z.string().max(300).optional(),
  action: z.string().max(100).optional(),
  subject: z.string().max(1000).optional(),
  q: z.string().max(200).optional(),
  from: z.coerce.date().optional(),
  to: z.coerce.date().optional(),
});
const pageQuery = filterQuery.extend({
  page: z.coerce.number().int().min(1).default(1),
  pageSize: z.coerce.number().int().min(1).max(500).default(50),
});

const toFilter = (q: z.infer<typeof filterQuery>): AuditFilter => ({
  actor: q.actor || undefined,
  action: q.action || undefined,
  subject: q.subject || undefined,
  text: q.q || undefined,
  from: q.from,
  to: q.to,
});

const CSV_COLUMNS = ['id', 'at', 'actor', 'action', 'subject', 'detail', 'prev_hash', 'hash'] as const;

/** RFC 4180 quoting; a leading = + - @ is defused so a spreadsheet never runs a cell as a formula. */
export function csvCell(v: string): string {
  const safe = /^[=+\-@\t\r]/.test(v) ? `'${v}` : v;
  return /[",\r\n]/.test(safe) || safe !== v ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export function auditRouter(deps: { db: Db }): Router {
  const router = Router();

  router.get('/audit', async (req, res) => {
    const q = validated(pageQuery, req.query, 'query');
    const { rows, total } = await queryAudit(deps.db, toFilter(q), { limit: q.pageSize, offset: (q.page - 1) * q.pageSize });
    res.json(maskFor(principalOf(res)!.role, { rows, total, page: q.page, pageSize: q.pageSize }));
  });

  router.get('/audit/export.csv', async (req: Request, res) => {
    const q = validated(filterQuery, req.query, 'query');
    const role = principalOf(res)!.role;
    res.type('text/csv; charset=utf-8');
    res.attachment(`imflow-audit-${new Date().toISOString().slice(0, 19).replace(/:/g, '')}.csv`);
    // a BOM, so spreadsheet programs read the Chinese text as UTF-8
    res.write(`\ufeff${CSV_COLUMNS.join(',')}\r\n`);
    for await (const r of auditRows(deps.db, toFilter(q))) {
      const m = maskFor(role, { actor: r.actor, detail: r.detail });
      const cells = [String(r.id), new Date(r.at).toISOString(), m.actor, r.action, r.subject, JSON.stringify(m.detail), r.prevHash, r.hash];
      if (res.destroyed) return; // the client went away
      if (!res.write(`${cells.map(csvCell).join(',')}\r\n`)) await new Promise((resolve) => (res.once('drain', resolve), res.once('close', resolve)));
    }
    res.end();
  });

  router.get('/audit/verify', async (_req, res) => {
    res.json(await verifyAuditChain(deps.db));
  });

  return router;
}
