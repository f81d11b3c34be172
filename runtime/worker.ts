import { fileURLToPath } from 'node:url';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities } from '../activities/index.js';
import type { ActivityDeps } from '../activities/deps.js';
import { TASK_QUEUE } from '../workflows/names.js';

export const workflowsPath = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

/** A worker on the `imflow` task queue running both workflows and every activity. */
export async function createImflowWorker(opts: {
  connection: NativeConnection;
  namespace: string;
  deps: ActivityDeps;
  /** a prebuilt bundle (tests, fast restarts); otherwise the workflows are bundled now (~2-5 s) */
  workflowBundle?: { codePath: string };
  taskQueue?: string;
}): Promise<Worker> {
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue ?? TASK_QUEUE,
    ...(opts.workflowBundle ? { workflowBundle: opts.workflowBundle } : { workflowsPath }),
    activities: createActivities(opts.deps),
    shutdownGraceTime: '10s',
  });
}
