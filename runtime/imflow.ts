import fs from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { createApp } from '../api/app.js';
import { defaultChannels, type ChannelRegistry } from '../channels/index.js';
import { SEARCH_ATTRIBUTES } from '../workflows/names.js';
import { Catalog } from './catalog.js';
import { ConfigError, type ImflowConfig } from './config.js';
import { openDatabase, type Database } from './db.js';
import { connectKeyValueStore, type KeyValueStore } from './kv.js';
import { logger } from './logger.js';
import { persistentSecret, SecretBox } from './secrets.js';
import { findTemporalCli, startTemporalDevServer, type DevServer } from './temporal-server.js';
import { createImflowWorker, installRuntimeOnce } from './worker.js';

export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export interface ImflowOptions {
  mode: 'all' | 'api' | 'worker';
  config: ImflowConfig;
  dataDir: string;
  port: number;
  host?: string;
  adminToken?: string;
  secretKey?: string;
  databaseUrl?: string;
  redisUrl?: string;
  /** unset: spawn a Temporal dev server (mode "all" only) */
  temporalAddress?: string;
  temporalNamespace?: string;
  temporalPort?: number;
  temporalUiPort?: number;
  workflowBundle?: { codePath: string };
  channels?: ChannelRegistry;
}

export interface RunningImflow {
  url?: string;
  adminToken: string;
  adminTokenGenerated: boolean;
  temporalAddress: string;
  temporalUiUrl?: string;
  db: Database;
  kv: KeyValueStore;
  client: Client;
  catalog: Catalog;
  worker?: Worker;
  stop(): Promise<void>;
}

/**
 * Starts imflow: Temporal (given or a spawned dev server), Postgres (given or PGlite), Redis (given or
 * in-process), then the worker and/or the API. Whatever was started is stopped again if a later part fails.
 */
export async function startImflow(o: ImflowOptions): Promise<RunningImflow> {
  fs.mkdirSync(o.dataDir, { recursive: true });
  const cleanups: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const fn of cleanups.splice(0).reverse()) await fn().catch((err) => logger.warn({ err: String(err) }, 'shutdown step failed'));
  };
  try {
    if (o.mode !== 'all' && !o.databaseUrl) {
      throw new ConfigError('running the API and workers as separate processes needs a shared Postgres: set DATABASE_URL');
    }
    const admin = persistentSecret(o.adminToken, o.dataDir, 'admin-token');
    const secretKey = persistentSecret(o.secretKey, o.dataDir, 'secret-key');

    let temporalAddress = o.temporalAddress;
    let devServer: DevServer | undefined;
    if (!temporalAddress) {
      if (o.mode !== 'all') throw new ConfigError('set TEMPORAL_ADDRESS: only `npm start` (all-in-one) spawns its own Temporal server');
      const cliPath = findTemporalCli(projectRoot);
      if (!cliPath) {
        throw new ConfigError(
          'no Temporal CLI found: run `npm install` (it installs one into .temporal/), set TEMPORAL_CLI to a `temporal` binary, or set TEMPORAL_ADDRESS to an existing server',
        );
      }
      devServer = await startTemporalDevServer({
        cliPath,
        dataDir: o.dataDir,
        port: o.temporalPort ?? 7233,
        uiPort: o.temporalUiPort ?? 8233,
        searchAttributes: SEARCH_ATTRIBUTES,
      });
      cleanups.push(() => devServer!.stop());
      temporalAddress = devServer.address;
    }
    const namespace = o.temporalNamespace ?? 'default';

    const db = await openDatabase({ url: o.databaseUrl, dataDir: o.dataDir });
    cleanups.push(() => db.close());
    const kv = await connectKeyValueStore(o.redisUrl);
    cleanups.push(() => kv.close());
    const catalog = new Catalog(db.pool, new SecretBox(secretKey.value));
    await catalog.upsertFromConfig(o.config);

    const connection = await Connection.connect({ address: temporalAddress });
    cleanups.push(() => connection.close());
    const client = new Client({ connection, namespace });
    if (!devServer) await registerSearchAttributes(connection, namespace);

    const channels = o.channels ?? defaultChannels();
    let worker: Worker | undefined;
    if (o.mode !== 'api') {
      installRuntimeOnce(); // before the first native connection
      const workerConnection = await NativeConnection.connect({ address: temporalAddress });
      cleanups.push(() => workerConnection.close());
      worker = await createImflowWorker({
        connection: workerConnection,
        namespace,
        deps: { db: db.pool, kv, catalog, channels },
        workflowBundle: o.workflowBundle,
      });
      const running = worker.run();
      running.catch((err) => logger.error({ err }, 'worker stopped with an error'));
      cleanups.push(async () => {
        if (worker!.getState() === 'RUNNING') worker!.shutdown();
        await running.catch(() => {});
      });
    }

    let url: string | undefined;
    if (o.mode !== 'worker') {
      const app = createApp({ client, db: db.pool, kv, catalog, adminToken: admin.value, channels, temporalUiUrl: devServer?.uiUrl });
      const server = await new Promise<http.Server>((resolve, reject) => {
        const s = app.listen(o.port, o.host ?? '0.0.0.0', () => resolve(s)).on('error', reject);
      });
      cleanups.push(
        () =>
          new Promise<void>((resolve) => {
            server.close(() => resolve());
            server.closeAllConnections();
          }),
      );
      const addr = server.address();
      url = `http://localhost:${typeof addr === 'object' && addr ? addr.port : o.port}`;
    }

    return {
      url,
      adminToken: admin.value,
      adminTokenGenerated: admin.generated,
      temporalAddress,
      temporalUiUrl: devServer?.uiUrl,
      db,
      kv,
      client,
      catalog,
      worker,
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** On an existing Temporal cluster the search attributes may be missing: add them (already there is fine). */
async function registerSearchAttributes(connection: Connection, namespace: string): Promise<void> {
  const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
  const missing = Object.keys(SEARCH_ATTRIBUTES).filter((name) => !customAttributes?.[name]);
  if (!missing.length) return;
  await connection.operatorService.addSearchAttributes({
    namespace,
    searchAttributes: Object.fromEntries(missing.map((name) => [name, 2 /* INDEXED_VALUE_TYPE_KEYWORD */])),
  });
  logger.info({ missing }, 'registered search attributes on the Temporal cluster');
}
