// Signed DingTalk robot callbacks at a fixed rate (open loop: the schedule does not wait for acks), and
// what became of each message: ack, replies at the fake platform, model time, order per conversation.
import crypto from 'node:crypto';
import http from 'node:http';
import type { FakePlatform, Reply } from './platform.js';
import { progress, round, sleep, summary } from './stats.js';

const TAG = /\[(bm[0-9a-z]+-\d+)\]/;
/** The tag that makes a message (and the fake's answer, which quotes it) unique and traceable. */
export const tagIn = (text: string): string | undefined => text.match(TAG)?.[1];

// Chinese, as in a real helpdesk chat; CJK counts one token per character in both estimators.
const FILLER = '请问报销发票多久能开出来，需要提供哪些材料，走什么流程？';

export interface Sent {
  tag: string;
  conv: number;
  seq: number; // position of the message in its conversation
  warmup: boolean;
  sentAt: number; // performance.now() when the request started
  ackMs?: number;
  status?: number; // HTTP status, 0 for a network error
}

export interface TrafficTarget {
  webhookUrl: string; // …/webhooks/dingtalk/<channelId>
  appSecret: string;
  platform: FakePlatform;
}

export interface Schedule {
  runId: string;
  rate: number;
  seconds: number;
  warmupSeconds: number;
  conversations: number;
  promptChars: number;
  maxInflight: number;
  /** first message number (a later --max-rate step continues the numbering and the conversations) */
  firstIndex: number;
}

/** DingTalk's robot callback signature: base64(HMAC-SHA256(appSecret, timestamp + "\n" + appSecret)). */
export const robotSign = (timestamp: string, secret: string) => crypto.createHmac('sha256', secret).update(`${timestamp}\n${secret}`).digest('base64');

/** A DingTalk robot callback body: message `tag` of conversation `conv`, from that conversation's one sender. */
export function robotCallback(o: { runId: string; tag: string; conv: number; promptChars: number; who: string; platform: Pick<FakePlatform, 'sessionWebhook'> }): string {
  const convId = `cid-${o.runId}-${o.conv}`;
  const now = Date.now();
  return JSON.stringify({
    msgtype: 'text',
    text: { content: messageText(o.tag, o.promptChars) },
    msgId: o.tag,
    createAt: now,
    conversationType: '1',
    conversationId: convId,
    senderId: `$:LWCP_v1:$${o.who}-${o.conv}`,
    senderStaffId: `${o.who}-staff-${o.conv}`,
    senderNick: `${o.who} ${o.conv}`,
    isInAtList: true,
    sessionWebhook: o.platform.sessionWebhook(convId),
    sessionWebhookExpiredTime: now + 90 * 60_000,
    robotCode: `${o.who}-robot`,
  });
}

export function messageText(tag: string, chars: number): string {
  let text = `[${tag}] `;
  while (text.length < chars) text += FILLER;
  return text.slice(0, chars);
}

/**
 * Sends (warmupSeconds + seconds) × rate messages. Message i goes to conversation i mod conversations,
 * so each conversation gets its messages one after another in time and its reply order can be checked.
 * In flight is capped (maxInflight): past it the sender waits, and the lag shows as maxSendLagMs.
 */
export async function sendTraffic(t: TrafficTarget, s: Schedule): Promise<{ sent: Sent[]; maxSendLagMs: number }> {
  const url = new URL(t.webhookUrl);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 512 });
  const total = Math.floor((s.warmupSeconds + s.seconds) * s.rate);
  const warmupCount = Math.floor(s.warmupSeconds * s.rate);
  const sent: Sent[] = [];
  const inflight = new Set<Promise<void>>();
  let maxSendLagMs = 0;
  const t0 = performance.now();
  let lastProgress = t0;
  for (let k = 0; k < total; k++) {
    const due = t0 + (k * 1000) / s.rate;
    await sleep(due - performance.now());
    while (inflight.size >= s.maxInflight) await Promise.race(inflight);
    maxSendLagMs = Math.max(maxSendLagMs, performance.now() - due);

    const i = s.firstIndex + k;
    const conv = i % s.conversations;
    const rec: Sent = { tag: `${s.runId}-${i}`, conv, seq: Math.floor(i / s.conversations), warmup: k < warmupCount, sentAt: 0 };
    sent.push(rec);
    const body = robotCallback({ runId: s.runId, tag: rec.tag, conv, promptChars: s.promptChars, who: 'bench', platform: t.platform });
    const timestamp = String(Date.now());
    const p = new Promise<void>((resolve) => {
      rec.sentAt = performance.now();
      const req = http.request(
        url,
        {
          method: 'POST',
          agent,
          headers: { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), timestamp, sign: robotSign(timestamp, t.appSecret) },
        },
        (res) => {
          res.resume();
          res.on('end', () => {
            rec.ackMs = performance.now() - rec.sentAt;
            rec.status = res.statusCode;
            resolve();
          });
          res.on('error', () => ((rec.status = 0), resolve()));
        },
      );
      req.on('error', () => ((rec.status = 0), resolve()));
      req.end(body);
    });
    inflight.add(p);
    void p.then(() => inflight.delete(p));
    if (performance.now() - lastProgress > 5000) {
      lastProgress = performance.now();
      progress(`sent ${k + 1}/${total}${k < warmupCount ? ' (warm-up)' : ''}, ${inflight.size} acks pending, ${t.platform.replies.length} replies so far`);
    }
  }
  await Promise.all(inflight);
  agent.destroy();
  return { sent, maxSendLagMs: round(maxSendLagMs) };
}

