// `npm run bench`: load benchmark of the whole message path (issue 8, docs/benchmarks.md).
// Starts the fakes and (unless --target) imflow itself, sends signed DingTalk traffic, prints one JSON
// object on stdout; progress goes to stderr.
import crypto from 'node:crypto';
import os from 'node:os';
import { parseOptions, type BenchOptions } from './args.js';
import { sampleRss, spawnImflow, type ImflowProcess } from './imflow-process.js';
import { runBaseline, startTimedModel, type TimedModel } from './model.js';
import { startFakePlatform, type FakePlatform } from './platform.js';
import { summariseProfiles } from './profile.js';
import { progress, ratio } from './stats.js';
import { traceBreakdown } from './traces.js';
import { drain, figures, sendTraffic, type Figures, type Sent } from './traffic.js';

const MODEL_ID = 'bench-model';

/** issue 8's first targets, checked against the fixed-rate run */
function targets(f: Figures, rss: Record<string, { maxMb?: number }>, opts: BenchOptions) {
  const atSpec = opts.rate >= 50 && opts.duration >= 60;
  const maxRss = Math.max(rss.imflow?.maxMb ?? 0, rss.temporal?.maxMb ?? 0);
  return {
    note: atSpec ? 'run at the specified load (≥ 50 msg/s for ≥ 60 s)' : `run at ${opts.rate} msg/s for ${opts.duration} s: the targets are specified for 50 msg/s for 60 s`,
    ackP99Le50ms: { value: f.ackMs.p99, met: f.ackMs.p99 !== undefined && f.ackMs.p99 <= 50 },
    overheadP50Le60ms: { value: f.overheadMs.p50, met: f.overheadMs.p50 !== undefined && f.overheadMs.p50 <= 60 },
    overheadP99Le300ms: { value: f.overheadMs.p99, met: f.overheadMs.p99 !== undefined && f.overheadMs.p99 <= 300 },
    zeroLost: { value: f.lost, met: f.lost === 0 && f.ackErrors === 0 },
    zeroDuplicates: { value: f.duplicates, met: f.duplicates === 0 },
    rssLe600MB: { value: maxRss, met: maxRss > 0 && maxRss <= 600, per: 'process (imflow, and its Temporal dev server separately)' },
    sustained100PerSec: 'see --max-rate',
  };
}

