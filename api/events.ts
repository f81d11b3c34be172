// GET /api/events: server-sent events for the console's dashboard. One poller per API process,
// running only while someone listens and at most once a second, feeds every stream: however many
// consoles are open, Temporal and Postgres see the same few queries.
//
// Events: `run.started`, `run.step`, `run.finished`, `run.gone` (ended without a result row), `model.health`, `audit` (admins and auditors),
// and `snapshot` (what is in flight, on connect). A comment line every 15 s keeps proxies from closing
// an idle stream.
import type { Client } from '@temporalio/client';
import { Router, type Request, type Response } from 'express';
import { CircuitBreaker } from '../runtime/breaker.js';
import type { Catalog } from '../runtime/catalog.js';
import type { Db } from '../runtime/db.js';
import type { KeyValueStore } from '../runtime/kv.js';
import { logger } from '../runtime/logger.js';
import type { Principal } from '../runtime/users.js';
import { maskFor, seesContacts } from './audit.js';
import { principalOf } from './auth.js';
import { HttpError } from './http-errors.js';
import { currentStep, runMessage, runningRuns } from './runs.js';

const TICK_MS = 1000;
const HEARTBEAT_TICKS = 15;
const MODEL_HEALTH_TICKS = 5;
/** live step queries per tick: the rest of the runs in flight wait for the next turn */
const STEP_QUERIES_PER_TICK = 25;
const MAX_STREAMS = 200;
const MAX_STREAMS_PER_PRINCIPAL = 5;
/** a console that does not read its stream is dropped rather than buffered without end */
const MAX_BUFFERED_BYTES = 512 * 1024;

export interface InFlightRun {
  workflowId: string;
  channelId: string;
  conversationId: string;
  senderId: string;
  text: string;
  startedAt: string;
  currentStep?: string;
}

interface Stream {
  res: Response;
  principal: Principal;
  key: string;
}

type HubDeps = { client: Client; db: Db; catalog: Catalog; kv: KeyValueStore };

export class EventHub {
  private readonly streams = new Set<Stream>();
  private readonly inFlight = new Map<string, InFlightRun>();
  private timer?: NodeJS.Timeout;
  private ticks = 0;
  private busy = false;
  private finishedSince = new Date();
  private readonly finishedSeen = new Set<string>();
  private auditAfter = 0;
  private modelHealth = '';
  private stepCursor = 0;

  constructor(private readonly deps: HubDeps) {}

  get listeners(): number {
    return this.streams.size;
  }

