// A redis-server of the drills' own on a free port, so freezing it disturbs nobody else.
import { spawn } from 'node:child_process';
import { sleep } from '../stats.js';
import { accepts, freePort } from './ports.js';

export interface OwnRedis {
  url: string;
  /** SIGSTOP: Redis hangs with its connections open, so every command times out (the hard case) */
  freeze(): void;
  thaw(): void;
  stop(): void;
}

export async function startOwnRedis(): Promise<OwnRedis> {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const kill = () => child.kill('SIGKILL');
  process.on('exit', kill);
  const deadline = Date.now() + 10_000;
  while (!(await accepts(port))) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error('redis-server did not start (apt install redis-server, or set REDIS_URL)');
    await sleep(100);
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    freeze: () => void child.kill('SIGSTOP'),
    thaw: () => void child.kill('SIGCONT'),
    stop() {
      process.off('exit', kill);
      child.kill('SIGCONT');
      kill();
    },
  };
}
