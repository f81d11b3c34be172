// The drills: what each breaks, how it puts it back, and how its traffic is delivered.
import type { DrillName } from './args.js';
import type { Stack } from './stack.js';

export interface Drill {
  name: DrillName;
  fault: string;
  /** why the drill cannot run on this stack, if it cannot */
  skip?(stack: Stack): string | undefined;
  inject?(stack: Stack): Promise<void> | void;
  restore?(stack: Stack): Promise<void> | void;
  /** seconds between inject and restore (default: --outage) */
  downSeconds?(outage: number): number;
  /** delivery schedule of each message's copies, ms after the first (default: once) */
  copiesAt?: number[];
}

export const drills: Record<DrillName, Drill> = {
  'worker-kill': {
    name: 'worker-kill',
    fault: 'kill -9 the worker while model calls are in flight, start a new one at once (a supervisor restart)',
    inject: (s) => s.worker.kill9(),
    restore: (s) => s.restartWorker(),
    downSeconds: () => 0,
  },
  postgres: {
    name: 'postgres',
    fault: 'stop Postgres (pg_ctl stop -m fast: every connection dropped), start it again after the outage',
    skip: (s) => (s.postgres ? undefined : 'DATABASE_URL is set: the drills only restart a Postgres of their own'),
    inject: (s) => s.postgres!.stop(),
    restore: (s) => s.postgres!.start(),
  },
  redis: {
    name: 'redis',
    fault: 'SIGSTOP redis-server (connections stay open, every command times out), SIGCONT after the outage',
    skip: (s) => (s.redis ? undefined : 'REDIS_URL is set: the drills only freeze a Redis of their own'),
    inject: (s) => s.redis!.freeze(),
    restore: (s) => s.redis!.thaw(),
  },
  model: {
    name: 'model',
    fault: 'close the model server (in-flight answers cut, then connection refused), start it again on the same port',
    inject: (s) => s.model.down(),
    restore: (s) => s.model.up(),
  },
  platform: {
    name: 'platform',
    fault: "the platform's send endpoint answers HTTP 500 to every reply for the outage",
    inject: (s) => void (s.platform.failing = true),
    restore: (s) => void (s.platform.failing = false),
  },
  redelivery: {
    name: 'redelivery',
    fault: 'every message delivered 4×: two copies at once, one after 1 s, one after 6 s (usually after the answer)',
    copiesAt: [0, 0, 1000, 6000],
  },
};
