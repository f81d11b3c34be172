import crypto from 'node:crypto';
import os from 'node:os';
import type { BreakerSettings } from './config.js';
import type { KeyValueStore } from './kv.js';
import { logger } from './logger.js';
import { modelBreakerRejected, modelBreakerState, modelBreakerTransitions } from './metrics.js';

// A circuit breaker per model, its state in the KV store so every worker sees and decides the same thing.
//
// Keys (under imflow:breaker:<model>@<server>):
//   state                    {s: closed|open, gen, since, until?, reason?}; absent means closed, never tripped
//   <gen>:<bucket>:<c|e|t>   calls / model errors / timeouts per time bucket, counted per generation
//   exit:<gen>               SET NX: the one transition out of generation <gen> (its value is the next state)
//   probe:<gen>              SET NX: the one probe call of an open breaker past its open time
//   half-open:<gen>          SET NX: announce open → half-open once, whoever probes
// Every transition starts a new generation, so closing the breaker resets its window without deleting
// anything, and a worker holding a stale view (a permit from an older generation) can never move it:
// the exit of that generation is taken already.

export type BreakerState = 'closed' | 'half-open' | 'open';

/** What one finished call says about the model's health. */
export type Verdict = 'success' | 'error' | 'timeout' | 'neutral';

/**
 * Only failures that are the model server's fault count (call-model.ts names them). A 4xx is our request's
 * fault, a 429 is the server asking us to slow down (Retry-After handles it), a cancel is nobody's: neutral.
 */
const MODEL_FAULTS: Record<string, Verdict> = {
  ModelUnavailable: 'error', // 5xx, connection refused or reset
  EmptyAnswer: 'error',
  ModelTimeout: 'timeout',
  FirstTokenTimeout: 'timeout',
};

export const verdictOf = (errorType: string | undefined): Verdict => (errorType && MODEL_FAULTS[errorType]) || 'neutral';

export interface BreakerTransition {
  /** unique per state change: alert deliveries are keyed by it */
  id: string;
  model: string;
  from: BreakerState;
  to: BreakerState;
  reason: string;
  /** ms since epoch */
  at: number;
}

/** Leave to call the model; hand it back to record(). */
export interface Permit {
  model: string;
  key: string;
  gen: string;
  /** the single call that tests an open breaker past its open time */
  probe: boolean;
  /** how long the call may take: transitions from its generation stay guarded at least that long */
  callTimeoutMs: number;
}

export type Admission =
  /** no permit: the store is unreachable, so nothing is counted and nothing blocked */
  | { allowed: true; permit?: Permit }
  | { allowed: false; state: 'open' | 'half-open'; since: number; reason: string };

export interface BreakerStatus {
  state: BreakerState;
  /** ISO time of the last state change; null for a breaker that never tripped */
  since: string | null;
  reason: string | null;
  windowCalls: number;
  windowErrors: number;
  windowTimeouts: number;
}

interface StoredState {
  s: 'closed' | 'open';
  gen: string;
  since?: number;
  /** open: when one probe may go through */
  until?: number;
  reason?: string;
}

const PREFIX = 'imflow:breaker:';
const BUCKETS = 6;
/** a guard outlives the slowest call of its generation by this much (a stale permit cannot win it) */
const GUARD_MARGIN_MS = 60_000;
const DAY_MS = 24 * 60 * 60_000;
/** a breaker untouched for this long is forgotten (closed); any traffic rewrites it on its next change */
const STATE_TTL_MS = 7 * DAY_MS;
const LEVEL: Record<BreakerState, number> = { closed: 0, 'half-open': 1, open: 2 };
const CLOSED: StoredState = { s: 'closed', gen: '0' };

/**
 * The breaker's identity: the model ref and the server behind it, so pointing a provider at another
 * server starts from a fresh breaker (the old state described the old server). The URL is hashed:
 * it may carry credentials.
 */
export function breakerKey(model: string, server: string): string {
  return `${PREFIX}${model}@${crypto.createHash('sha256').update(server).digest('hex').slice(0, 12)}`;
}

const holder = `${os.hostname()}:${process.pid}`;

export interface BreakerOptions {
  kv: KeyValueStore;
  settings: () => Promise<BreakerSettings>;
  /** decided once across workers; called by the process that decided it */
  onTransition?: (t: BreakerTransition) => void;
  /** injectable clock (ms) for tests */
  now?: () => number;
}

