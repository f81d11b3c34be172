import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Client } from '@temporalio/client';
import express from 'express';
import type { ChannelRegistry } from '../channels/index.js';
import type { Catalog } from '../runtime/catalog.js';
import type { Db } from '../runtime/db.js';
import type { KeyValueStore } from '../runtime/kv.js';
import { authenticate, withPrincipal } from './auth.js';
import { auditRouter } from './audit.js';
import { channelsRouter } from './channels.js';
import { departmentsRouter } from './departments.js';
import { settingsRouter } from './settings.js';
import { healthRouter } from './health.js';
import { knowledgeRouter } from './knowledge.js';
import { eventsRouter, EventHub } from './events.js';
import { errorHandler, HttpError } from './http-errors.js';
import { modelsRouter } from './models.js';
import { pipelinesRouter } from './pipelines.js';
import { runsRouter } from './runs.js';
import { sandboxRouter } from './sandbox.js';
import { toolsRouter } from './tools.js';
import { usersRouter } from './users.js';
import { webhooksRouter } from './webhooks.js';

export interface ApiDeps {
  client: Client;
  db: Db;
  kv: KeyValueStore;
  catalog: Catalog;
  adminToken: string;
  channels: ChannelRegistry;
  /** base URL of the Temporal UI, for the console's links to a run */
  temporalUiUrl?: string;
}

/** Bodies larger than this are refused with 413 before anything is parsed. */
export const MAX_BODY = '256kb';

const studioDist = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'studio', 'dist');

export function createApp(deps: ApiDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  const events = new EventHub(deps);
  app.use(healthRouter(deps));
  app.use(webhooksRouter(deps));

  const api = express.Router();
  // who is calling and may they: before any body is read
  api.use(authenticate(deps));
  api.use(express.json({ limit: MAX_BODY }));
  api.use(withPrincipal);
  api.use(usersRouter(deps));
  api.use(auditRouter(deps));
  api.use(eventsRouter(events));
  api.use(sandboxRouter(deps));
  api.use(runsRouter(deps));
  api.use(channelsRouter(deps));
  api.use(modelsRouter(deps));
  api.use(knowledgeRouter(deps));
  api.use(toolsRouter(deps));
  api.use(pipelinesRouter(deps));
  api.use(departmentsRouter(deps));
  api.use(settingsRouter(deps));
  api.use((req) => {
    throw new HttpError(404, `no such API route: ${req.method} ${req.path}`);
  });
  app.use('/api', api);

  // The console and studio (built by `npm run build:studio`, which `npm start` runs when needed).
  if (fs.existsSync(studioDist)) {
    app.use(express.static(studioDist, { index: 'index.html', maxAge: '1h' }));
    app.get(/^\/(?!api\/|webhooks\/).*/, (_req, res) => res.sendFile(path.join(studioDist, 'index.html')));
  }
  app.use(errorHandler);
  return app;
}
