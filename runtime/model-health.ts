import { z } from 'zod';
import { recentAlerts } from './alerts.js';
import { CircuitBreaker, type BreakerStatus } from './breaker.js';
import type { Catalog } from './catalog.js';
import type { ProviderConfig } from './config.js';
import type { Db } from './db.js';
import type { KeyValueStore } from './kv.js';

export interface ModelHealth {
  requests: number;
  /** failed attempts (error, timeout, empty answer); a cancelled call is not the model's fault */
  errors: number;
  errorRate: number | null;
  /** of successful calls */
  latencyMs: { p50: number | null; p95: number | null };
  firstTokenMs: { p50: number | null };
  /** completion tokens per second of generation (after the first token) */
  tokensPerSecond: number | null;
  lastError: { at: Date; type: string | null; message: string | null } | null;
  /** shared by all workers; 'unknown' while its store is unreachable (calls then go through unguarded) */
  breaker: BreakerStatus | UnknownBreaker;
}

interface UnknownBreaker {
  state: 'unknown';
  since: null;
  reason: string;
  windowCalls: null;
  windowErrors: null;
  windowTimeouts: null;
}

export interface LoadedModel {
  name: string;
  sizeBytes: number;
  vramBytes: number;
  expiresAt?: string;
  contextLength?: number;
}

/** What a provider's server tells about itself; only Ollama does (GET /api/ps). */
export type ProviderRuntime =
  | { available: true; server: 'ollama'; vramBytes: number; loaded: LoadedModel[] }
  | { available: false; reason: string };

const PROBE_TIMEOUT_MS = 2000;

/**
 * GET /api/models/health: per configured model, figures over the last `minutes` from model_calls (one
 * row per attempt) and its circuit breaker as it stands; per provider, what its server exposes; the
 * latest admin alerts. A slow or absent server never fails it.
 */
export async function modelHealth(deps: { db: Db; catalog: Catalog; kv: KeyValueStore }, minutes: number) {
  const providers = await deps.catalog.listProviders();
  const breaker = new CircuitBreaker({ kv: deps.kv, settings: () => deps.catalog.breakerSettings() });
  const refs = Object.entries(providers).flatMap(([id, p]) => p.models.map((m) => ({ ref: `${id}/${m.id}`, server: p.baseUrl })));
  const [stats, runtime, breakers, alerts] = await Promise.all([
    callStats(deps.db, minutes),
    Promise.all(Object.entries(providers).map(async ([id, p]) => [id, await probeOllama(p)] as const)),
    Promise.all(refs.map(({ ref, server }) => breaker.status(ref, server).catch((err: Error) => unknownBreaker(err)))),
    recentAlerts(deps.db),
  ]);
  const models: Record<string, ModelHealth> = {};
  refs.forEach(({ ref }, i) => {
    const calls = stats.get(ref) ?? {
      requests: 0, errors: 0, errorRate: null, latencyMs: { p50: null, p95: null }, firstTokenMs: { p50: null }, tokensPerSecond: null, lastError: null,
    };
    models[ref] = { ...calls, breaker: breakers[i]! };
  });
  return { windowMinutes: minutes, models, providers: Object.fromEntries(runtime), alerts };
}

const unknownBreaker = (err: Error): UnknownBreaker => ({
  state: 'unknown',
  since: null,
  reason: `breaker store unavailable (${err.message}): calls are not guarded`,
  windowCalls: null,
  windowErrors: null,
  windowTimeouts: null,
});

// percentile_cont ignores nulls, so time to first token counts only calls that got one.
const STATS_SQL = `
  WITH w AS (SELECT * FROM model_calls WHERE at > now() - $1::int * interval '1 minute'),
  s AS (
    SELECT model,
      count(*)::int AS requests,
      count(*) FILTER (WHERE outcome NOT IN ('ok', 'cancelled'))::int AS errors,
      percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms) FILTER (WHERE outcome = 'ok') AS latency_p50,
      percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) FILTER (WHERE outcome = 'ok') AS latency_p95,
      percentile_cont(0.5) WITHIN GROUP (ORDER BY first_token_ms) AS first_token_p50,
      sum(completion_tokens) FILTER (WHERE outcome = 'ok') * 1000.0
        / NULLIF(sum(latency_ms - coalesce(first_token_ms, 0)) FILTER (WHERE outcome = 'ok' AND completion_tokens IS NOT NULL), 0) AS tokens_per_second
    FROM w GROUP BY model
  ),
  e AS (
    SELECT DISTINCT ON (model) model, at, error_type, error_message
    FROM w WHERE outcome NOT IN ('ok', 'cancelled') ORDER BY model, at DESC, id DESC
  )
  SELECT s.*, e.at AS error_at, e.error_type, e.error_message FROM s LEFT JOIN e USING (model)`;

async function callStats(db: Db, minutes: number): Promise<Map<string, Omit<ModelHealth, 'breaker'>>> {
  const { rows } = await db.query(STATS_SQL, [minutes]);
  const round = (v: unknown, digits = 0) => (v === null ? null : Number(Number(v).toFixed(digits)));
  return new Map(
    rows.map((r) => [
      r.model as string,
      {
        requests: r.requests,
        errors: r.errors,
        errorRate: r.requests ? round(r.errors / r.requests, 4) : null,
        latencyMs: { p50: round(r.latency_p50), p95: round(r.latency_p95) },
        firstTokenMs: { p50: round(r.first_token_p50) },
        tokensPerSecond: round(r.tokens_per_second, 1),
        lastError: r.error_at ? { at: r.error_at, type: r.error_type, message: r.error_message } : null,
      },
    ]),
  );
}

const psAnswer = z.object({
  models: z.array(
    z.object({
      name: z.string(),
      size: z.number(),
      size_vram: z.number(),
      expires_at: z.string().optional(),
      context_length: z.number().optional(),
    }),
  ),
});

/** Ollama's GET /api/ps (next to its /v1): the models loaded and the VRAM they hold. */
async function probeOllama(p: ProviderConfig): Promise<ProviderRuntime> {
  const url = `${p.baseUrl.replace(/\/+$/, '').replace(/\/v1$/, '')}/api/ps`;
  let body: unknown;
  try {
    const res = await fetch(url, {
      headers: p.apiKey ? { authorization: `Bearer ${p.apiKey}` } : {},
      signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
    });
    if (!res.ok) return { available: false, reason: `GET ${url} answered HTTP ${res.status}` };
    body = await res.json();
  } catch (err) {
    // fetch says only "fetch failed"; the cause says why (ECONNREFUSED, ENOTFOUND, …)
    const e = err as Error & { cause?: { code?: string; message?: string } };
    const why = e.name === 'TimeoutError' ? `no answer within ${PROBE_TIMEOUT_MS} ms` : (e.cause?.code ?? e.cause?.message ?? e.message);
    return { available: false, reason: `GET ${url}: ${why}` };
  }
  const ps = psAnswer.safeParse(body);
  if (!ps.success) return { available: false, reason: `GET ${url} did not answer like Ollama` };
  const loaded = ps.data.models.map((m) => ({
    name: m.name,
    sizeBytes: m.size,
    vramBytes: m.size_vram,
    expiresAt: m.expires_at,
    contextLength: m.context_length,
  }));
  return { available: true, server: 'ollama', vramBytes: loaded.reduce((n, m) => n + m.vramBytes, 0), loaded };
}