export class CircuitBreaker {
  private storeDown = false;
  private readonly now: () => number;

  constructor(private readonly o: BreakerOptions) {
    this.now = o.now ?? Date.now;
  }

  /**
   * May `model` be called now? Closed: yes. Open: no, until its open time has passed; then exactly one
   * caller across all workers gets the probe permit (held for the call's timeout, so a probe that died
   * frees it) and everyone else is still turned away. A store that cannot answer lets every call through.
   */
  async admit(model: string, server: string, callTimeoutMs: number): Promise<Admission> {
    const key = breakerKey(model, server);
    try {
      const st = await this.read(key);
      const now = this.now();
      const permit = (probe: boolean): Admission => ({ allowed: true, permit: { model, key, gen: st.gen, probe, callTimeoutMs } });
      if (st.s === 'closed') {
        this.storeOk(model, 'closed');
        return permit(false);
      }
      const reason = st.reason ?? 'open';
      if (now < st.until!) return this.reject(model, 'open', st.since ?? now, reason);
      if (!(await this.o.kv.setIfAbsent(`${key}:probe:${st.gen}`, holder, callTimeoutMs))) {
        return this.reject(model, 'half-open', st.until!, reason);
      }
      this.storeOk(model, 'half-open');
      if (await this.o.kv.setIfAbsent(`${key}:half-open:${st.gen}`, holder, DAY_MS)) {
        this.announce({ id: `${model}#${st.gen}:half-open`, model, from: 'open', to: 'half-open', reason: 'open time over: one probe call goes through', at: now });
      }
      return permit(true);
    } catch (err) {
      this.storeFailed(err);
      return { allowed: true };
    }
  }

  /** Counts a finished call (a probe's result decides the breaker). Never throws: the call's outcome stands. */
  async record(permit: Permit | undefined, verdict: Verdict, detail?: string): Promise<void> {
    if (!permit) return;
    try {
      if (permit.probe) await this.settleProbe(permit, verdict, detail);
      else if (verdict !== 'neutral') await this.count(permit, verdict);
      this.storeOk();
    } catch (err) {
      this.storeFailed(err);
    }
  }

  /** The state and the current window's counts, for /api/models/health. Throws when the store is away. */
  async status(model: string, server: string): Promise<BreakerStatus> {
    const key = breakerKey(model, server);
    const [st, settings] = await Promise.all([this.read(key), this.o.settings()]);
    const now = this.now();
    const w = await this.window(key, st.gen, settings, now);
    const state: BreakerState = st.s === 'open' ? (now < st.until! ? 'open' : 'half-open') : 'closed';
    modelBreakerState.set({ model }, LEVEL[state]);
    const since = state === 'half-open' ? st.until : st.since;
    return {
      state,
      since: since === undefined ? null : new Date(since).toISOString(),
      reason: st.reason ?? null,
      windowCalls: w.calls,
      windowErrors: w.errors,
      windowTimeouts: w.timeouts,
    };
  }

  private async count(permit: Permit, verdict: Exclude<Verdict, 'neutral'>): Promise<void> {
    const settings = await this.o.settings();
    const now = this.now();
    const { bucketMs, windowMs } = geometry(settings);
    const bucket = Math.floor(now / bucketMs);
    const kinds = verdict === 'success' ? ['c'] : verdict === 'error' ? ['c', 'e'] : ['c', 'e', 't'];
    await Promise.all(kinds.map((k) => this.o.kv.incr(`${permit.key}:${permit.gen}:${bucket}:${k}`, 1, windowMs + bucketMs)));
    if (verdict === 'success') return; // a success never trips it
    const w = await this.window(permit.key, permit.gen, settings, now);
    const reason = tripReason(w, settings);
    if (reason) await this.transition(permit, 'closed', { s: 'open', since: now, until: now + settings.openSeconds * 1000, reason });
  }

  private async settleProbe(permit: Permit, verdict: Verdict, detail: string | undefined): Promise<void> {
    // a 4xx, 429 or cancel says nothing about the model's health: free the probe for the next caller
    if (verdict === 'neutral') return this.o.kv.del(`${permit.key}:probe:${permit.gen}`);
    const now = this.now();
    if (verdict === 'success') return this.transition(permit, 'half-open', { s: 'closed', since: now, reason: 'probe call succeeded' });
    const { openSeconds } = await this.o.settings();
    await this.transition(permit, 'half-open', {
      s: 'open',
      since: now,
      until: now + openSeconds * 1000,
      reason: `probe call failed (${detail ?? verdict}): open for another ${openSeconds} s`,
    });
  }

