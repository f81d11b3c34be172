// Command-line options of `npm run bench` (docs/benchmarks.md lists them with their defaults).
import { parseArgs } from 'node:util';

export interface BenchOptions {
  rate: number;
  duration: number;
  warmup: number;
  conversations: number;
  drainTimeout: number;
  modelLatencyMs: number;
  modelChunkDelayMs: number;
  promptChars: number;
  baselineDuration: number;
  maxRate: boolean;
  steps: number[];
  stepDuration: number;
  traceSample: number;
  cpuProf: boolean;
  maxInflight: number;
  target?: string;
  adminToken?: string;
  channel: string;
  appSecret: string;
  fakesHost: string;
  modelPort: number;
  platformPort: number;
  keep: boolean;
}

const HELP = `npm run bench -- [options]
  --rate N                 messages per second (default 50)
  --duration S             measured seconds (default 60)
  --warmup S               seconds of traffic before, excluded from the figures (default 10)
  --conversations N        conversations the traffic is spread over (default 200)
  --drain-timeout S        after sending stops, wait this long for replies before counting a message lost (default 30)
  --model-latency-ms MS    fake model: delay before the first token (default 200)
  --model-chunk-delay-ms MS  fake model: delay between streamed chunks (default 10)
  --prompt-chars N         length of each user message (default 60)
  --baseline-duration S    seconds of direct calls to the fake model at the same rate (default min(duration, 20))
  --max-rate               instead: step the rate up (--steps) until a step is not sustained
  --steps A,B,…            rates for --max-rate (default 5,10,25,50,100,150)
  --step-duration S        seconds per --max-rate step (default 20)
  --trace-sample N         read the run traces of N measured messages to split the time per step (default 30)
  --cpu-prof               run imflow under --cpu-prof and summarise where its CPU time went
  --max-inflight N         cap on webhook requests in flight (default 2000)
  --keep                   keep imflow's temp data dir
  --target URL --admin-token T --channel ID --app-secret S
                           bench an already running imflow (see docs/benchmarks.md: its channel and default
                           model must point at the fakes, on --fakes-host/--platform-port/--model-port)
  --fakes-host H           where the fakes listen and how imflow reaches them (default 127.0.0.1)
  --model-port P, --platform-port P   fixed ports for the fakes (default: any free port)`;

export function parseOptions(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      rate: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      conversations: { type: 'string' },
      'drain-timeout': { type: 'string' },
      'model-latency-ms': { type: 'string' },
      'model-chunk-delay-ms': { type: 'string' },
      'prompt-chars': { type: 'string' },
      'baseline-duration': { type: 'string' },
      'max-rate': { type: 'boolean' },
      steps: { type: 'string' },
      'step-duration': { type: 'string' },
      'trace-sample': { type: 'string' },
      'cpu-prof': { type: 'boolean' },
      'max-inflight': { type: 'string' },
      keep: { type: 'boolean' },
      target: { type: 'string' },
      'admin-token': { type: 'string' },
      channel: { type: 'string' },
      'app-secret': { type: 'string' },
      'fakes-host': { type: 'string' },
      'model-port': { type: 'string' },
      'platform-port': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.error(HELP);
    process.exit(0);
  }
  const num = (name: keyof typeof values, fallback: number, min: number, max: number): number => {
    const raw = values[name];
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isFinite(n) || n < min || n > max) throw new Error(`--${name} must be a number from ${min} to ${max}, got "${String(raw)}"`);
    return n;
  };
  const duration = num('duration', 60, 1, 3600);
  const steps = (values.steps ?? '5,10,25,50,100,150').split(',').map((s) => Number(s.trim()));
  if (!steps.length || steps.some((s) => !Number.isFinite(s) || s <= 0 || s > 5000)) throw new Error('--steps must be a comma-separated list of rates (1–5000)');
  const opts: BenchOptions = {
    rate: num('rate', 50, 0.1, 5000),
    duration,
    warmup: num('warmup', 10, 0, 600),
    conversations: Math.round(num('conversations', 200, 1, 100_000)),
    drainTimeout: num('drain-timeout', 30, 1, 3600),
    modelLatencyMs: num('model-latency-ms', 200, 0, 600_000),
    modelChunkDelayMs: num('model-chunk-delay-ms', 10, 0, 60_000),
    promptChars: Math.round(num('prompt-chars', 60, 20, 16_000)),
    baselineDuration: num('baseline-duration', Math.min(duration, 20), 0, 3600),
    maxRate: values['max-rate'] ?? false,
    steps,
    stepDuration: num('step-duration', 20, 1, 3600),
    traceSample: Math.round(num('trace-sample', 30, 0, 1000)),
    cpuProf: values['cpu-prof'] ?? false,
    maxInflight: Math.round(num('max-inflight', 2000, 1, 100_000)),
    keep: values.keep ?? false,
    target: values.target,
    adminToken: values['admin-token'],
    channel: values.channel ?? 'bench',
    appSecret: values['app-secret'] ?? 'bench-app-secret',
    fakesHost: values['fakes-host'] ?? '127.0.0.1',
    modelPort: Math.round(num('model-port', 0, 0, 65535)),
    platformPort: Math.round(num('platform-port', 0, 0, 65535)),
  };
  if (opts.target && !opts.adminToken) throw new Error('--target needs --admin-token (to check the channel and model setup, and to read run traces)');
  if (opts.target && opts.cpuProf) throw new Error('--cpu-prof only works when the bench starts imflow itself');
  return opts;
}