/** Waits until every acked message has a reply or timeoutMs passed since the call. */
export async function drain(sent: Sent[], platform: FakePlatform, timeoutMs: number): Promise<void> {
  const waiting = new Set(sent.filter((s) => s.status === 200).map((s) => s.tag));
  let seen = 0;
  const deadline = performance.now() + timeoutMs;
  while (waiting.size && performance.now() < deadline) {
    for (; seen < platform.replies.length; seen++) {
      const tag = platform.replies[seen]!.tag;
      if (tag) waiting.delete(tag);
    }
    if (waiting.size) await sleep(100);
  }
  if (waiting.size) progress(`drain: ${waiting.size} message(s) still without a reply after ${round(timeoutMs / 1000)} s`);
}

export interface Figures {
  sent: number;
  acked: number;
  ackErrors: number;
  replied: number;
  duplicates: number;
  extraReplies: number;
  lost: number;
  outOfOrder: number;
  ackMs: ReturnType<typeof summary>;
  endToEndMs: ReturnType<typeof summary>;
  modelMs: ReturnType<typeof summary>;
  overheadMs: ReturnType<typeof summary>;
  modelRetries: number;
  throughputPerSec?: number;
  targetRate: number;
}

/**
 * The figures for the messages in `measured`. Replies are matched by the tag they quote; out-of-order
 * replies are counted over `all` messages of the run (warm-up included), since order is per conversation.
 */
export function figures(
  measured: Sent[],
  all: Sent[],
  replies: Reply[],
  model: { modelMs: Map<string, number>; calls: Map<string, number> },
  targetRate: number,
): Figures {
  const byTag = new Map<string, number[]>();
  for (const r of replies) if (r.tag) byTag.set(r.tag, [...(byTag.get(r.tag) ?? []), r.at]);

  const acked = measured.filter((s) => s.status === 200);
  const e2e: number[] = [];
  const modelTimes: number[] = [];
  const overhead: number[] = [];
  let duplicates = 0;
  let extraReplies = 0;
  let lastReply = 0;
  let retries = 0;
  for (const s of measured) {
    const got = byTag.get(s.tag);
    if (!got) continue;
    if (got.length > 1) (duplicates++, (extraReplies += got.length - 1));
    const first = Math.min(...got);
    lastReply = Math.max(lastReply, first);
    e2e.push(first - s.sentAt);
    const m = model.modelMs.get(s.tag);
    if (m !== undefined) {
      modelTimes.push(m);
      overhead.push(first - s.sentAt - m);
    }
    retries += Math.max(0, (model.calls.get(s.tag) ?? 1) - 1);
  }

  // order: walk each conversation's first replies in arrival order; a reply to an earlier message
  // arriving after a reply to a later one is out of order
  const info = new Map(all.map((s) => [s.tag, s]));
  const firstReplies = [...byTag].map(([tag, ats]) => ({ tag, at: Math.min(...ats) })).sort((a, b) => a.at - b.at);
  const highest = new Map<number, number>();
  let outOfOrder = 0;
  for (const r of firstReplies) {
    const s = info.get(r.tag);
    if (!s) continue;
    const max = highest.get(s.conv) ?? -1;
    if (s.seq < max) outOfOrder++;
    else highest.set(s.conv, s.seq);
  }

  const replied = e2e.length;
  const firstSent = measured.length ? Math.min(...measured.map((s) => s.sentAt)) : 0;
  return {
    sent: measured.length,
    acked: acked.length,
    ackErrors: measured.length - acked.length,
    replied,
    duplicates,
    extraReplies,
    lost: acked.filter((s) => !byTag.has(s.tag)).length,
    outOfOrder,
    ackMs: summary(acked.map((s) => s.ackMs!)),
    endToEndMs: summary(e2e),
    modelMs: summary(modelTimes),
    overheadMs: summary(overhead),
    modelRetries: retries,
    throughputPerSec: replied && lastReply > firstSent ? round(replied / ((lastReply - firstSent) / 1000)) : undefined,
    targetRate,
  };
}
