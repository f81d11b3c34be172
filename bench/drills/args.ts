// Command-line options of `npm run drills` (docs/benchmarks.md, "Drills").
import { parseArgs } from 'node:util';

export const DRILLS = ['worker-kill', 'postgres', 'redis', 'model', 'platform', 'redelivery'] as const;
export type DrillName = (typeof DRILLS)[number];

export interface DrillOptions {
  only: DrillName[];
  /** seconds each dependency stays down */
  outage: number;
  /** seconds of traffic before the fault and after it is restored */
  lead: number;
  rate: number;
  conversations: number;
  /** seconds to wait, after the traffic stops, for every accepted message to be answered */
  drainTimeout: number;
  modelLatencyMs: number;
}

const HELP = `npm run drills -- [options]
  --only a,b          drills to run, of: ${DRILLS.join(', ')} (default: all)
  --outage S          seconds each dependency is down (default 30)
  --lead S            seconds of traffic before the fault and after the restore (default 10)
  --rate N            messages per second (default 2)
  --conversations N   conversations the messages are spread over (default 6)
  --drain-timeout S   wait this long after the traffic for the last answers (default 2 × outage + 90)
  --model-latency-ms MS  fake model: delay before the first token (default 500, so calls are in flight at a kill)
  --quick             CI: --outage 5 --lead 3 --rate 2 --conversations 4 (explicit options still win)`;

export function parseDrillOptions(argv: string[]): DrillOptions {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      only: { type: 'string' },
      outage: { type: 'string' },
      lead: { type: 'string' },
      rate: { type: 'string' },
      conversations: { type: 'string' },
      'drain-timeout': { type: 'string' },
      'model-latency-ms': { type: 'string' },
      quick: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.error(HELP);
    process.exit(0);
  }
  const quick = values.quick ?? false;
  const num = (name: keyof typeof values, fallback: number, min: number, max: number): number => {
    const raw = values[name];
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isFinite(n) || n < min || n > max) throw new Error(`--${name} must be a number from ${min} to ${max}, got "${String(raw)}"`);
    return n;
  };
  const only = values.only ? values.only.split(',').map((s) => s.trim()) : [...DRILLS];
  const unknown = only.filter((d) => !(DRILLS as readonly string[]).includes(d));
  if (unknown.length) throw new Error(`unknown drill(s) ${unknown.join(', ')}: choose from ${DRILLS.join(', ')}`);
  const outage = num('outage', quick ? 5 : 30, 1, 3600);
  return {
    only: only as DrillName[],
    outage,
    lead: num('lead', quick ? 3 : 10, 0, 600),
    rate: num('rate', 2, 0.1, 50),
    conversations: Math.round(num('conversations', quick ? 4 : 6, 1, 1000)),
    drainTimeout: num('drain-timeout', 2 * outage + 90, 1, 7200),
    modelLatencyMs: num('model-latency-ms', 500, 0, 60_000),
  };
}
