import { spawn, type ChildProcess } from 'node:child_process';
import { inject } from 'vitest';
import { projectRoot } from '../../runtime/imflow.js';
import type { Stack } from './stack.js';

/** `npm run start:worker` as its own process, against the stack's Temporal namespace, database and config. */
export async function spawnWorker(stack: Stack): Promise<ChildProcess> {
  // one process (not the tsx CLI, which forks a second one that SIGKILL would orphan)
  const child = spawn(process.execPath, ['--import', 'tsx', 'runtime/main.ts', 'worker'], {
    cwd: projectRoot,
    env: {
      ...process.env,
      IMFLOW_CONFIG: stack.configFile,
      IMFLOW_DATA_DIR: stack.dataDir,
      IMFLOW_SECRET_KEY: stack.secretKey,
      ADMIN_TOKEN: stack.token,
      DATABASE_URL: stack.databaseUrl,
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      TEMPORAL_NAMESPACE: stack.namespace,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker did not start:\n${output}`)), 60_000);
    const onData = (d: Buffer) => {
      output += d.toString();
      if (output.includes('imflow is running (worker)')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => reject(new Error(`worker exited with ${code}:\n${output}`)));
  });
  return child;
}
