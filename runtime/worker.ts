import { fileURLToPath } from 'node:url';
import { DefaultLogger, NativeConnection, Runtime, Worker, type LogLevel } from '@temporalio/worker';
import { createActivities } from '../activities/index.js';
import type { ActivityDeps } from '../activities/deps.js';
import { TASK_QUEUE } from '../workflows/names.js';
import { logger } from './logger.js';

export const workflowsPath = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

let runtimeInstalled = false;
const pinoLevel: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = { TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error' };

/** Sends the SDK's own logs (worker state, workflow and activity `log`) through our logger, warnings and up. */
export function installRuntimeOnce() {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  const level = (process.env.TEMPORAL_LOG_LEVEL as LogLevel | undefined) ?? 'WARN';
  Runtime.install({
    logger: new DefaultLogger(level, (entry) => logger[pinoLevel[entry.level]]({ ...entry.meta, component: 'temporal-sdk' }, entry.message)),
  });
}

/** A worker on the `imflow` task queue running both workflows and every activity. */
export async function createImflowWorker(opts: {
  connection: NativeConnection;
  namespace: string;
  deps: ActivityDeps;
  /** a prebuilt bundle (tests, fast restarts); otherwise the workflows are bundled now (~2-5 s) */
  workflowBundle?: { codePath: string };
  taskQueue?: string;
}): Promise<Worker> {
  installRuntimeOnce();
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue ?? TASK_QUEUE,
    ...(opts.workflowBundle ? { workflowBundle: opts.workflowBundle } : { workflowsPath }),
    activities: createActivities(opts.deps),
    shutdownGraceTime: '10s',
  });
}