async function main() {
  const opts = parseOptions(process.argv.slice(2));
  const model: TimedModel = await startTimedModel({
    host: opts.fakesHost,
    port: opts.modelPort,
    firstTokenDelayMs: opts.modelLatencyMs,
    chunkDelayMs: opts.modelChunkDelayMs,
  });
  const platform: FakePlatform = await startFakePlatform(opts.fakesHost, opts.platformPort);
  progress(`fake model at ${model.baseURL} (first token ${opts.modelLatencyMs} ms, ${opts.modelChunkDelayMs} ms per chunk); fake DingTalk at ${platform.url}`);

  let imflow: ImflowProcess | undefined;
  let url: string;
  let adminToken: string;
  const stopAll = async () => {
    await imflow?.stop();
    await model.close();
    await platform.close();
  };
  try {
    if (opts.target) {
      url = opts.target.replace(/\/$/, '');
      adminToken = opts.adminToken!;
      await checkTarget(url, adminToken, opts.channel, platform, model);
    } else {
      progress('starting imflow (node --import tsx runtime/main.ts all)…');
      const t = Date.now();
      imflow = await spawnImflow({ config: benchConfig(opts, model, platform), cpuProf: opts.cpuProf, keep: opts.keep });
      url = imflow.url;
      adminToken = imflow.adminToken;
      progress(`imflow up in ${((Date.now() - t) / 1000).toFixed(1)} s at ${url} (database ${imflow.database}, cache ${imflow.cache}, pid ${imflow.pid}, Temporal pid ${imflow.temporalPid ?? 'external'})`);
    }
    const target = { webhookUrl: `${url}/webhooks/dingtalk/${opts.channel}`, appSecret: opts.appSecret, platform };
    const runId = `bm${crypto.randomBytes(3).toString('hex')}`;
    const rssSampler = sampleRss({ imflow: imflow?.pid, temporal: imflow?.temporalPid, bench: process.pid });
    const schedule = { runId, conversations: opts.conversations, promptChars: opts.promptChars, maxInflight: opts.maxInflight };

    const result: Record<string, unknown> = {
      mode: opts.maxRate ? 'max-rate' : 'fixed-rate',
      machine: machine(),
      imflow: imflow
        ? { started: 'by the bench', database: imflow.database, cache: imflow.cache, temporal: process.env.TEMPORAL_ADDRESS ?? 'embedded dev server' }
        : { started: 'already running', url },
      options: { ...opts, adminToken: opts.adminToken ? '(set)' : undefined },
    };

    if (!opts.maxRate) {
      progress(`sending ${opts.rate} msg/s: ${opts.warmup} s warm-up, then ${opts.duration} s measured, over ${opts.conversations} conversations`);
      const { sent, maxSendLagMs } = await sendTraffic(target, { ...schedule, rate: opts.rate, seconds: opts.duration, warmupSeconds: opts.warmup, firstIndex: 0 });
      progress(`sending done; waiting up to ${opts.drainTimeout} s for the last replies`);
      await drain(sent, platform, opts.drainTimeout * 1000);
      const rss = rssSampler.stop();
      const measured = sent.filter((s) => !s.warmup);
      const f = figures(measured, sent, platform.replies, model, opts.rate);
      progress(`measured: ${f.replied}/${f.sent} replied, e2e p50 ${f.endToEndMs.p50} ms; baseline: direct calls to the fake model at ${opts.rate} msg/s for ${opts.baselineDuration} s`);
      const baseline = await runBaseline(model, opts.rate, opts.baselineDuration);
      const traces = opts.traceSample ? await traceBreakdown({ url, adminToken, channelId: opts.channel, measured, replies: platform.replies, n: opts.traceSample }) : undefined;
      Object.assign(result, {
        ...f,
        maxSendLagMs,
        warmup: warmupFigures(sent, platform),
        unmatchedReplies: platform.replies.filter((r) => !r.tag).length,
        rss,
        baseline: {
          what: 'the same fake model called directly with the prompts imflow sent, at the same rate',
          ...baseline,
          endToEndOverBaselineP50: ratio(f.endToEndMs.p50, baseline.latencyMs.p50),
          endToEndOverBaselineP99: ratio(f.endToEndMs.p99, baseline.latencyMs.p99),
        },
        traceBreakdownMs: traces,
        targets: targets(f, rss, opts),
      });
    } else {
      const steps: unknown[] = [];
      let sustained: number | undefined;
      let firstIndex = 0;
      for (const [i, rate] of opts.steps.entries()) {
        const warmupSeconds = i === 0 ? opts.warmup : 0;
        progress(`step ${i + 1}/${opts.steps.length}: ${rate} msg/s for ${opts.stepDuration} s${warmupSeconds ? ` after ${warmupSeconds} s warm-up` : ''}`);
        const { sent, maxSendLagMs } = await sendTraffic(target, { ...schedule, rate, seconds: opts.stepDuration, warmupSeconds, firstIndex });
        firstIndex += sent.length;
        await drain(sent, platform, opts.drainTimeout * 1000);
        const f = figures(sent.filter((s) => !s.warmup), sent, platform.replies, model, rate);
        // sustained: nothing lost or refused, no duplicate, and replies kept pace with the sending
        const ok = f.lost === 0 && f.ackErrors === 0 && f.duplicates === 0 && (f.throughputPerSec ?? 0) >= 0.9 * rate;
        steps.push({ rate, sustained: ok, ...f, maxSendLagMs });
        progress(`step ${rate} msg/s: ${ok ? 'sustained' : 'NOT sustained'} (replied ${f.replied}/${f.sent}, lost ${f.lost}, errors ${f.ackErrors}, ${f.throughputPerSec} replies/s, e2e p99 ${f.endToEndMs.p99} ms)`);
        if (!ok) break;
        sustained = rate;
      }
      const rss = rssSampler.stop();
      Object.assign(result, {
        sustainedRate: sustained ?? 0,
        criterion: 'a step is sustained when 0 lost, 0 refused, 0 duplicates and replies/s ≥ 90% of the rate (drain timeout applies)',
        steps,
        rss,
        targets: { sustained100PerSec: { value: sustained ?? 0, met: (sustained ?? 0) >= 100 } },
      });
    }

    await imflow?.stop();
    if (imflow?.cpuProfDir) {
      result.cpuProfile = { dir: imflow.cpuProfDir, threads: summariseProfiles(imflow.cpuProfDir) };
      progress(`CPU profiles kept in ${imflow.cpuProfDir}`);
    }
    imflow = undefined;
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } catch (err) {
    if (imflow) progress(`imflow output (tail):\n${imflow.output().slice(-4000)}`);
    throw err;
  } finally {
    await stopAll();
  }
}

