// The fake model (test/fakes/model-server.ts, imported, not copied), timed at the server itself, and the
// baseline: the same fake called directly with the prompts imflow sent, at the same rate.
import diagnostics from 'node:diagnostics_channel';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { startFakeModelServer, type FakeModelServer } from '../test/fakes/model-server.js';
import { sleep, summary } from './stats.js';
import { tagIn } from './traffic.js';

/** Requests carrying this header are the baseline's own and are not counted as imflow's model time. */
const BASELINE_HEADER = 'x-bench-baseline';
/** Enough prompts to replay for any baseline; older ones are dropped (memory stays bounded). */
const MAX_KEPT_BODIES = 20_000;

export interface TimedModel {
  fake: FakeModelServer;
  baseURL: string;
  /** total time the fake spent answering imflow for each message tag (request arrival → response end), ms */
  modelMs: Map<string, number>;
  /** model requests per tag (more than one: a retry or a fallback) */
  calls: Map<string, number>;
  bodies: string[];
  close(): Promise<void>;
}

interface Pending {
  start: number;
  chunks: Buffer[];
}

/**
 * Times every chat request at the fake model server through Node's built-in HTTP diagnostics channels
 * (published by the server around its own request handler), so the figure is the model's time without
 * any extra hop in front of it. The body is read alongside the fake's own reader to find the message tag.
 */
export async function startTimedModel(o: { host: string; port: number; firstTokenDelayMs: number; chunkDelayMs: number }): Promise<TimedModel> {
  const fake = await startFakeModelServer({ host: o.host, port: o.port });
  const step = { firstTokenDelayMs: o.firstTokenDelayMs, chunkDelayMs: o.chunkDelayMs };
  fake.setDefault('*', step);
  const modelMs = new Map<string, number>();
  const calls = new Map<string, number>();
  const bodies: string[] = [];
  const pending = new WeakMap<IncomingMessage, Pending>();
  let recorded = 0;

  const onStart = (msg: unknown) => {
    const { request, socket } = msg as { request: IncomingMessage; socket: Socket };
    if (socket.localPort !== fake.port || request.method !== 'POST' || !request.url?.startsWith('/v1/chat/completions')) return;
    if (request.headers[BASELINE_HEADER]) return;
    const p: Pending = { start: performance.now(), chunks: [] };
    pending.set(request, p);
    request.on('data', (c: Buffer) => p.chunks.push(c));
  };
  const onFinish = (msg: unknown) => {
    const { request } = msg as { request: IncomingMessage; response: ServerResponse };
    const p = pending.get(request);
    if (!p) return;
    pending.delete(request);
    const ms = performance.now() - p.start;
    const raw = Buffer.concat(p.chunks).toString('utf8');
    let tag: string | undefined;
    try {
      const body = JSON.parse(raw) as { messages?: { role?: string; content?: unknown }[] };
      const lastUser = [...(body.messages ?? [])].reverse().find((m) => m.role === 'user');
      tag = typeof lastUser?.content === 'string' ? tagIn(lastUser.content) : undefined;
    } catch {
      return;
    }
    if (!tag) return;
    modelMs.set(tag, (modelMs.get(tag) ?? 0) + ms);
    calls.set(tag, (calls.get(tag) ?? 0) + 1);
    bodies.push(raw);
    if (bodies.length > MAX_KEPT_BODIES) bodies.shift();
    // the fake keeps every request it saw; drop them now and then so a long run does not grow without bound
    if (++recorded % 1000 === 0) {
      fake.requests.length = 0;
    }
  };
  diagnostics.subscribe('http.server.request.start', onStart);
  diagnostics.subscribe('http.server.response.finish', onFinish);

  return {
    fake,
    baseURL: fake.baseURL,
    modelMs,
    calls,
    bodies,
    async close() {
      diagnostics.unsubscribe('http.server.request.start', onStart);
      diagnostics.unsubscribe('http.server.response.finish', onFinish);
      await fake.close();
    },
  };
}

/**
 * The baseline: replays the chat bodies imflow sent (same prompts, same streaming flag) straight to the
 * fake model at `rate` for `seconds`, timing each call from send to the last byte, as a client sees it.
 */
export async function runBaseline(model: TimedModel, rate: number, seconds: number): Promise<{ sent: number; ok: number; errors: number; latencyMs: ReturnType<typeof summary> }> {
  const bodies = model.bodies.slice();
  const total = Math.floor(rate * seconds);
  if (!bodies.length || !total) return { sent: 0, ok: 0, errors: 0, latencyMs: summary([]) };
  const url = new URL(`${model.baseURL}/chat/completions`);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 512 });
  const latencies: number[] = [];
  let errors = 0;
  const inflight = new Set<Promise<void>>();
  const t0 = performance.now();
  for (let i = 0; i < total; i++) {
    await sleep(t0 + (i * 1000) / rate - performance.now());
    const body = bodies[i % bodies.length]!;
    const p = new Promise<void>((resolve) => {
      const started = performance.now();
      const req = http.request(
        url,
        { method: 'POST', agent, headers: { 'content-type': 'application/json', [BASELINE_HEADER]: '1', authorization: 'Bearer bench' } },
        (res) => {
          res.resume(); // read the whole stream: the time is to its last byte
          res.on('end', () => {
            if (res.statusCode === 200) latencies.push(performance.now() - started);
            else errors++;
            resolve();
          });
          res.on('error', () => (errors++, resolve()));
        },
      );
      req.on('error', () => (errors++, resolve()));
      req.end(body);
    });
    inflight.add(p);
    void p.then(() => inflight.delete(p));
  }
  await Promise.all(inflight);
  agent.destroy();
  return { sent: total, ok: latencies.length, errors, latencyMs: summary(latencies) };
}
