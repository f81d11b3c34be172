// Container health check (Dockerfile HEALTHCHECK, docker-compose.yml): `node deploy/healthcheck.mjs api|worker`.
//   api:    GET /healthz on this container (200 when Postgres and Temporal answer).
//   worker: a worker has no HTTP port; it is healthy when Temporal has seen it poll imflow's task queue
//           lately. The SDK's worker identity is "<pid>@<hostname>", and a container's hostname is its
//           own, so this finds this container's worker among all of them.
import os from 'node:os';

const role = process.argv[2] ?? 'api';
/** A polling worker is seen at least once a minute (long polls last up to ~70 s). */
const SEEN_WITHIN_MS = 3 * 60_000;

async function api() {
  const res = await fetch(`http://127.0.0.1:${process.env.PORT || 3000}/healthz`, { signal: AbortSignal.timeout(4000) });
  if (!res.ok) throw new Error(`/healthz: HTTP ${res.status} ${await res.text()}`);
}

async function worker() {
  const { Connection } = await import('@temporalio/client');
  const connection = await Connection.connect({ address: process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233', connectTimeout: 4000 });
  try {
    const { pollers } = await connection.workflowService.describeTaskQueue({
      namespace: process.env.TEMPORAL_NAMESPACE || 'default',
      taskQueue: { name: 'imflow', kind: 1 /* NORMAL */ },
      taskQueueType: 1 /* WORKFLOW */,
    });
    const mine = (pollers ?? []).find((p) => p.identity?.endsWith(`@${os.hostname()}`));
    const seconds = Number(mine?.lastAccessTime?.seconds ?? 0);
    if (!mine || Date.now() - seconds * 1000 > SEEN_WITHIN_MS) throw new Error(`no recent poll of task queue "imflow" from a worker on ${os.hostname()}`);
  } finally {
    await connection.close();
  }
}

const check = { api, worker }[role];
if (!check) {
  console.error(`unknown role "${role}": use api or worker`);
  process.exit(2);
}
check().then(
  () => process.exit(0),
  (err) => {
    console.error(`unhealthy: ${err.message}`);
    process.exit(1);
  },
);
