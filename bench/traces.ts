// Where the time of a message goes, as imflow's own run trace records it (GET /api/runs/<workflowId>).
// Step times are workflow time (Temporal's task clock), so the gaps between steps are Temporal's own
// scheduling: task dispatch, history writes, worker polling.
import type { Reply } from './platform.js';
import { median, round } from './stats.js';
import type { Sent } from './traffic.js';

interface TraceStep {
  step: string;
  status: string;
  startedAt: number;
  durationMs: number;
}

export interface TraceBreakdown {
  runs: number;
  /** medians, ms */
  webhookToFirstStep?: number;
  steps: Record<string, number | undefined>;
  gapsBetweenSteps?: number;
  replyStepStartToArrival?: number;
}

/** Reads the traces of up to `n` measured, replied messages spread over the run, and takes medians. */
export async function traceBreakdown(o: { url: string; adminToken: string; channelId: string; measured: Sent[]; replies: Reply[]; n: number }): Promise<TraceBreakdown> {
  const firstReply = new Map<string, number>();
  for (const r of o.replies) if (r.tag && !firstReply.has(r.tag)) firstReply.set(r.tag, r.at);
  const replied = o.measured.filter((s) => firstReply.has(s.tag));
  const every = Math.max(1, Math.floor(replied.length / Math.max(1, o.n)));
  const sample = replied.filter((_, i) => i % every === 0).slice(0, o.n);

  const toFirst: number[] = [];
  const gaps: number[] = [];
  const toArrival: number[] = [];
  const perStep = new Map<string, number[]>();
  let runs = 0;
  for (const s of sample) {
    const id = encodeURIComponent(`msg:${o.channelId}:${s.tag}`);
    const res = await fetch(`${o.url}/api/runs/${id}`, { headers: { authorization: `Bearer ${o.adminToken}` } }).catch(() => undefined);
    if (!res?.ok) continue;
    const trace = ((await res.json()) as { trace?: TraceStep[] }).trace ?? [];
    if (!trace.length) continue;
    runs++;
    const sentEpoch = performance.timeOrigin + s.sentAt;
    toFirst.push(trace[0]!.startedAt - sentEpoch);
    let gap = 0;
    for (let i = 0; i < trace.length; i++) {
      const t = trace[i]!;
      perStep.set(t.step, [...(perStep.get(t.step) ?? []), t.durationMs]);
      const next = trace[i + 1];
      if (next) gap += Math.max(0, next.startedAt - (t.startedAt + t.durationMs));
    }
    gaps.push(gap);
    const reply = trace.find((t) => t.step === 'reply');
    if (reply) toArrival.push(performance.timeOrigin + firstReply.get(s.tag)! - reply.startedAt);
  }
  const med = (v: number[]) => (v.length ? round(median(v)!) : undefined);
  return {
    runs,
    webhookToFirstStep: med(toFirst),
    steps: Object.fromEntries([...perStep].map(([k, v]) => [k, med(v)])),
    gapsBetweenSteps: med(gaps),
    replyStepStartToArrival: med(toArrival),
  };
}