  subscribe(req: Request, res: Response, principal: Principal): void {
    if (this.streams.size >= MAX_STREAMS) throw new HttpError(503, 'too many live streams: close a console tab');
    const key = principal.sessionHash ?? principal.user ?? 'admin-token';
    const mine = [...this.streams].filter((s) => s.key === key);
    // a reload or a new tab: the oldest stream of the same login gives way
    if (mine.length >= MAX_STREAMS_PER_PRINCIPAL) mine[0]!.res.end();

    res.status(200).set({ 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-transform', 'x-accel-buffering': 'no' });
    res.flushHeaders();
    res.write('retry: 3000\n\n');
    const stream: Stream = { res, principal, key };
    this.streams.add(stream);
    this.send(stream, 'snapshot', { inFlight: [...this.inFlight.values()] });
    req.on('close', () => {
      this.streams.delete(stream);
      if (!this.streams.size) this.stop();
    });
    if (!this.timer) this.start();
  }

  private start() {
    this.finishedSince = new Date(Date.now() - TICK_MS);
    this.auditAfter = -1; // read the current end of the log first
    this.timer = setInterval(() => void this.tick(), TICK_MS);
    this.timer.unref();
    void this.tick();
  }

  private stop() {
    clearInterval(this.timer);
    this.timer = undefined;
    this.inFlight.clear();
    this.finishedSeen.clear();
    this.modelHealth = '';
  }

  private async tick() {
    if (this.busy) return; // a slow tick is not stacked on
    this.busy = true;
    this.ticks++;
    try {
      if (this.ticks % HEARTBEAT_TICKS === 0) for (const s of this.streams) this.write(s, ': ping\n\n');
      await Promise.all([this.pollRuns(), this.pollFinished(), this.pollAudit(), this.ticks % MODEL_HEALTH_TICKS === 1 ? this.pollModels() : undefined]);
    } catch (err) {
      logger.warn({ err: String(err) }, 'live events: poll failed');
    } finally {
      this.busy = false;
    }
  }

  private async pollRuns() {
    const { client } = this.deps;
    const live = await runningRuns(client, {}, 500);
    const ids = new Set(live.map((w) => w.workflowId));
    // ended without a row to report (terminated, or its row is read in this same tick): consoles drop it
    for (const id of this.inFlight.keys()) {
      if (ids.has(id)) continue;
      this.inFlight.delete(id);
      this.broadcast('run.gone', { workflowId: id });
    }
    const fresh = live.filter((w) => !this.inFlight.has(w.workflowId));
    await Promise.all(
      fresh.map(async (wf) => {
        const m = await runMessage(client, wf.workflowId, wf.runId).catch(() => undefined);
        if (!m || !this.streams.size) return;
        const run: InFlightRun = {
          workflowId: wf.workflowId, channelId: m.channelId, conversationId: m.conversationId, senderId: m.senderId,
          text: m.text.slice(0, 200), startedAt: wf.startTime.toISOString(),
        };
        this.inFlight.set(wf.workflowId, run);
        this.broadcast('run.started', run);
      }),
    );
    // steps: a bounded number of queries per tick, taking turns when many runs are in flight
    const runs = [...this.inFlight.values()];
    const turn = runs.length <= STEP_QUERIES_PER_TICK ? runs : Array.from({ length: STEP_QUERIES_PER_TICK }, (_, i) => runs[(this.stepCursor + i) % runs.length]!);
    this.stepCursor += turn.length;
    await Promise.all(
      turn.map(async (run) => {
        const step = await currentStep(client, run.workflowId);
        if (step && step !== run.currentStep && this.inFlight.has(run.workflowId)) {
          run.currentStep = step;
          this.broadcast('run.step', { workflowId: run.workflowId, step });
        }
      }),
    );
  }

  private async pollFinished() {
    const { rows } = await this.deps.db.query(
      `SELECT workflow_id, channel_id, conversation_id, sender_id, left(text, 200) AS text, status, model, duration_ms, finished_at
         FROM runs WHERE finished_at >= $1 ORDER BY finished_at LIMIT 500`,
      [this.finishedSince],
    );
    // keyed by the end time too: a retried run ends a second time, with a new row
    const key = (r: { workflow_id: string; finished_at: Date }) => `${r.workflow_id}@${new Date(r.finished_at).getTime()}`;
    for (const r of rows) {
      if (this.finishedSeen.has(key(r))) continue;
      this.finishedSeen.add(key(r));
      this.inFlight.delete(r.workflow_id);
      this.broadcast('run.finished', {
        workflowId: r.workflow_id, channelId: r.channel_id, conversationId: r.conversation_id, senderId: r.sender_id, text: r.text,
        status: r.status, model: r.model, durationMs: r.duration_ms, finishedAt: r.finished_at,
      });
    }
    if (rows.length) {
      // rows of the same instant may still come: keep the boundary and remember only what is past it
      const last = new Date(rows[rows.length - 1].finished_at);
      const boundary = rows.filter((r) => new Date(r.finished_at).getTime() === last.getTime()).map(key);
      this.finishedSince = last;
      this.finishedSeen.clear();
      for (const id of boundary) this.finishedSeen.add(id);
    }
  }

  private async pollAudit() {
    if (this.auditAfter < 0) {
      const { rows } = await this.deps.db.query<{ id: string | null }>('SELECT max(id) AS id FROM audit_log');
      this.auditAfter = Number(rows[0]?.id ?? 0);
      return;
    }
    const { rows } = await this.deps.db.query('SELECT id, at, actor, action, subject FROM audit_log WHERE id > $1 ORDER BY id LIMIT 200', [this.auditAfter]);
    for (const r of rows) {
      this.auditAfter = Number(r.id);
      const data = { id: Number(r.id), at: r.at, actor: r.actor, action: r.action, subject: r.subject };
      for (const s of this.streams) if (seesContacts(s.principal.role)) this.send(s, 'audit', data);
    }
  }

  private async pollModels() {
    const { catalog, kv, db } = this.deps;
    const providers = await catalog.listProviders();
    const breaker = new CircuitBreaker({ kv, settings: () => catalog.breakerSettings() });
    const { rows } = await db.query(
      `SELECT model, count(*)::int AS calls, count(*) FILTER (WHERE outcome NOT IN ('ok', 'cancelled'))::int AS errors
         FROM model_calls WHERE at > now() - interval '5 minutes' GROUP BY model`,
    );
    const calls = new Map(rows.map((r) => [r.model as string, r]));
    const models = await Promise.all(
      Object.entries(providers).flatMap(([id, p]) =>
        p.models.map(async (m) => {
          const ref = `${id}/${m.id}`;
          const state = await breaker.status(ref, p.baseUrl).then((s) => s.state, () => 'unknown');
          const c = calls.get(ref);
          return { model: ref, breaker: state, calls: c?.calls ?? 0, errors: c?.errors ?? 0 };
        }),
      ),
    );
    const json = JSON.stringify(models);
    if (json === this.modelHealth) return;
    this.modelHealth = json;
    this.broadcast('model.health', { models });
  }

  private broadcast(event: string, data: unknown) {
    // serialise once per kind of viewer, not once per stream
    const clear = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    let masked: string | undefined;
    for (const s of this.streams) {
      if (seesContacts(s.principal.role)) this.write(s, clear);
      else this.write(s, (masked ??= `event: ${event}\ndata: ${JSON.stringify(maskFor(s.principal.role, data))}\n\n`));
    }
  }

  private send(s: Stream, event: string, data: unknown) {
    this.write(s, `event: ${event}\ndata: ${JSON.stringify(maskFor(s.principal.role, data))}\n\n`);
  }

  private write(s: Stream, chunk: string) {
    if (s.res.writableLength > MAX_BUFFERED_BYTES) {
      s.res.destroy();
      return;
    }
    s.res.write(chunk);
  }
}

export function eventsRouter(hub: EventHub): Router {
  const router = Router();
  router.get('/events', (req, res) => {
    hub.subscribe(req, res, principalOf(res)!);
  });
  return router;
}
