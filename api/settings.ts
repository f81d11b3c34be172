import { Router } from 'express';
import type { Catalog } from '../runtime/catalog.js';
import { alertsSchema, breakerSchema, limitsSchema, type AlertSettings } from '../runtime/config.js';
import type { Db } from '../runtime/db.js';
import { adminAudit, validated } from './admin.js';
import { principalOf } from './auth.js';
import { HttpError } from './http-errors.js';

const SCHEMAS = { limits: limitsSchema, breaker: breakerSchema, alerts: alertsSchema } as const;
type Key = keyof typeof SCHEMAS;

/** A webhook URL often carries its token (a DingTalk robot's access_token): only admins see it whole. */
const maskWebhook = (url: string) => {
  const u = new URL(url);
  return u.search || u.pathname.length > 1 ? `${u.origin}/…` : u.origin;
};
const alertsView = (a: AlertSettings, whole: boolean) => (whole ? a : { ...a, webhooks: a.webhooks.map(maskWebhook) });

/**
 * /api/settings: flow-control limits, the circuit breaker and alert targets, as the config file's
 * `models.limits`, `models.breaker` and `alerts` spell them. A change applies to every process within
 * the catalog's cache time (2 s) and is audited; a restart re-applies the config file's values.
 */
export function settingsRouter(deps: { db: Db; catalog: Catalog }): Router {
  const router = Router();
  const audit = adminAudit(deps.db);
  const read = async () => ({
    limits: await deps.catalog.limitSettings(),
    breaker: await deps.catalog.breakerSettings(),
    alerts: await deps.catalog.alertSettings(),
  });

  router.get('/settings', async (_req, res) => {
    const s = await read();
    res.json({ ...s, alerts: alertsView(s.alerts, principalOf(res)?.role === 'admin') });
  });

  router.put('/settings/:key', async (req, res) => {
    const key = req.params.key as Key;
    if (!Object.hasOwn(SCHEMAS, key)) throw new HttpError(404, `no setting "${key}": limits, breaker or alerts`);
    const value = validated(SCHEMAS[key], req.body, key);
    const before = (await read())[key];
    await deps.catalog.saveSetting(key, value);
    // alert webhooks are named by their origin only: their URLs may hold tokens
    const show = (v: unknown) => (key === 'alerts' ? alertsView(v as AlertSettings, false) : v);
    await audit('settings.update', key, { before: show(before), after: show(value) });
    res.json(key === 'alerts' ? alertsView(value as AlertSettings, true) : value);
  });

  return router;
}
