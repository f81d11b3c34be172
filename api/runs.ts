// Message runs for the console: search, one run's whole chain, figures for the dashboard, and retry.
//
// Where runs are searched: finished runs in Postgres (`runs`, written by the audit step with the
// message text, reply, model and trace; indexed, searchable by text, and kept as long as the database
// keeps them), runs still in flight in Temporal's visibility store (they have no row yet). Temporal
// visibility alone cannot search message text, and its retention ends long before an audit's does.
import crypto from 'node:crypto';
import { WorkflowNotFoundError, type Client, type WorkflowExecutionInfo } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
// a CommonJS package: Node's ESM loader sees only its default export (vitest would hide this)
import proto from '@temporalio/proto';
import type { temporal } from '@temporalio/proto';
import { Router, type Response } from 'express';
import { z } from 'zod';
import { appendAudit } from '../runtime/audit.js';
import { inTransaction, type Db } from '../runtime/db.js';
import { actorName } from '../runtime/users.js';
import type { MessageInput, RunState } from '../workflows/message.js';
import type { InboundMessage, MessageResult, RunStatus, TraceStep } from '../workflows/types.js';
import { validated } from './admin.js';
import { maskFor } from './audit.js';
import { principalOf } from './auth.js';
import { HttpError } from './http-errors.js';

const EventType = proto.temporal.api.enums.v1.EventType;
type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

export interface RunView {
  workflowId: string;
  status: RunStatus;
  currentStep?: string;
  reply: { text: string; model?: string } | null;
  trace: TraceStep[];
}

/** A finished run from Postgres; a live one from its workflow (query), so the console sees where it is now. */
export async function readRun(client: Client, db: Db, workflowId: string): Promise<RunView | undefined> {
  const { rows } = await db.query('SELECT status, reply_text, model, trace FROM runs WHERE workflow_id = $1', [workflowId]);
  const row = rows[0];
  if (row) return { workflowId, status: row.status, reply: row.reply_text ? { text: row.reply_text, model: row.model ?? undefined } : null, trace: row.trace };
  const handle = client.workflow.getHandle(workflowId);
  try {
    const desc = await handle.describe();
    if (desc.type !== 'message') return undefined;
    if (desc.status.name === 'RUNNING') {
      const state = await handle.query<RunState>('trace');
      return { workflowId, status: state.status, currentStep: state.currentStep, reply: state.reply ?? null, trace: state.trace };
    }
    if (desc.status.name === 'COMPLETED') {
      const r = (await handle.result()) as MessageResult;
      return { workflowId, status: r.status, reply: r.reply ?? null, trace: r.trace };
    }
    return { workflowId, status: 'failed', reply: null, trace: [] };
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// The platform's request behind a run: kept by the webhook route, secrets removed, size bounded.

const MAX_RAW_BODY = 32 * 1024;
/** header and body fields that carry credentials, signatures or reply capabilities */
const SECRET_KEY = /token|secret|sign|password|authorization|cookie|webhook|encrypt|aes|key$/i;

function redact(value: unknown, depth = 0): unknown {
  if (depth > 12) return '[too deep]';
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, SECRET_KEY.test(k) ? '[redacted]' : redact(v, depth + 1)]));
  }
  return value;
}

/**
 * Keeps the verified (decrypted) platform payload and its non-secret headers for the run's chain.
 * Never fails the webhook: the copy is for people, the message is what matters.
 */
export async function keepRawRequest(db: Db, workflowId: string, channelId: string, headers: Record<string, string | undefined>, payload: unknown) {
  let body = redact(payload);
  let json = JSON.stringify(body) ?? 'null';
  const truncated = json.length > MAX_RAW_BODY;
  if (truncated) body = { truncated: json.slice(0, MAX_RAW_BODY) };
  json = JSON.stringify(body);
  const kept = Object.fromEntries(Object.entries(headers).filter(([k, v]) => v !== undefined && !SECRET_KEY.test(k) && !/^x-forwarded|^cf-|^x-real-ip/.test(k)));
  await db
    .query(
      `INSERT INTO run_requests (workflow_id, channel_id, headers, body, truncated) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (workflow_id) DO NOTHING`,
      [workflowId, channelId, JSON.stringify(kept), json, truncated],
    )
    .catch(() => undefined);
}

