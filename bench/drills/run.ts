// `npm run drills`: fault drills (issue 8, docs/benchmarks.md "Drills"). Per drill: send messages across
// several conversations, break one dependency, put it back, wait, then count. One JSON line per drill and
// a final verdict line on stdout (progress on stderr); exit code 1 if any drill failed.
import './quiet-logs.js';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { progress, sleep } from '../stats.js';
import { drain, figures } from '../traffic.js';
import { parseDrillOptions, type DrillOptions } from './args.js';
import { sendDrillTraffic, type Delivered } from './deliver.js';
import { drills, type Drill } from './drills.js';
import { APP_SECRET, CHANNEL, startStack, waitHealthy, type Stack } from './stack.js';

/** After the last answer, keep watching this long for a late duplicate. */
const SETTLE_MS = 5000;
/** Lost messages whose run status the report shows. */
const MAX_LOST_SHOWN = 10;

async function runDrill(stack: Stack, d: Drill, o: DrillOptions): Promise<Record<string, unknown>> {
  const started = Date.now();
  const abortedBefore = stack.model.aborted();
  const down = d.downSeconds?.(o.outage) ?? o.outage;
  const faulty = !!d.inject;
  const seconds = faulty ? 2 * o.lead + o.outage : Math.max(2 * o.lead, 5);
  const runId = `bm${crypto.randomBytes(3).toString('hex')}`; // the tag format bench/traffic.ts recognises
  const traffic = sendDrillTraffic({
    webhookUrl: stack.webhookUrl,
    appSecret: APP_SECRET,
    platform: stack.platform,
    runId,
    rate: o.rate,
    seconds,
    conversations: o.conversations,
    copiesAt: d.copiesAt ?? [0],
    giveUpAfterMs: (down + o.drainTimeout) * 1000,
  });
  let faultError: string | undefined;
  if (faulty) {
    await sleep(o.lead * 1000);
    progress(`${d.name}: inject — ${d.fault}`);
    try {
      await d.inject!(stack);
      await sleep(down * 1000);
      await d.restore!(stack);
      progress(`${d.name}: restored after ${down} s`);
    } catch (err) {
      faultError = err instanceof Error ? err.message : String(err);
    }
  }
  const sent = await traffic;
  progress(`${d.name}: traffic done (${sent.length} messages); waiting up to ${o.drainTimeout} s for the answers`);
  await drain(sent, stack.platform.platform, o.drainTimeout * 1000);
  await sleep(SETTLE_MS);

  const tags = new Set(sent.map((s) => s.tag));
  const replies = stack.platform.platform.replies.filter((r) => r.tag && tags.has(r.tag));
  const f = figures(sent, sent, replies, { modelMs: new Map(), calls: new Map() }, o.rate);
  const ok = !faultError && f.ackErrors === 0 && f.lost === 0 && f.duplicates === 0 && f.outOfOrder === 0 && f.replied === f.sent;
  const result: Record<string, unknown> = {
    drill: d.name,
    fault: d.fault,
    outageS: faulty ? down : undefined,
    sent: f.sent,
    deliveries: sent.reduce((n, s) => n + s.deliveries, 0),
    acked: f.acked,
    refused: f.ackErrors,
    replied: f.replied,
    lost: f.lost,
    duplicates: f.duplicates,
    extraReplies: f.extraReplies,
    outOfOrder: f.outOfOrder,
    endToEndMs: f.endToEndMs,
    modelCallsAbandoned: stack.model.aborted() - abortedBefore,
    ...(d.name === 'platform' ? { platformSends500: stack.platform.refused } : {}),
    faultError,
    durationS: Math.round((Date.now() - started) / 1000),
    verdict: ok ? 'pass' : 'fail',
  };
  if (!ok) result.unanswered = await unanswered(stack, sent, new Set(replies.map((r) => r.tag!)));
  return result;
}

/** The first few unanswered messages and what imflow's run trace says happened to them. */
async function unanswered(stack: Stack, sent: Delivered[], answered: Set<string>) {
  const out = [];
  for (const s of sent.filter((m) => !answered.has(m.tag)).slice(0, MAX_LOST_SHOWN)) {
    const id = encodeURIComponent(`msg:${CHANNEL}:${s.tag}`);
    type Run = { status?: string; trace?: { step: string; status: string; error?: string }[] };
    const run: Run = await fetch(`${stack.api.url}/api/runs/${id}`, { headers: { authorization: `Bearer ${stack.adminToken}` } })
      .then(async (r) => (r.ok ? ((await r.json()) as Run) : { status: `HTTP ${r.status}` }))
      .catch((err: Error) => ({ status: `unreachable: ${err.message}` }));
    const failed = run.trace?.find((t) => t.status === 'failed');
    out.push({ tag: s.tag, ackStatus: s.status, deliveries: s.deliveries, run: run.status, failedStep: failed && `${failed.step}: ${failed.error ?? ''}`.slice(0, 300) });
  }
  return out;
}

async function main() {
  const o = parseDrillOptions(process.argv.slice(2));
  progress(`drills ${o.only.join(', ')}: outage ${o.outage} s, ${o.rate} msg/s over ${o.conversations} conversations, ${o.lead} s before and after`);
  const stack = await startStack({ modelLatencyMs: o.modelLatencyMs });
  // Ctrl-C must not leave the drills' own Postgres, Redis or imflow processes running
  const interrupted = () => void stack.stop().finally(() => process.exit(130));
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  const results: Record<string, unknown>[] = [];
  try {
    for (const name of o.only) {
      const d = drills[name];
      const why = d.skip?.(stack);
      if (why) {
        results.push({ drill: name, verdict: 'skipped', reason: why });
      } else {
        if (!(await waitHealthy(stack, 60_000))) throw new Error(`imflow is not healthy before the ${name} drill`);
        const r = await runDrill(stack, d, o);
        if (r.verdict === 'fail') {
          const file = path.join(os.tmpdir(), `imflow-drill-${name}-${Date.now()}.log`);
          fs.writeFileSync(file, stack.logs());
          r.logs = file;
        }
        results.push(r);
      }
      process.stdout.write(`${JSON.stringify(results.at(-1))}\n`);
    }
  } finally {
    await stack.stop();
  }
  const failed = results.filter((r) => r.verdict === 'fail').map((r) => r.drill);
  const passed = results.filter((r) => r.verdict === 'pass').length;
  process.stdout.write(`${JSON.stringify({ drills: results.length, passed, skipped: results.length - passed - failed.length, failed, verdict: failed.length ? 'fail' : 'pass' })}\n`);
  return failed.length ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`drills failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(2);
  },
);
