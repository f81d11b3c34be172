import { setTimeout as sleep } from 'node:timers/promises';
import type { ChannelRegistry } from '../channels/index.js';
import { SendRejected } from '../channels/types.js';
import type { InboundMessage } from '../workflows/types.js';
import type { BreakerTransition } from './breaker.js';
import type { Catalog } from './catalog.js';
import type { AlertSettings } from './config.js';
import type { Db } from './db.js';
import type { KeyValueStore } from './kv.js';
import { logger } from './logger.js';
import { alertsDelivered } from './metrics.js';

export interface AlertDeps {
  db: Db;
  kv: KeyValueStore;
  catalog: Pick<Catalog, 'alertSettings' | 'channel'>;
  channels: ChannelRegistry;
  /** wait before each attempt (default: three attempts over ~5 s) */
  retryDelaysMs?: number[];
  webhookTimeoutMs?: number;
}

/** An alert as GET /api/models/health lists it. */
export interface AlertRecord {
  at: Date;
  event: string;
  model: string;
  from: string;
  to: string;
  reason: string;
  target: string;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  lastError: string | null;
  updatedAt: Date;
}

interface Target {
  kind: 'webhook' | 'chat';
  /** names the target without its secrets: a webhook shows only its origin (tokens hide in paths and queries) */
  label: string;
  send(alertKey: string): Promise<void>;
}

/**
 * What reaches admins: traffic diverted (closed → open) and the model back (→ closed). A failed probe
 * re-opens the breaker every openSeconds through a long outage: that shows in metrics and logs only.
 */
export const alerted = (t: BreakerTransition) => t.to === 'closed' || (t.from === 'closed' && t.to === 'open');

/** Something admins hear about, through every configured webhook and chat. */
export interface Announcement {
  /** unique per occurrence: announcing it twice delivers it once */
  key: string;
  at: number;
  /** e.g. "model.breaker", "conversation.handoff" */
  event: string;
  /** what it is about: a model ref, a conversation */
  subject: string;
  /** kept with the delivery record */
  detail: Record<string, unknown>;
  /** the JSON posted to webhooks */
  payload: Record<string, unknown>;
  /** the chat message */
  text: string;
}

/**
 * Delivers an announcement to every configured webhook and chat. Each delivery is recorded in `alerts`
 * first (its key makes a second announcement of the same thing a no-op), then tried a few times; the
 * promise settles when every target was reached or given up on.
 */
export function createAnnouncer(deps: AlertDeps): (a: Announcement) => Promise<void> {
  const delays = deps.retryDelaysMs ?? [0, 1000, 4000];
  return async function announce(a) {
    const settings = await deps.catalog.alertSettings();
    const targets = [
      ...settings.webhooks.map(
        (url, i): Target => ({ kind: 'webhook', label: `webhooks[${i}] ${new URL(url).origin}`, send: () => postWebhook(url, a.payload, deps.webhookTimeoutMs ?? 5000) }),
      ),
      ...settings.chats.map(
        (c, i): Target => ({ kind: 'chat', label: `chats[${i}] ${c.channelId} ${c.chatType} ${c.to}`, send: (key) => sendToChat(deps, c, a.text, key) }),
      ),
    ];
    await Promise.all(targets.map((target) => deliver(deps.db, a, target, delays)));
  };
}

/** Announces a breaker state change (the ones admins act on, see `alerted`). Callers do not wait for it. */
export function createAlerter(deps: AlertDeps): (t: BreakerTransition) => Promise<void> {
  const announce = createAnnouncer(deps);
  return async function alert(t) {
    if (!alerted(t)) return;
    await announce({
      key: t.id,
      at: t.at,
      event: 'model.breaker',
      subject: t.model,
      detail: { from: t.from, to: t.to, reason: t.reason },
      payload: { event: 'model.breaker', model: t.model, from: t.from, to: t.to, reason: t.reason, at: new Date(t.at).toISOString() },
      text: alertText(t),
    });
  };
}

/** The chat message: Chinese first (the admins' language), English below; counts and error types only, no secrets. */
export function alertText(t: BreakerTransition): string {
  const at = new Date(t.at).toISOString();
  const head =
    t.to === 'open'
      ? `【imflow 告警】模型 ${t.model} 已熔断，请求改由备用模型处理。\n[imflow alert] Model ${t.model}: circuit breaker OPEN, calls go to the next model in the chain.`
      : `【imflow 恢复】模型 ${t.model} 已恢复，熔断关闭。\n[imflow] Model ${t.model} recovered: circuit breaker CLOSED.`;
  return `${head}\n原因 Reason: ${t.reason}\n时间 At: ${at}`;
}