// ---------------------------------------------------------------------------------------------
// Temporal: the message a run started with, runs in flight, histories.

const decode = (p: temporal.api.common.v1.IPayload | null | undefined): unknown => {
  if (!p) return undefined;
  try {
    return defaultPayloadConverter.fromPayload(p);
  } catch {
    return '[undecodable payload]';
  }
};

/** Inputs never change: cached by run id, bounded. */
const inputs = new Map<string, InboundMessage | undefined>();
const MAX_CACHED_INPUTS = 2000;

/** The inbound message a run started with: the first event of its history. */
export async function runMessage(client: Client, workflowId: string, runId?: string): Promise<InboundMessage | undefined> {
  const key = `${workflowId}/${runId ?? ''}`;
  if (runId && inputs.has(key)) return inputs.get(key);
  const res = await client.workflowService.getWorkflowExecutionHistory({
    namespace: client.options.namespace,
    execution: { workflowId, runId },
    maximumPageSize: 1,
  });
  const started = res.history?.events?.[0]?.workflowExecutionStartedEventAttributes;
  const message = (decode(started?.input?.payloads?.[0]) as MessageInput | undefined)?.message;
  if (runId) {
    if (inputs.size >= MAX_CACHED_INPUTS) inputs.delete(inputs.keys().next().value!);
    inputs.set(key, message);
  }
  return message;
}