  /** Leaves the permit's generation, unless some worker already did: only the winner writes and announces. */
  private async transition(permit: Permit, from: BreakerState, next: Omit<StoredState, 'gen'>): Promise<void> {
    const at = next.since!;
    const state: StoredState = { ...next, gen: `${at.toString(36)}${crypto.randomBytes(4).toString('hex')}` };
    const json = JSON.stringify(state);
    if (!(await this.o.kv.setIfAbsent(`${permit.key}:exit:${permit.gen}`, json, permit.callTimeoutMs + GUARD_MARGIN_MS))) return;
    await this.o.kv.set(`${permit.key}:state`, json, STATE_TTL_MS);
    this.announce({ id: `${permit.model}#${state.gen}`, model: permit.model, from, to: state.s, reason: next.reason ?? '', at });
  }

  private announce(t: BreakerTransition): void {
    modelBreakerTransitions.inc({ model: t.model, from: t.from, to: t.to });
    modelBreakerState.set({ model: t.model }, LEVEL[t.to]);
    logger[t.to === 'open' ? 'warn' : 'info']({ model: t.model, from: t.from, to: t.to, reason: t.reason }, 'model circuit breaker state change');
    try {
      this.o.onTransition?.(t);
    } catch (err) {
      logger.warn({ err: (err as Error).message, model: t.model }, 'breaker transition listener failed');
    }
  }

  private reject(model: string, state: 'open' | 'half-open', since: number, reason: string): Admission {
    this.storeOk(model, state);
    modelBreakerRejected.inc({ model });
    return { allowed: false, state, since, reason };
  }

  private async read(key: string): Promise<StoredState> {
    const raw = await this.o.kv.get(`${key}:state`);
    return raw ? (JSON.parse(raw) as StoredState) : CLOSED;
  }

  private async window(key: string, gen: string, settings: BreakerSettings, now: number) {
    const { bucketMs } = geometry(settings);
    const last = Math.floor(now / bucketMs);
    const buckets = Array.from({ length: BUCKETS }, (_, i) => last - i);
    const values = await this.o.kv.getMany(buckets.flatMap((b) => ['c', 'e', 't'].map((k) => `${key}:${gen}:${b}:${k}`)));
    const sum = (offset: number) => values.reduce((n, v, i) => (i % 3 === offset ? n + Number(v ?? 0) : n), 0);
    return { calls: sum(0), errors: sum(1), timeouts: sum(2) };
  }

  private storeOk(model?: string, state?: BreakerState): void {
    if (model && state) modelBreakerState.set({ model }, LEVEL[state]);
    if (!this.storeDown) return;
    this.storeDown = false;
    logger.info('circuit breaker store reachable again: breakers enforced');
  }

  /** Redis away must never stop answers: the breaker lets everything through, and says so once. */
  private storeFailed(err: unknown): void {
    if (this.storeDown) return;
    this.storeDown = true;
    logger.warn({ err: (err as Error).message }, 'circuit breaker store unavailable: model calls are not guarded until it is back');
  }
}

/** The window is BUCKETS buckets of windowSeconds / BUCKETS: it covers the last 5/6 to 6/6 of windowSeconds. */
function geometry(s: BreakerSettings) {
  const windowMs = s.windowSeconds * 1000;
  return { windowMs, bucketMs: Math.ceil(windowMs / BUCKETS) };
}

function tripReason(w: { calls: number; errors: number; timeouts: number }, s: BreakerSettings): string | undefined {
  if (w.timeouts >= s.timeouts) return `${w.timeouts} calls timed out within ${s.windowSeconds} s (limit ${s.timeouts})`;
  if (w.calls >= s.minCalls && w.errors / w.calls > s.errorRate) {
    const pct = (x: number) => `${Number((x * 100).toFixed(1))}%`;
    return `${w.errors} of ${w.calls} calls failed within ${s.windowSeconds} s (${pct(w.errors / w.calls)} > ${pct(s.errorRate)})`;
  }
  return undefined;
}