export async function recentAlerts(db: Db, limit = 20): Promise<AlertRecord[]> {
  const { rows } = await db.query(
    `SELECT at, event, subject, detail, target, status, attempts, last_error, updated_at FROM alerts WHERE event = 'model.breaker'
     ORDER BY at DESC, id DESC LIMIT $1`,
    [limit],
  );
  return rows.map((r) => ({
    at: r.at,
    event: r.event,
    model: r.subject,
    from: r.detail.from,
    to: r.detail.to,
    reason: r.detail.reason,
    target: r.target,
    status: r.status,
    attempts: r.attempts,
    lastError: r.last_error,
    updatedAt: r.updated_at,
  }));
}

async function deliver(db: Db, a: Announcement, target: Target, delays: number[]): Promise<void> {
  const alertKey = `${a.key}#${target.label}`;
  const id = await db
    .query<{ id: string }>(
      `INSERT INTO alerts (alert_key, at, event, subject, detail, target, status) VALUES ($1, $2, $3, $4, $5, $6, 'pending')
       ON CONFLICT (alert_key) DO NOTHING RETURNING id`,
      [alertKey, new Date(a.at), a.event, a.subject, JSON.stringify(a.detail), target.label],
    )
    .then(
      (r) => r.rows[0]?.id ?? null,
      (err: Error) => {
        // an alert matters more than its record: without the table, deliver anyway
        logger.warn({ err: err.message, target: target.label }, 'could not record an alert; delivering it anyway');
        return undefined;
      },
    );
  if (id === null) return; // recorded already: someone else delivers it
  const save = (status: AlertRecord['status'], attempts: number, error: string | null) =>
    id === undefined
      ? Promise.resolve()
      : db
          .query('UPDATE alerts SET status = $2, attempts = $3, last_error = $4, updated_at = now() WHERE id = $1', [id, status, attempts, error])
          .then(() => undefined, (err: Error) => logger.warn({ err: err.message, target: target.label }, 'could not update an alert record'));

  let attempts = 0;
  let lastError = '';
  for (const delay of delays) {
    if (delay) await sleep(delay);
    attempts++;
    try {
      await target.send(alertKey);
      await save('delivered', attempts, null);
      alertsDelivered.inc({ kind: target.kind, status: 'delivered' });
      return;
    } catch (err) {
      lastError = why(err);
      if (err instanceof SendRejected) break; // refused: the same request will be refused again
      await save('pending', attempts, lastError);
    }
  }
  logger.warn({ target: target.label, event: a.event, subject: a.subject, attempts, error: lastError }, 'admin alert not delivered');
  await save('failed', attempts, lastError);
  alertsDelivered.inc({ kind: target.kind, status: 'failed' });
}

async function postWebhook(url: string, payload: object, timeoutMs: number): Promise<void> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(payload),
    signal: AbortSignal.timeout(timeoutMs),
  });
  await res.arrayBuffer().catch(() => undefined); // free the connection
  if (res.ok) return;
  const refused = res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429;
  throw refused ? new SendRejected(`HTTP ${res.status}`, res.status) : new Error(`HTTP ${res.status}`);
}

/** A proactive send through the channel's adapter: no message to answer, so no replyTarget. */
async function sendToChat(deps: AlertDeps, target: AlertSettings['chats'][number], text: string, idempotencyKey: string): Promise<void> {
  const channel = await deps.catalog.channel(target.channelId);
  if (!channel) throw new SendRejected(`no channel "${target.channelId}"`);
  const adapter = deps.channels[channel.type];
  if (!adapter) throw new SendRejected(`no adapter can send to ${channel.type} channels`);
  const to: InboundMessage = {
    channelId: channel.id,
    channelType: channel.type,
    platformMessageId: idempotencyKey,
    conversationId: target.to,
    chatType: target.chatType,
    senderId: target.to,
    text: '',
    mentioned: false,
    receivedAt: Date.now(),
  };
  await adapter.send(channel, to, { text, idempotencyKey }, { kv: deps.kv });
}

/** Why a delivery failed, fit for the table and the log: a URL in an error keeps only its origin. */
function why(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  const text = e?.name === 'TimeoutError' ? 'no answer in time' : (e?.cause?.code ?? e?.cause?.message ?? e?.message ?? String(err));
  return text
    .replace(/https?:\/\/[^\s"'<>()]+/g, (u) => {
      try {
        return new URL(u).origin;
      } catch {
        return '[url]';
      }
    })
    .slice(0, 500);
}