function benchConfig(opts: BenchOptions, model: TimedModel, platform: FakePlatform) {
  return {
    models: {
      providers: { bench: { baseUrl: model.baseURL, apiKey: 'bench', models: [{ id: MODEL_ID, contextWindow: 32000, maxTokens: 1024 }] } },
      default: `bench/${MODEL_ID}`,
    },
    channels: [
      {
        id: opts.channel,
        type: 'dingtalk',
        respondTo: 'all',
        appKey: 'bench-app-key',
        appSecret: opts.appSecret,
        robotCode: 'bench-robot',
        apiBase: platform.url,
        oapiBase: platform.url,
      },
    ],
  };
}

/** --target: the running imflow must send this channel's replies to our platform and call our model. */
async function checkTarget(url: string, token: string, channelId: string, platform: FakePlatform, model: TimedModel) {
  const get = async (p: string) => {
    const res = await fetch(url + p, { headers: { authorization: `Bearer ${token}` } });
    if (!res.ok) throw new Error(`GET ${p} on the target: HTTP ${res.status} ${await res.text()}`);
    return (await res.json()) as any;
  };
  const ch = await get(`/api/channels/${encodeURIComponent(channelId)}`);
  const problems: string[] = [];
  if (ch.type !== 'dingtalk') problems.push(`channel "${channelId}" is ${ch.type}, not dingtalk`);
  if (ch.respondTo !== 'all') problems.push(`channel "${channelId}" must have respondTo: all`);
  if (ch.oapiBase && new URL(ch.oapiBase).origin !== new URL(platform.url).origin) problems.push(`channel "${channelId}" oapiBase is ${ch.oapiBase}, must be ${platform.url} (--fakes-host, --platform-port)`);
  const models = await get('/api/models');
  const providerId = String(models.default ?? '').split('/')[0] ?? '';
  const base = models.providers?.[providerId]?.baseUrl;
  if (base && base.replace(/\/$/, '') !== model.baseURL) problems.push(`the default model's provider "${providerId}" has baseUrl ${base}, must be ${model.baseURL} (--fakes-host, --model-port)`);
  if (problems.length) throw new Error(`the target is not set up for the bench:\n  ${problems.join('\n  ')}\n(see docs/benchmarks.md, "Against a running imflow")`);
}

function warmupFigures(sent: Sent[], platform: FakePlatform) {
  const tags = new Set(platform.replies.map((r) => r.tag));
  const w = sent.filter((s) => s.warmup);
  return { sent: w.length, replied: w.filter((s) => tags.has(s.tag)).length };
}

function machine() {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model,
    cores: cpus.length,
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    loadAvgAtStart: os.loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(`bench failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
    process.exit(1);
  },
);
