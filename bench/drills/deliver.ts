// The platform's side of the drills: signed DingTalk robot callbacks (the shape bench/traffic.ts sends),
// re-delivered while imflow does not ack them, as DingTalk, Feishu and WeCom do.
import { sleep } from '../stats.js';
import { robotCallback, robotSign, type Sent } from '../traffic.js';
import type { FrontedPlatform } from './platform-front.js';

/** Platforms re-deliver an un-acked callback after a few seconds. */
const REDELIVER_AFTER_MS = 5000;
const ACK_TIMEOUT_MS = 10_000;

export interface Delivered extends Sent {
  deliveries: number;
  /** performance.now() of the first 200 */
  ackedAt?: number;
}

export interface Traffic {
  webhookUrl: string;
  appSecret: string;
  platform: FrontedPlatform;
  runId: string;
  rate: number;
  seconds: number;
  conversations: number;
  /** when each copy of a message is delivered, ms after its first delivery ([0] = once; the storm: several) */
  copiesAt: number[];
  /** give up re-delivering a message this long after it was first sent */
  giveUpAfterMs: number;
}

/** One POST; the HTTP status, 0 for a network error or no answer within ACK_TIMEOUT_MS. */
async function post(t: Traffic, body: string): Promise<number> {
  const timestamp = String(Date.now());
  return fetch(t.webhookUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json; charset=utf-8', timestamp, sign: robotSign(timestamp, t.appSecret) },
    body,
    signal: AbortSignal.timeout(ACK_TIMEOUT_MS),
  }).then(
    async (res) => (await res.arrayBuffer(), res.status),
    () => 0,
  );
}

/** Delivers one copy, and again every REDELIVER_AFTER_MS until it is acked or the message is given up. */
async function deliverCopy(t: Traffic, rec: Delivered, body: string): Promise<void> {
  for (;;) {
    const started = performance.now();
    rec.deliveries++;
    const status = await post(t, body);
    if (status === 200) {
      rec.status = 200;
      rec.ackMs ??= performance.now() - started;
      rec.ackedAt ??= performance.now();
      return;
    }
    rec.status ??= status;
    if (performance.now() - rec.sentAt > t.giveUpAfterMs) return;
    await sleep(REDELIVER_AFTER_MS - (performance.now() - started));
  }
}

/**
 * Sends rate × seconds messages open loop, message i to conversation i mod conversations, each copy on its
 * own schedule; resolves when every copy is acked or given up. A message's position in its conversation
 * (seq) is the order in which imflow acked it: with re-deliveries that can differ from the sending order,
 * and the ack order is the order imflow promises to answer in.
 */
export async function sendDrillTraffic(t: Traffic): Promise<Delivered[]> {
  const total = Math.max(1, Math.floor(t.rate * t.seconds));
  const sent: Delivered[] = [];
  const copies: Promise<void>[] = [];
  const t0 = performance.now();
  for (let i = 0; i < total; i++) {
    await sleep(t0 + (i * 1000) / t.rate - performance.now());
    const conv = i % t.conversations;
    const rec: Delivered = { tag: `${t.runId}-${i}`, conv, seq: 0, warmup: false, sentAt: performance.now(), deliveries: 0 };
    sent.push(rec);
    const body = robotCallback({ runId: t.runId, tag: rec.tag, conv, promptChars: 60, who: 'drill', platform: t.platform });
    for (const at of t.copiesAt) copies.push(sleep(at).then(() => deliverCopy(t, rec, body)));
  }
  await Promise.all(copies);
  const byConv = new Map<number, Delivered[]>();
  for (const rec of sent.filter((r) => r.ackedAt !== undefined)) byConv.set(rec.conv, [...(byConv.get(rec.conv) ?? []), rec]);
  for (const recs of byConv.values()) recs.sort((a, b) => a.ackedAt! - b.ackedAt!).forEach((r, k) => (r.seq = k));
  return sent;
}
