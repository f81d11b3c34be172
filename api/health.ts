import type { Client } from '@temporalio/client';
import { Router } from 'express';
import type { Db } from '../runtime/db.js';
import type { KeyValueStore } from '../runtime/kv.js';
import { registry } from '../runtime/metrics.js';

const within = <T>(p: Promise<T>, ms: number) =>
  Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), ms).unref())]);

/**
 * /healthz is ready when Postgres and Temporal answer. Redis is reported but does not make imflow
 * unready: sessions fall back to Postgres while it is away.
 */
export function healthRouter(deps: { client: Client; db: Db; kv: KeyValueStore }): Router {
  const router = Router();
  router.get('/healthz', async (_req, res) => {
    const [db, temporal, redis] = await Promise.all([
      within(deps.db.query('SELECT 1'), 2000).then(() => 'ok', () => 'down'),
      within(deps.client.connection.workflowService.getSystemInfo({}), 2000).then(() => 'ok', () => 'down'),
      within(deps.kv.ping(), 1000).then((up) => (up ? 'ok' : 'down'), () => 'down'),
    ]);
    const ready = db === 'ok' && temporal === 'ok';
    res.status(ready ? 200 : 503).json({ status: ready ? 'ok' : 'unavailable', checks: { db, temporal, redis } });
  });
  router.get('/metrics', async (_req, res) => {
    res.type(registry.contentType).send(await registry.metrics());
  });
  return router;
}