const quoted = (v: string) => `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/** Message runs in flight, newest first, from Temporal's visibility store. */
export async function runningRuns(client: Client, filter: { channelId?: string; senderId?: string; from?: Date; to?: Date } = {}, limit = 200) {
  const q = [`WorkflowType = 'message'`, `ExecutionStatus = 'Running'`];
  if (filter.channelId) q.push(`ChannelId = ${quoted(filter.channelId)}`);
  if (filter.senderId) q.push(`SenderId = ${quoted(filter.senderId)}`);
  if (filter.from) q.push(`StartTime >= ${quoted(filter.from.toISOString())}`);
  if (filter.to) q.push(`StartTime < ${quoted(filter.to.toISOString())}`);
  const out: WorkflowExecutionInfo[] = [];
  for await (const wf of client.workflow.list({ query: q.join(' AND '), pageSize: Math.min(limit, 1000) })) {
    out.push(wf);
    if (out.length >= limit) break;
  }
  return out;
}

/** Where a live run is now; undefined if it cannot say within a second (the worker is busy or gone). */
export async function currentStep(client: Client, workflowId: string): Promise<string | undefined> {
  const timeout = new Promise<undefined>((r) => setTimeout(() => r(undefined), 1000).unref());
  const state = client.workflow.getHandle(workflowId).query<RunState>('trace').catch(() => undefined);
  return (await Promise.race([state, timeout]))?.currentStep;
}

async function history(client: Client, workflowId: string, runId?: string): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  let nextPageToken: Uint8Array | undefined;
  do {
    const res = await client.workflowService.getWorkflowExecutionHistory({
      namespace: client.options.namespace,
      execution: { workflowId, runId },
      nextPageToken,
    });
    events.push(...(res.history?.events ?? []));
    nextPageToken = res.nextPageToken?.length ? res.nextPageToken : undefined;
  } while (nextPageToken);
  return events;
}

/** One step of the run as Temporal recorded it: a (remote) activity or a local one. */
interface RecordedStep {
  type: string;
  local: boolean;
  /** the event a reset must go back before: ActivityTaskScheduled, or the local activity's marker */
  eventId: number;
  failed: boolean;
  input?: unknown;
  result?: unknown;
  failure?: string;
  attempts?: number;
}

function recordedSteps(events: HistoryEvent[]): RecordedStep[] {
  const byScheduled = new Map<number, RecordedStep>();
  const steps: RecordedStep[] = [];
  for (const e of events) {
    const id = Number(e.eventId);
    switch (e.eventType) {
      case EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED: {
        const a = e.activityTaskScheduledEventAttributes!;
        const step: RecordedStep = { type: a.activityType?.name ?? '?', local: false, eventId: id, failed: false, input: decode(a.input?.payloads?.[0]) };
        byScheduled.set(id, step);
        steps.push(step);
        break;
      }
      case EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED: {
        const a = e.activityTaskStartedEventAttributes!;
        const step = byScheduled.get(Number(a.scheduledEventId));
        if (step) step.attempts = a.attempt ?? 1;
        break;
      }
      case EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED: {
        const a = e.activityTaskCompletedEventAttributes!;
        const step = byScheduled.get(Number(a.scheduledEventId));
        if (step) step.result = decode(a.result?.payloads?.[0]);
        break;
      }
      case EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED:
      case EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
      case EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED: {
        const a = e.activityTaskFailedEventAttributes ?? e.activityTaskTimedOutEventAttributes ?? e.activityTaskCanceledEventAttributes;
        const step = byScheduled.get(Number(a?.scheduledEventId));
        if (step) {
          step.failed = true;
          step.failure = failureText(e);
        }
        break;
      }
      case EventType.EVENT_TYPE_MARKER_RECORDED: {
        const a = e.markerRecordedEventAttributes!;
        if (a.markerName !== 'core_local_activity') break;
        const meta = decode(a.details?.data?.payloads?.[0]) as { activity_type?: string; attempt?: number } | undefined;
        steps.push({
          type: meta?.activity_type ?? '?',
          local: true,
          eventId: id,
          failed: !!a.failure,
          result: decode(a.details?.result?.payloads?.[0]),
          failure: a.failure?.message ?? undefined,
          attempts: meta?.attempt,
        });
        break;
      }
    }
  }
  return steps;
}

function failureText(e: HistoryEvent): string {
  const f = e.activityTaskFailedEventAttributes?.failure ?? e.activityTaskTimedOutEventAttributes?.failure ?? e.activityTaskCanceledEventAttributes?.details;
  if (e.activityTaskTimedOutEventAttributes) return `timed out${f && 'message' in f && f.message ? `: ${f.message}` : ''}`;
  const failure = f as temporal.api.failure.v1.IFailure | undefined;
  const type = failure?.applicationFailureInfo?.type;
  return `${type ? `${type}: ` : ''}${failure?.message ?? 'failed'}`;
}

/**
 * Where a retry resumes: the step that ended the run (walking back over failed attempts of the same
 * step just before it, e.g. a model and its fallbacks), reset to the last completed workflow task
 * before it was scheduled. Everything before that point stays recorded and is not run again; a run
 * that ended without a failed step (terminated, timed out) resumes after its last completed task.
 */
export function resetPoint(events: HistoryEvent[]): { eventId: number; task: HistoryEvent['eventId']; failedStep?: string } | undefined {
  const steps = recordedSteps(events);
  let i = steps.findLastIndex((s) => s.failed);
  while (i > 0 && steps[i - 1]!.failed && steps[i - 1]!.type === steps[i]!.type) i--;
  const before = i >= 0 ? steps[i]!.eventId : Number.POSITIVE_INFINITY;
  const task = events.findLast((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED && Number(e.eventId) < before);
  return task ? { eventId: Number(task.eventId), task: task.eventId, failedStep: i >= 0 ? steps[i]!.type : undefined } : undefined;
}

/** Long strings (prompts, retrieved context) are cut for the view. */
function clip(value: unknown, max = 8000): unknown {
  if (typeof value === 'string') return value.length > max ? `${value.slice(0, max)}… (+${value.length - max} characters)` : value;
  if (Array.isArray(value)) return value.map((v) => clip(v, max));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, clip(v, max)]));
  return value;
}

/** Trace steps that are remote activities get what Temporal recorded: the full input (e.g. the model's prompt), attempts. */
function withActivities(trace: TraceStep[], steps: RecordedStep[]) {
  const queue = steps.filter((s) => !s.local && !(s.type === 'reply' && String((s.input as { idempotencyKey?: string })?.idempotencyKey).endsWith('#queued')));
  return trace.map((t) => {
    const i = queue.findIndex((s) => s.type === t.step);
    if (i < 0) return t;
    const [s] = queue.splice(i, 1);
    return { ...t, activity: { input: clip(s!.input), attempts: s!.attempts, ...(s!.failure && { failure: s!.failure }) } };
  });
}

export function temporalUiLink(base: string | undefined, namespace: string, workflowId: string, runId?: string): string | null {
  const root = process.env.IMFLOW_TEMPORAL_UI_URL || base;
  if (!root) return null;
  return `${root.replace(/\/+$/, '')}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}${runId ? `/${runId}/history` : ''}`;
}

// ---------------------------------------------------------------------------------------------
// The router.

const noQuotes = z.string().min(1).max(256).regex(/^[^'"\\]+$/, 'no quotes or backslashes');
const searchQuery = z.object({
  channel: noQuotes.optional(),
  sender: noQuotes.optional(),
  conversation: z.string().max(256).optional(),
  text: z.string().max(200).optional(),
  status: z.enum(['running', 'replied', 'ignored', 'failed']).optional(),
  pipeline: z.string().max(64).optional(),
  model: z.string().max(200).optional(),
  from: z.coerce.date().optional(),
  to: z.coerce.date().optional(),
  page: z.coerce.number().int().min(1).default(1),
  pageSize: z.coerce.number().int().min(1).max(200).default(50),
});
const statsQuery = z.object({ minutes: z.coerce.number().int().min(5).max(7 * 1440).default(60) });
const workflowIdParam = (id: string) => {
  if (!/^msg:.{1,900}$/.test(id)) throw new HttpError(400, 'workflowId must look like msg:<channelId>:<platformMessageId>');
  return id;
};

export interface RunSummary {
  workflowId: string;
  channelId: string;
  conversationId: string;
  senderId: string;
  text: string;
  status: RunStatus;
  currentStep?: string;
  replyText: string | null;
  model: string | null;
  pipelineId: string | null;
  dryRun: boolean;
  receivedAt: Date;
  durationMs: number | null;
}

const SUMMARY_TEXT = 300;
const short = (s: string | null) => (s && s.length > SUMMARY_TEXT ? `${s.slice(0, SUMMARY_TEXT)}…` : s);
const likeEscape = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

export function runsRouter(deps: { client: Client; db: Db; temporalUiUrl?: string }): Router {
  const router = Router();
  const namespace = deps.client.options.namespace;
  const role = (res: Response) => principalOf(res)!.role;

  /** Runs in flight matching the search, with their message and where they are; on the first page only. */
  async function searchRunning(q: z.infer<typeof searchQuery>): Promise<RunSummary[]> {
    if (q.status && q.status !== 'running') return [];
    if (q.page !== 1) return [];
    const live = await runningRuns(deps.client, { channelId: q.channel, senderId: q.sender, from: q.from, to: q.to }, 50);
    const rows = await Promise.all(
      live.map(async (wf): Promise<RunSummary | undefined> => {
        const [m, step] = await Promise.all([runMessage(deps.client, wf.workflowId, wf.runId).catch(() => undefined), currentStep(deps.client, wf.workflowId)]);
        if (!m) return undefined;
        if (q.text && !m.text.toLowerCase().includes(q.text.toLowerCase())) return undefined;
        if (q.conversation && m.conversationId !== q.conversation) return undefined;
        if (q.pipeline && m.pipelineId !== q.pipeline) return undefined;
        if (q.model) return undefined; // not known until the run has called one
        return {
          workflowId: wf.workflowId, channelId: m.channelId, conversationId: m.conversationId, senderId: m.senderId, text: short(m.text)!,
          status: 'running', currentStep: step, replyText: null, model: null, pipelineId: m.pipelineId ?? null, dryRun: !!m.dryRun,
          receivedAt: new Date(m.receivedAt), durationMs: null,
        };
      }),
    );
    return rows.filter((r) => r !== undefined);
  }

  async function searchFinished(q: z.infer<typeof searchQuery>): Promise<{ rows: RunSummary[]; total: number }> {
    if (q.status === 'running') return { rows: [], total: 0 };
    const params: unknown[] = [];
    const parts: string[] = [];
    const add = (sql: string, v: unknown) => {
      params.push(v);
      parts.push(sql.replaceAll('?', `$${params.length}`));
    };
    if (q.channel) add('channel_id = ?', q.channel);
    if (q.sender) add('sender_id = ?', q.sender);
    if (q.conversation) add('conversation_id = ?', q.conversation);
    if (q.text) add('(text ILIKE ? OR reply_text ILIKE ?)', `%${likeEscape(q.text)}%`);
    if (q.status) add('status = ?', q.status);
    if (q.pipeline) add('pipeline_id = ?', q.pipeline);
    if (q.model) add('model = ?', q.model);
    if (q.from) add('received_at >= ?', q.from);
    if (q.to) add('received_at < ?', q.to);
    const where = parts.length ? `WHERE ${parts.join(' AND ')}` : '';
    const [rows, total] = await Promise.all([
      deps.db.query(
        `SELECT workflow_id, channel_id, conversation_id, sender_id, left(text, ${SUMMARY_TEXT + 1}) AS text, status,
                left(reply_text, ${SUMMARY_TEXT + 1}) AS reply_text, model, pipeline_id, dry_run, received_at, duration_ms
           FROM runs ${where} ORDER BY received_at DESC LIMIT ${q.pageSize} OFFSET ${(q.page - 1) * q.pageSize}`,
        params,
      ),
      deps.db.query<{ n: string }>(`SELECT count(*) AS n FROM runs ${where}`, params),
    ]);
    return {
      total: Number(total.rows[0]!.n),
      rows: rows.rows.map((r) => ({
        workflowId: r.workflow_id, channelId: r.channel_id, conversationId: r.conversation_id, senderId: r.sender_id, text: short(r.text)!,
        status: r.status, replyText: short(r.reply_text), model: r.model, pipelineId: r.pipeline_id, dryRun: r.dry_run,
        receivedAt: r.received_at, durationMs: r.duration_ms,
      })),
    };
  }

  router.get('/runs', async (req, res) => {
    const q = validated(searchQuery, req.query, 'query');
    const [running, finished] = await Promise.all([searchRunning(q), searchFinished(q)]);
    res.json(maskFor(role(res), { runs: [...running, ...finished.rows], total: finished.total + running.length, running: running.length, page: q.page, pageSize: q.pageSize }));
  });

  router.get('/runs/stats', async (req, res) => {
    const { minutes } = validated(statsQuery, req.query, 'query');
    res.json(maskFor(role(res), await runStats(deps, minutes)));
  });

  router.get('/runs/:workflowId', async (req, res) => {
    const id = workflowIdParam(req.params.workflowId!);
    const run = await readRun(deps.client, deps.db, id);
    if (!run) throw new HttpError(404, `no run ${id}`);

    const [row, raw, calls, audit, temporalView] = await Promise.all([
      deps.db.query('SELECT channel_id, conversation_id, sender_id, message_id, text, pipeline_id, dry_run, received_at, finished_at, duration_ms FROM runs WHERE workflow_id = $1', [id]),
      deps.db.query('SELECT received_at, headers, body, truncated FROM run_requests WHERE workflow_id = $1', [id]),
      deps.db.query(
        `SELECT at, model, attempt, outcome, error_type, error_message, prompt_tokens, completion_tokens, latency_ms, first_token_ms, streamed
           FROM model_calls WHERE workflow_id = $1 ORDER BY at, id`,
        [id],
      ),
      deps.db.query('SELECT id, at, actor, action, subject, detail, hash FROM audit_log WHERE subject = $1 ORDER BY id', [id]),
      temporalDetail(id),
    ]);
    const r = row.rows[0];
    const message = r
      ? { channelId: r.channel_id, conversationId: r.conversation_id, senderId: r.sender_id, platformMessageId: r.message_id, text: r.text, pipelineId: r.pipeline_id, dryRun: r.dry_run, receivedAt: r.received_at }
      : temporalView.message && { ...temporalView.message, receivedAt: new Date(temporalView.message.receivedAt), replyTarget: undefined };
    res.json(
      maskFor(role(res), {
        ...run,
        trace: withActivities(run.trace, temporalView.steps),
        message: message ?? null,
        finishedAt: r?.finished_at ?? null,
        durationMs: r?.duration_ms ?? null,
        rawRequest: raw.rows[0] ?? null,
        modelCalls: calls.rows,
        audit: audit.rows.map((a) => ({ ...a, id: Number(a.id) })),
        temporal: temporalView.info,
        retry: temporalView.retry,
      }),
    );
  });

  /** Describe and history of the latest run of a workflow id; nothing if Temporal no longer has it. */
  async function temporalDetail(workflowId: string) {
    const handle = deps.client.workflow.getHandle(workflowId);
    try {
      const desc = await handle.describe();
      const events = await history(deps.client, workflowId, desc.runId);
      const point = resetPoint(events);
      const retryable = ['FAILED', 'TERMINATED', 'TIMED_OUT', 'CANCELLED'].includes(desc.status.name);
      const started = events[0]?.workflowExecutionStartedEventAttributes;
      return {
        info: {
          namespace,
          runId: desc.runId,
          status: desc.status.name,
          startTime: desc.startTime,
          closeTime: desc.closeTime ?? null,
          historyLength: desc.historyLength,
          url: temporalUiLink(deps.temporalUiUrl, namespace, workflowId, desc.runId),
        },
        message: (decode(started?.input?.payloads?.[0]) as MessageInput | undefined)?.message,
        steps: recordedSteps(events),
        retry: retryable && point ? { possible: true, from: point.failedStep ?? 'last completed step' } : { possible: false, reason: retryable ? 'nothing recorded to resume from' : `the run is ${desc.status.name.toLowerCase()}` },
      };
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
      return {
        info: { namespace, runId: null, status: 'NOT_FOUND', url: temporalUiLink(deps.temporalUiUrl, namespace, workflowId) },
        message: undefined,
        steps: [],
        retry: { possible: false, reason: 'Temporal no longer keeps this run (retention)' },
      };
    }
  }

  /**
   * Resumes a failed run from the step that failed: Temporal resets the workflow to just before that
   * step, so steps recorded before it (a model answer, a tool call) are replayed from history, not run
   * again; the reply step is idempotent by run id, so a run that had replied never replies twice.
   */
  router.post('/runs/:workflowId/retry', async (req, res) => {
    const id = workflowIdParam(req.params.workflowId!);
    const handle = deps.client.workflow.getHandle(id);
    let desc;
    try {
      desc = await handle.describe();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new HttpError(404, `no run ${id} in Temporal (it may be past retention)`);
      throw err;
    }
    if (desc.type !== 'message') throw new HttpError(400, `${id} is not a message run`);
    if (!['FAILED', 'TERMINATED', 'TIMED_OUT', 'CANCELLED'].includes(desc.status.name)) {
      throw new HttpError(409, `only a failed run can be retried; this one is ${desc.status.name.toLowerCase()}`);
    }
    const point = resetPoint(await history(deps.client, id, desc.runId));
    if (!point) throw new HttpError(409, 'the run recorded nothing to resume from');
    const actor = actorName(principalOf(res)!);

    // The run's row is written when it ends: drop the failed one so the resumed run writes its own.
    const { runId } = await inTransaction(deps.db, async (c) => {
      await c.query('DELETE FROM runs WHERE workflow_id = $1', [id]);
      const reset = await deps.client.workflowService.resetWorkflowExecution({
        namespace,
        workflowExecution: { workflowId: id, runId: desc.runId },
        workflowTaskFinishEventId: point.task,
        reason: `retry from ${point.failedStep ?? 'the last completed step'} by ${actor}`,
        requestId: crypto.randomUUID(),
      });
      return { runId: reset.runId };
    });
    await appendAudit(deps.db, {
      actor,
      action: 'run.retry',
      subject: id,
      detail: { from: point.failedStep ?? null, resetEventId: point.eventId, failedRunId: desc.runId, newRunId: runId },
    });
    res.status(202).json({ workflowId: id, runId, from: point.failedStep ?? null, resetEventId: point.eventId });
  });

  return router;
}

// ---------------------------------------------------------------------------------------------
// Dashboard figures.

async function runStats(deps: { client: Client; db: Db }, minutes: number) {
  const since = new Date(Date.now() - minutes * 60_000);
  const [perMinute, byChannel, byModel, conversations] = await Promise.all([
    deps.db.query(
      `SELECT date_trunc('minute', received_at) AS minute, channel_id, count(*)::int AS messages,
              count(*) FILTER (WHERE status = 'failed')::int AS failed
         FROM runs WHERE received_at >= $1 GROUP BY 1, 2 ORDER BY 1`,
      [since],
    ),
    deps.db.query(
      `SELECT channel_id, count(*)::int AS messages,
              count(*) FILTER (WHERE status = 'failed')::int AS failed,
              count(*) FILTER (WHERE status = 'ignored')::int AS ignored,
              percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms) FILTER (WHERE status = 'replied') AS p50,
              percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) FILTER (WHERE status = 'replied') AS p95
         FROM runs WHERE received_at >= $1 GROUP BY 1 ORDER BY 2 DESC`,
      [since],
    ),
    deps.db.query(
      `SELECT model, count(*)::int AS calls,
              count(*) FILTER (WHERE outcome IN ('error', 'timeout', 'empty'))::int AS errors,
              percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms) FILTER (WHERE outcome = 'ok') AS p50,
              percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) FILTER (WHERE outcome = 'ok') AS p95
         FROM model_calls WHERE at >= $1 GROUP BY 1 ORDER BY 2 DESC`,
      [since],
    ),
    liveConversations(deps),
  ]);
  const rate = (bad: number, all: number) => (all ? bad / all : null);
  const num = (v: unknown) => (v === null || v === undefined ? null : Math.round(Number(v)));
  return {
    minutes,
    perMinute: perMinute.rows.map((r) => ({ minute: r.minute, channelId: r.channel_id, messages: r.messages, failed: r.failed })),
    byChannel: byChannel.rows.map((r) => ({
      channelId: r.channel_id, messages: r.messages, failed: r.failed, ignored: r.ignored,
      errorRate: rate(r.failed, r.messages - r.ignored), p50Ms: num(r.p50), p95Ms: num(r.p95),
    })),
    byModel: byModel.rows.map((r) => ({ model: r.model, calls: r.calls, errors: r.errors, errorRate: rate(r.errors, r.calls), p50Ms: num(r.p50), p95Ms: num(r.p95) })),
    conversations,
  };
}

/** Open conversation workflows (a conversation closes after 30 idle minutes) with their latest message. */
async function liveConversations(deps: { client: Client; db: Db }) {
  const open: { channelId: string; conversationId: string; since: Date }[] = [];
  for await (const wf of deps.client.workflow.list({ query: `WorkflowType = 'conversation' AND ExecutionStatus = 'Running'`, pageSize: 100 })) {
    const attrs = wf.searchAttributes as Record<string, unknown[] | undefined>;
    const channelId = String(attrs.ChannelId?.[0] ?? '');
    const conversationId = String(attrs.ConversationId?.[0] ?? '');
    if (channelId) open.push({ channelId, conversationId, since: wf.startTime });
    if (open.length >= 100) break;
  }
  if (!open.length) return [];
  const { rows } = await deps.db.query(
    `SELECT DISTINCT ON (channel_id, conversation_id) channel_id, conversation_id, sender_id, left(text, 200) AS text, status, received_at,
            count(*) OVER (PARTITION BY channel_id, conversation_id)::int AS messages
       FROM runs WHERE (channel_id, conversation_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))
      ORDER BY channel_id, conversation_id, received_at DESC`,
    [open.map((o) => o.channelId), open.map((o) => o.conversationId)],
  );
  const last = new Map(rows.map((r) => [`${r.channel_id}\u0000${r.conversation_id}`, r]));
  return open
    .map((o) => {
      const r = last.get(`${o.channelId}\u0000${o.conversationId}`);
      return {
        channelId: o.channelId,
        conversationId: o.conversationId,
        since: o.since,
        messages: r?.messages ?? 0,
        last: r ? { senderId: r.sender_id, text: r.text, status: r.status, at: r.received_at } : null,
      };
    })
    .sort((a, b) => new Date(b.last?.at ?? b.since).getTime() - new Date(a.last?.at ?? a.since).getTime());
}
