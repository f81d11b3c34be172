// imflow as separate `api` and `worker` processes (`npm run start:api` / `start:worker`), the way it
// scales out, so a drill can kill the worker and nothing else.
import { spawn, type ChildProcess } from 'node:child_process';
import { projectRoot } from '../imflow-process.js';
import { sleep } from '../stats.js';

/** Output kept per process: the tail, for the report when something goes wrong. */
const MAX_OUTPUT = 32 * 1024;

export interface RoleProcess {
  role: 'api' | 'worker';
  pid: number;
  /** the API's base URL (api only) */
  url?: string;
  output(): string;
  kill9(): void;
  stop(): Promise<void>;
}

export async function spawnRole(role: 'api' | 'worker', env: NodeJS.ProcessEnv): Promise<RoleProcess> {
  // node itself, not the tsx CLI: the CLI forks a second process that a SIGKILL would orphan
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'runtime/main.ts', role], {
    cwd: projectRoot,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (d: Buffer) => {
    out = (out + d.toString()).slice(-MAX_OUTPUT);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const kill = () => child.kill('SIGKILL');
  process.on('exit', kill);

  const deadline = Date.now() + 120_000;
  while (!out.includes(`imflow is running (${role})`)) {
    if (child.exitCode !== null) throw new Error(`imflow ${role} exited with code ${child.exitCode} during start-up:\n${out}`);
    if (Date.now() > deadline) {
      kill();
      throw new Error(`imflow ${role} did not start within 120 s:\n${out}`);
    }
    await sleep(100);
  }
  const url = out.match(/console: +http:\/\/localhost:(\d+)/)?.[1];
  return {
    role,
    pid: child.pid!,
    url: url && `http://127.0.0.1:${url}`,
    output: () => out,
    kill9() {
      process.off('exit', kill);
      kill();
    },
    async stop() {
      process.off('exit', kill);
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(40_000)]);
      kill();
    },
  };
}
