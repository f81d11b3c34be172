import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { Redis } from 'ioredis';
import { sessionCacheKey } from '../activities/session-store.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, uniq, waitFor, type Stack } from './helpers/stack.js';

const hasRedis = (() => {
  try {
    execFileSync('redis-server', ['--version']);
    return true;
  } catch {
    return false;
  }
})();

async function freePort(): Promise<number> {
  const srv = net.createServer().listen(0, '127.0.0.1');
  await new Promise((r) => srv.once('listening', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

// A Redis of our own, so the test can freeze it without disturbing anything else.
describe.skipIf(!hasRedis)('Redis outage', () => {
  let stack: Stack;
  let redis: ChildProcess;
  let port: number;
  beforeAll(async () => {
    port = await freePort();
    redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    await waitFor('redis', () => new Promise<boolean>((r) => net.connect(port, '127.0.0.1').on('connect', function (this: net.Socket) { this.destroy(); r(true); }).on('error', () => r(false))));
    stack = await startStack({ namespace: 'it-redis', redisUrl: `redis://127.0.0.1:${port}` });
  });
  afterAll(async () => {
    await stack?.stop();
    redis?.kill('SIGKILL');
  });

  const source = (trace: any[]) => trace.find((s) => s.step === 'loadSession').output;

  it('sessions come from Postgres while Redis is away, and a stale cached copy is never served afterwards', async () => {
    const conversationId = uniq('c');
    const first = await stack.sandbox({ text: 'one', conversationId });
    expect(source(first.body.trace)).toEqual({ source: 'database', messages: 0 });
    const second = await stack.sandbox({ text: 'two', conversationId });
    expect(source(second.body.trace)).toEqual({ source: 'cache', messages: 2 });
    const direct = new Redis(port, '127.0.0.1');
    const key = sessionCacheKey(`sandbox:${conversationId}`);
    const before = await direct.get(key);
    expect(before).toBeTruthy();

    redis.kill('SIGSTOP'); // Redis hangs: every command times out
    try {
      const health = await fetch(`${stack.url}/healthz`).then((r) => r.json());
      expect(health).toMatchObject({ status: 'ok', checks: { db: 'ok', temporal: 'ok', redis: 'down' } });
      const third = await stack.sandbox({ text: 'three', conversationId });
      expect(third.body.status).toBe('replied');
      expect(source(third.body.trace)).toEqual({ source: 'database', messages: 4 });
    } finally {
      redis.kill('SIGCONT');
    }

    // Redis is back but holds the copy from before "three" (as after a restart from an old snapshot,
    // or a write lost in the outage): it must not be used
    await waitFor('redis to answer', async () => (await fetch(`${stack.url}/healthz`).then((r) => r.json())).checks.redis === 'ok');
    await direct.set(key, before!);
    direct.disconnect();
    const fourth = await stack.sandbox({ text: 'four', conversationId });
    expect(source(fourth.body.trace)).toEqual({ source: 'database', messages: 6 });
    expect(stack.fake.requests.at(-1)!.messages.map((m: any) => m.content)).toContain('three');
    const fifth = await stack.sandbox({ text: 'five', conversationId });
    expect(source(fifth.body.trace)).toEqual({ source: 'cache', messages: 8 });
  });
});
