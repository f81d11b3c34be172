import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../runtime/db.js';
import { projectRoot } from '../runtime/imflow.js';
import { startFakeModelServer, type FakeModelServer } from './fakes/model-server.js';
import { testConfig, uniq, waitFor } from './helpers/stack.js';

// `npm start` as a newcomer runs it: no DATABASE_URL, REDIS_URL or TEMPORAL_ADDRESS. imflow spawns its
// own Temporal dev server and keeps everything under its data dir.
interface Running {
  child: ChildProcess;
  url: string;
  token: string;
  temporalPid: number;
  output: () => string;
}

let fake: FakeModelServer;
let dataDir: string;
let configFile: string;
const children: ChildProcess[] = [];

async function start(): Promise<Running> {
  const env: NodeJS.ProcessEnv = { ...process.env, IMFLOW_CONFIG: configFile, IMFLOW_DATA_DIR: dataDir, PORT: '0', IMFLOW_TEMPORAL_PORT: '0', IMFLOW_TEMPORAL_UI_PORT: '0' };
  for (const k of ['DATABASE_URL', 'REDIS_URL', 'TEMPORAL_ADDRESS', 'ADMIN_TOKEN', 'IMFLOW_SECRET_KEY']) delete env[k];
  const child = spawn(process.execPath, ['--import', 'tsx', 'runtime/main.ts', 'all'], { cwd: projectRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const m = await waitFor('imflow to print its console URL', () => out.match(/console: +(http:\/\/localhost:\d+)\/\?token=(\S+)/), 90_000).catch((e) => {
    throw new Error(`${e.message}\n${out}`);
  });
  expect(out).toMatch(/database: pglite; cache: memory/);
  expect(out).toMatch(/Temporal: +127\.0\.0\.1:\d+ +UI: http:\/\/127\.0\.0\.1:\d+/);
  const temporalPid = Number(fs.readFileSync(path.join(dataDir, 'temporal.pid'), 'utf8'));
  return { child, url: m[1]!, token: decodeURIComponent(m[2]!), temporalPid, output: () => out };
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const exited = (child: ChildProcess) => new Promise<number | null>((r) => (child.exitCode !== null ? r(child.exitCode) : child.once('exit', (code) => r(code))));

async function sandbox(run: Running, body: Record<string, unknown>) {
  const res = await fetch(`${run.url}/api/sandbox/messages`, {
    method: 'POST',
    headers: { authorization: `Bearer ${run.token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any };
}

beforeAll(async () => {
  fake = await startFakeModelServer();
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'imflow-embedded-'));
  configFile = path.join(dataDir, 'imflow.config.yaml');
  fs.writeFileSync(configFile, JSON.stringify(testConfig(fake.baseURL))); // JSON is valid YAML
});
afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await fake?.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe('npm start with the embedded defaults', () => {
  const conversationId = uniq('c');

  it('answers, stops cleanly on SIGTERM, and keeps conversations across a restart', async () => {
    const first = await start();
    const a = await sandbox(first, { text: '记住：我叫小王', conversationId });
    expect(a.body.reply.text).toBe('fake answer to: 记住：我叫小王');
    // the console is served with the admin token in its URL
    expect((await fetch(`${first.url}/`)).status).toBe(200);

    first.child.kill('SIGTERM');
    expect(await exited(first.child)).toBe(0);
    expect(alive(first.temporalPid)).toBe(false);
    expect(fs.existsSync(path.join(dataDir, 'temporal.pid'))).toBe(false);

    const second = await start();
    expect(second.token).toBe(first.token); // generated once, kept in the data dir
    const b = await sandbox(second, { text: '我叫什么？', conversationId });
    expect(b.body.status).toBe('replied');
    expect(fake.requests.at(-1)!.messages.map((m: any) => m.content)).toContain('记住：我叫小王');
    const old = await fetch(`${second.url}/api/runs/${encodeURIComponent(a.body.workflowId)}`, { headers: { authorization: `Bearer ${second.token}` } });
    expect((await old.json()).status).toBe('replied');
    second.child.kill('SIGINT');
    expect(await exited(second.child)).toBe(0);
  });

  it('killed with SIGKILL mid model call, leaves no server behind and answers exactly once after a restart', async () => {
    const run = await start();
    fake.enqueue('qwen3:32b', { hang: true });
    const calls = fake.requestsFor('qwen3:32b').length;
    const sent = await sandbox(run, { text: '断电测试', conversationId, waitMs: 0 });
    expect(sent.status).toBe(202);
    await waitFor('the model call', () => fake.requestsFor('qwen3:32b').length === calls + 1);

    run.child.kill('SIGKILL');
    await exited(run.child);
    await waitFor('the Temporal server to go with it', () => !alive(run.temporalPid), 15_000);

    const again = await start();
    const path_ = `/api/runs/${encodeURIComponent(sent.body.workflowId)}`;
    const done = await waitFor(
      'the run to finish after the restart',
      async () => {
        const r = await fetch(again.url + path_, { headers: { authorization: `Bearer ${again.token}` } });
        const body = r.status === 200 ? ((await r.json()) as any) : undefined;
        return body?.status === 'replied' && body;
      },
      60_000,
    );
    expect(done.reply.text).toBe('fake answer to: 断电测试');
    expect(fake.requestsFor('qwen3:32b').length).toBe(calls + 2); // the lost call, then its retry
    again.child.kill('SIGTERM');
    expect(await exited(again.child)).toBe(0);

    const db = await openDatabase({ dataDir });
    try {
      const { rows } = await db.pool.query('SELECT text FROM replies WHERE conversation_id = $1 ORDER BY sent_at', [conversationId]);
      expect(rows.map((r) => r.text)).toEqual([
        'fake answer to: 记住：我叫小王',
        'fake answer to: 我叫什么？',
        'fake answer to: 断电测试',
      ]);
    } finally {
      await db.close();
    }
  });

  it('a bad config stops start-up with a message naming the key', async () => {
    fs.writeFileSync(configFile, 'models:\n  default: nowhere/none\n  fallback: []\n');
    const env: NodeJS.ProcessEnv = { ...process.env, IMFLOW_CONFIG: configFile, IMFLOW_DATA_DIR: dataDir, PORT: '0' };
    const child = spawn(process.execPath, ['--import', 'tsx', 'runtime/main.ts', 'all'], { cwd: projectRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d) => (err += d));
    expect(await exited(child)).toBe(1);
    expect(err).toContain('imflow cannot start');
    expect(err).toMatch(/models\.default: model "nowhere\/none" is not defined/);
    expect(err).toMatch(/models: Unrecognized key: "fallback"/);
  });
});
