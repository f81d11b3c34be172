// Everything a drill needs, started once for all drills: a Temporal dev server, Postgres and Redis the
// drills may disturb, the fake model and platform, and imflow as one `api` and one `worker` process.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { projectRoot } from '../imflow-process.js';
import { progress, sleep } from '../stats.js';
import { findTemporalCli, startTemporalDevServer, type DevServer } from '../../runtime/temporal-server.js';
import { SEARCH_ATTRIBUTES } from '../../workflows/names.js';
import { startRestartableModel, type RestartableModel } from './model.js';
import { startFrontedPlatform, type FrontedPlatform } from './platform-front.js';
import { startOwnPostgres, type OwnPostgres } from './postgres.js';
import { startOwnRedis, type OwnRedis } from './redis.js';
import { spawnRole, type RoleProcess } from './imflow-roles.js';
import { imflowLogLevel } from './quiet-logs.js';

export const CHANNEL = 'drill';
export const APP_SECRET = 'drill-app-secret';

export interface Stack {
  api: RoleProcess;
  worker: RoleProcess;
  /** undefined when DATABASE_URL / REDIS_URL point elsewhere: those drills are skipped */
  postgres?: OwnPostgres;
  redis?: OwnRedis;
  model: RestartableModel;
  platform: FrontedPlatform;
  webhookUrl: string;
  adminToken: string;
  restartWorker(): Promise<void>;
  /** every imflow process's output tail, for a failed drill's report */
  logs(): string;
  stop(): Promise<void>;
}

export async function startStack(o: { modelLatencyMs: number }): Promise<Stack> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imflow-drills-'));
  const cleanups: (() => Promise<void> | void)[] = [() => fs.rmSync(dir, { recursive: true, force: true })];
  const stopAll = async () => {
    for (const fn of cleanups.splice(0).reverse()) await Promise.resolve(fn()).catch(() => {});
  };
  try {
    const cli = findTemporalCli(projectRoot);
    if (!process.env.TEMPORAL_ADDRESS && !cli) throw new Error('no Temporal CLI: run npm install, set TEMPORAL_CLI, or TEMPORAL_ADDRESS');
    let temporal: DevServer | undefined;
    if (!process.env.TEMPORAL_ADDRESS) {
      temporal = await startTemporalDevServer({ cliPath: cli!, dataDir: path.join(dir, 'temporal'), port: 0, headless: true, searchAttributes: SEARCH_ATTRIBUTES });
      cleanups.push(() => temporal!.stop());
    }
    const postgres = process.env.DATABASE_URL ? undefined : await startOwnPostgres();
    if (postgres) cleanups.push(() => postgres.destroy());
    const redis = process.env.REDIS_URL ? undefined : await startOwnRedis();
    if (redis) cleanups.push(() => redis.stop());
    const model = await startRestartableModel(o.modelLatencyMs);
    cleanups.push(() => model.close());
    const platform = await startFrontedPlatform();
    cleanups.push(() => platform.close());
    progress(
      `Temporal ${process.env.TEMPORAL_ADDRESS ?? temporal!.address}, Postgres ${postgres ? `own (${postgres.url})` : 'DATABASE_URL'}, ` +
        `Redis ${redis ? `own (${redis.url})` : 'REDIS_URL'}, model ${model.baseURL}, platform ${platform.url}`,
    );

    const configFile = path.join(dir, 'imflow.config.json');
    fs.writeFileSync(
      configFile,
      JSON.stringify({
        models: { providers: { drill: { baseUrl: model.baseURL, apiKey: 'drill', models: [{ id: 'drill-model', contextWindow: 32000, maxTokens: 1024 }] } }, default: 'drill/drill-model' },
        channels: [{ id: CHANNEL, type: 'dingtalk', respondTo: 'all', appKey: 'drill-app-key', appSecret: APP_SECRET, robotCode: 'drill-robot', apiBase: platform.url, oapiBase: platform.url }],
      }),
    );
    const env: NodeJS.ProcessEnv = {
      IMFLOW_CONFIG: configFile,
      IMFLOW_DATA_DIR: path.join(dir, 'data'),
      PORT: '0',
      LOG_LEVEL: imflowLogLevel,
      DATABASE_URL: postgres?.url ?? process.env.DATABASE_URL,
      REDIS_URL: redis?.url ?? process.env.REDIS_URL,
      TEMPORAL_ADDRESS: process.env.TEMPORAL_ADDRESS ?? temporal!.address,
      ADMIN_TOKEN: crypto.randomBytes(16).toString('hex'),
      IMFLOW_SECRET_KEY: crypto.randomBytes(24).toString('base64url'),
    };
    const api = await spawnRole('api', env);
    cleanups.push(() => api.stop());
    const stack: Stack = {
      api,
      worker: await spawnRole('worker', env),
      postgres,
      redis,
      model,
      platform,
      webhookUrl: `${api.url}/webhooks/dingtalk/${CHANNEL}`,
      adminToken: env.ADMIN_TOKEN!,
      async restartWorker() {
        stack.worker = await spawnRole('worker', env);
      },
      logs: () => `--- api ---\n${stack.api.output().slice(-6000)}\n--- worker ---\n${stack.worker.output().slice(-6000)}`,
      stop: stopAll,
    };
    cleanups.push(() => stack.worker.stop());
    progress(`imflow api (pid ${api.pid}) at ${api.url}, worker pid ${stack.worker.pid}`);
    return stack;
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** Waits until the API reports ready (Postgres and Temporal reachable), up to timeoutMs. */
export async function waitHealthy(stack: Stack, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await fetch(`${stack.api.url}/healthz`).then((r) => r.ok, () => false);
    if (ok) return true;
    await sleep(500);
  }
  return false;
}
