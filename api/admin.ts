// What the admin APIs that edit the catalog (channels, models) share: validation and audit.
import type { z } from 'zod';
import { appendAudit } from '../runtime/audit.js';
import { describeIssues } from '../runtime/config.js';
import { currentActor } from './auth.js';
import type { Db } from '../runtime/db.js';
import { HttpError } from './http-errors.js';

/** Parses with a config schema; a 400 names every offending key: "invalid provider: models[0].maxTokens: …". */
export function validated<S extends z.ZodType>(schema: S, candidate: unknown, what: string): z.infer<S> {
  const res = schema.safeParse(candidate);
  if (res.success) return res.data;
  throw new HttpError(400, `invalid ${what}:\n${describeIssues(res.error.issues)}`.replace(/\n {2}/g, ' '), res.error.issues);
}

/** An audit row by the user making the request. Callers name secrets they touched, never their values. */
export const adminAudit = (db: Db) => (action: string, subject: string, detail: Record<string, unknown>) =>
  appendAudit(db, { actor: currentActor(), action, subject, detail });
