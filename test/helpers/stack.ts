import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { inject } from 'vitest';
import { parseConfig } from '../../runtime/config.js';
import { startImflow, type RunningImflow } from '../../runtime/imflow.js';
import { freshDatabase } from './database.js';
import { startFakeModelServer, type FakeModelServer, type FakeModelServerOptions } from '../fakes/model-server.js';
import type { TestNamespace } from './namespaces.js';

export const PRIMARY = 'fake/qwen3:32b';
export const FALLBACK = 'fake/qwen2:7b';

export interface Stack {
  imflow: RunningImflow;
  fake: FakeModelServer;
  url: string;
  token: string;
  databaseUrl?: string;
  dataDir: string;
  configFile: string;
  secretKey: string;
  namespace: TestNamespace;
  sandbox(body: Record<string, unknown>): Promise<{ status: number; body: any }>;
  api(method: string, p: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any }>;
  stop(): Promise<void>;
}

export function testConfig(fakeBaseUrl: string, extra: Record<string, any> = {}) {
  return {
    models: {
      providers: {
        fake: {
          baseUrl: fakeBaseUrl,
          apiKey: 'sk-test-secret',
          models: [
            { id: 'qwen3:32b', contextWindow: 32000, maxTokens: 4096, firstTokenTimeoutMs: 8000 },
            { id: 'qwen2:7b', contextWindow: 32000, maxTokens: 2048 },
          ],
        },
        // nothing listens here: a model server that is down
        down: { baseUrl: 'http://127.0.0.1:9/v1', models: [{ id: 'gone', contextWindow: 8000, maxTokens: 512 }] },
        ...extra.providers,
      },
      default: extra.default ?? PRIMARY,
      fallbacks: extra.fallbacks ?? [FALLBACK],
      ...(extra.breaker && { breaker: extra.breaker }),
      ...(extra.limits && { limits: extra.limits }),
    },
    channels: extra.channels ?? [],
    ...(extra.alerts && { alerts: extra.alerts }),
    // the other sections as given
    ...Object.fromEntries(Object.entries(extra).filter(([k]) => PASSED_THROUGH.includes(k))),
  };
}

const PASSED_THROUGH = ['knowledge', 'tools', 'pipelines', 'departments', 'session'];

/**
 * imflow in this process against the shared Temporal dev server (own namespace), a fresh database and a
 * fake model server. mode "api" leaves the worker to a separate process (see spawnWorker).
 */
export async function startStack(opts: {
  namespace: TestNamespace;
  mode?: 'all' | 'api';
  config?: Record<string, any>;
  fake?: FakeModelServerOptions;
  redisUrl?: string;
}): Promise<Stack> {
  const fake = await startFakeModelServer(opts.fake);
  const db = await freshDatabase();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'imflow-stack-'));
  const rawConfig = testConfig(fake.baseURL, opts.config);
  const configFile = path.join(dataDir, 'imflow.config.json');
  fs.writeFileSync(configFile, JSON.stringify(rawConfig));
  const secretKey = crypto.randomBytes(16).toString('hex');
  const token = crypto.randomBytes(16).toString('hex');
  const imflow = await startImflow({
    mode: opts.mode ?? 'all',
    config: parseConfig(rawConfig),
    dataDir,
    port: 0,
    host: '127.0.0.1',
    adminToken: token,
    secretKey,
    databaseUrl: db.url,
    redisUrl: opts.redisUrl ?? process.env.REDIS_URL,
    temporalAddress: inject('temporalAddress'),
    temporalNamespace: opts.namespace,
    workflowBundle: { codePath: inject('workflowBundlePath') },
  });
  const url = imflow.url!;
  const api: Stack['api'] = async (method, p, body, headers = {}) => {
    const res = await fetch(url + p, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      /* not JSON */
    }
    return { status: res.status, body: parsed };
  };
  return {
    imflow,
    fake,
    url,
    token,
    databaseUrl: db.url,
    dataDir,
    configFile,
    secretKey,
    namespace: opts.namespace,
    sandbox: (body) => api('POST', '/api/sandbox/messages', body),
    api,
    async stop() {
      await imflow.stop();
      await fake.close();
      await db.drop().catch(() => {});
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

type Falsy = undefined | null | false | 0 | '';

/** Polls fn every 50 ms until it returns something truthy, and returns that. */
export async function waitFor<T>(what: string, fn: () => Promise<T | Falsy> | T | Falsy, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as T;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export const uniq = (prefix: string) => `${prefix}-${crypto.randomBytes(4).toString('hex')}`;
