/**
 * Fake OpenAI-compatible chat completions server (stands in for Ollama / vLLM in tests and benchmarks).
 * Speaks the Chat Completions wire format, including SSE streaming, tool calls, reasoning_content and
 * OpenAI-style error bodies. Behaviour is scripted per model with enqueue()/setDefault(). POST /v1/embeddings
 * answers with deterministic vectors (see fakeEmbedding: texts sharing words are close). Like Ollama,
 * GET /api/ps lists the loaded models: here, every model asked something since the last reset().
 *
 * Standalone: `npx tsx test/fakes/model-server.ts --port 11435 [--host 127.0.0.1]`
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { readBody } from './http.js';

export interface FakeStep {
  text?: string;                 // answer content (default: `fake answer to: <last user message>`)
  reasoning?: string;            // emitted as `reasoning_content` before the content (Qwen3/vLLM style)
  toolCalls?: { name: string; arguments: string; id?: string }[];  // answer with tool calls (finish_reason "tool_calls")
  status?: number;               // respond with this HTTP error status and an OpenAI error body
  errorMessage?: string; errorCode?: string;
  headers?: Record<string, string>;   // extra response headers (e.g. retry-after)
  firstTokenDelayMs?: number;    // delay before the first byte (stream) or the whole response (non-stream)
  chunkDelayMs?: number;         // delay between stream chunks
  hang?: boolean;                // accept the request and never answer (until the client aborts or server closes)
  dropConnection?: boolean;      // destroy the socket without answering
}
export interface RecordedRequest {
  model: string; messages: any[]; stream: boolean; tools?: any[]; body: any;
  headers: Record<string, string | string[] | undefined>; receivedAt: number; aborted: boolean;
}
export interface RecordedEmbeddingRequest { model: string; input: string[]; receivedAt: number }
export interface FakeModelServer {
  baseURL: string;               // e.g. http://127.0.0.1:PORT/v1
  port: number;
  requests: RecordedRequest[];
  /** POST /v1/embeddings calls (kept apart from chat requests) */
  embeddingRequests: RecordedEmbeddingRequest[];
  /** queue steps for a model id ('*' = any model); each request consumes the first queued step for its model, else the default */
  enqueue(model: string, ...steps: FakeStep[]): void;
  /** the behaviour used when no step is queued for a model ('*' = any model) */
  setDefault(model: string, step: FakeStep): void;
  requestsFor(model: string): RecordedRequest[];
  reset(): void;                 // clears queues, defaults, recorded requests
  close(): Promise<void>;        // closes the server, ending hanging requests
}
export interface FakeModelServerOptions {
  port?: number; host?: string;
  defaultDelayMs?: number;                 // firstTokenDelayMs for steps that do not set one
  contextWindow?: Record<string, number>;  // model id ('*' = any) -> max prompt tokens
  embeddingDimensions?: number;            // vector length when the request names none (default 256)
  embeddingDelayMs?: number;               // delay before each embeddings response
}

const CHUNK_CHARS = 8;
/** what /api/ps reports each loaded model to hold, all of it in VRAM */
export const FAKE_MODEL_BYTES = 20_000_000_000;
const CJK = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}\u3000-\u303f\uff00-\uffef]/u;

/** Text of a message content: plain string or an array of content parts. */
function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return content.map((p) => (typeof p?.text === 'string' ? p.text : '')).join('');
  return '';
}

function textTokens(text: string): number {
  let n = 0;
  for (const ch of text) n += CJK.test(ch) ? 1 : 0.25;
  return n;
}

/** Rough prompt size: CJK char = 1 token, other chars = 1/4 token, plus 4 per message. */
export function estimateTokens(messages: readonly { content?: unknown }[]): number {
  let n = 0;
  for (const m of messages) n += 4 + textTokens(contentText(m?.content));
  return Math.ceil(n);
}

/** Split by code points so multi-byte characters (Chinese, emoji) are never cut in half. */
function pieces(text: string, size = CHUNK_CHARS): string[] {
  const cps = Array.from(text);
  const out: string[] = [];
  for (let i = 0; i < cps.length; i += size) out.push(cps.slice(i, i + size).join(''));
  return out;
}

/**
 * A deterministic stand-in for an embedding model: a hashed bag of the text's features (lower-cased
 * Latin words and digit runs, CJK characters and character bigrams: 开票时效 and 开具时效 share 时效), normalised.
 * Texts sharing words point in similar directions; unrelated texts are nearly orthogonal.
 */
export function fakeEmbedding(text: string, dimensions = 256): number[] {
  const v = new Array<number>(dimensions).fill(0);
  const features = [...(text.toLowerCase().match(/[a-z]+|[0-9]+/g) ?? [])];
  const cjk = Array.from(text).filter((ch) => CJK.test(ch) && !/[\u3000-\u303f\uff00-\uffef]/u.test(ch));
  features.push(...cjk);
  for (let i = 0; i + 1 < cjk.length; i++) features.push(cjk[i]! + cjk[i + 1]!);
  for (const f of features) {
    const h = createHash('sha256').update(f).digest();
    v[h.readUInt32BE(0) % dimensions]! += h[4]! & 1 ? 1 : -1;
  }
  const norm = Math.sqrt(v.reduce((n, x) => n + x * x, 0));
  return norm ? v.map((x) => x / norm) : v;
}

function errorType(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 429) return 'rate_limit_error';
  return status >= 500 ? 'server_error' : 'invalid_request_error';
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.destroyed) return;
  res.writeHead(status, { ...headers, 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function sendError(res: ServerResponse, status: number, message: string, code: string | null, headers?: Record<string, string>): void {
  sendJson(res, status, { error: { message, type: errorType(status), param: null, code } }, headers);
}

/** Sleep that ends early when the request goes away, so aborted requests don't keep timers alive. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0 || signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() { clearTimeout(t); signal.removeEventListener('abort', done); resolve(); }
    signal.addEventListener('abort', done, { once: true });
  });
}


export async function startFakeModelServer(opts: FakeModelServerOptions = {}): Promise<FakeModelServer> {
  const queues = new Map<string, FakeStep[]>();
  const defaults = new Map<string, FakeStep>();
  const seenModels = new Set<string>();
  const requests: RecordedRequest[] = [];
  const embeddingRequests: RecordedEmbeddingRequest[] = [];
  let closing = false;
  let seq = 0;

  const see = (model: string) => { if (model !== '*') seenModels.add(model); };

  function nextStep(model: string): FakeStep {
    return queues.get(model)?.shift() ?? queues.get('*')?.shift() ?? defaults.get(model) ?? defaults.get('*') ?? {};
  }

  async function chat(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let body: any;
    try {
      body = JSON.parse(await readBody(req));
    } catch (err) {
      return sendError(res, 400, `Invalid JSON body: ${(err as Error).message}`, 'invalid_json');
    }
    if (typeof body?.model !== 'string' || !Array.isArray(body.messages)) {
      return sendError(res, 400, "'model' (string) and 'messages' (array) are required", 'invalid_request');
    }
    const model: string = body.model;
    const messages: any[] = body.messages;
    const stream = body.stream === true;
    see(model);
    const rec: RecordedRequest = {
      model, messages, stream, tools: body.tools, body, headers: { ...req.headers }, receivedAt: Date.now(), aborted: false,
    };
    requests.push(rec);

    // The response 'close' event without a finished write means the client went away,
    // unless we ended it ourselves (dropConnection, server close).
    const gone = new AbortController();
    let dropped = false;
    res.on('close', () => {
      if (!res.writableFinished && !closing && !dropped) rec.aborted = true;
      gone.abort();
    });

    // Validate the prompt size before consuming a scripted step, like a real server rejecting up front:
    // vLLM counts the prompt plus the requested completion budget against the window.
    const promptTokens = estimateTokens(messages);
    const completion = Number(body.max_tokens ?? body.max_completion_tokens ?? 0) || 0;
    const window = opts.contextWindow?.[model] ?? opts.contextWindow?.['*'];
    if (window !== undefined && promptTokens + completion > window) {
      return sendError(res, 400,
        `This model's maximum context length is ${window} tokens. However, you requested ${promptTokens + completion} tokens ` +
        `(${promptTokens} in the messages, ${completion} in the completion). Please reduce the length of the messages or completion.`,
        'context_length_exceeded');
    }

    const step = nextStep(model);
    if (step.dropConnection) { dropped = true; req.socket.destroy(); return; }
    if (step.hang) return; // never answer; the 'close' handler records the abort
    await sleep(step.firstTokenDelayMs ?? opts.defaultDelayMs ?? 0, gone.signal);
    if (gone.signal.aborted) return;

    if (step.status !== undefined) {
      return sendError(res, step.status, step.errorMessage ?? `fake error ${step.status}`, step.errorCode ?? null, step.headers);
    }

    const n = ++seq;
    const id = `chatcmpl-fake-${n}`;
    const created = Math.floor(Date.now() / 1000);
    const lastUser = [...messages].reverse().find((m) => m?.role === 'user');
    const toolCalls = (step.toolCalls ?? []).map((tc, i) => ({ ...tc, id: tc.id ?? `call_fake_${n}_${i}` }));
    const text = step.text ?? (toolCalls.length ? '' : `fake answer to: ${contentText(lastUser?.content)}`);
    const finishReason = toolCalls.length ? 'tool_calls' : 'stop';
    const completionTokens = Math.ceil(
      textTokens(text) + textTokens(step.reasoning ?? '') + toolCalls.reduce((n, tc) => n + textTokens(tc.name + tc.arguments), 0));
    const usage = { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };

    if (!stream) {
      const message: Record<string, unknown> = { role: 'assistant', content: text === '' && toolCalls.length ? null : text };
      if (step.reasoning !== undefined) message.reasoning_content = step.reasoning;
      if (toolCalls.length) {
        message.tool_calls = toolCalls.map((tc) => ({ id: tc.id, type: 'function', function: { name: tc.name, arguments: tc.arguments } }));
      }
      return sendJson(res, 200, {
        id, object: 'chat.completion', created, model,
        choices: [{ index: 0, message, logprobs: null, finish_reason: finishReason }], usage,
      }, step.headers);
    }

    const includeUsage = body.stream_options?.include_usage === true;
    const chunk = (delta: object, finish: string | null = null) => ({
      id, object: 'chat.completion.chunk', created, model,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
      ...(includeUsage ? { usage: null } : {}), // OpenAI sends usage: null on every chunk but the last
    });
    const events: object[] = [chunk({ role: 'assistant', content: '' })];
    for (const p of pieces(step.reasoning ?? '')) events.push(chunk({ reasoning_content: p }));
    for (const p of pieces(text)) events.push(chunk({ content: p }));
    toolCalls.forEach((tc, index) => {
      events.push(chunk({ tool_calls: [{ index, id: tc.id, type: 'function', function: { name: tc.name, arguments: '' } }] }));
      for (const p of pieces(tc.arguments)) events.push(chunk({ tool_calls: [{ index, function: { arguments: p } }] }));
    });
    events.push(chunk({}, finishReason));
    if (includeUsage) events.push({ id, object: 'chat.completion.chunk', created, model, choices: [], usage });

    res.writeHead(200, { ...step.headers, 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    for (let i = 0; i < events.length; i++) {
      if (i > 0) await sleep(step.chunkDelayMs ?? 0, gone.signal);
      if (gone.signal.aborted) return;
      res.write(`data: ${JSON.stringify(events[i])}\n\n`);
    }
    res.end('data: [DONE]\n\n');
  }

  async function embeddings(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let body: any;
    try {
      body = JSON.parse(await readBody(req));
    } catch (err) {
      return sendError(res, 400, `Invalid JSON body: ${(err as Error).message}`, 'invalid_json');
    }
    const input: unknown = body?.input;
    const texts = typeof input === 'string' ? [input] : Array.isArray(input) && input.every((t) => typeof t === 'string') ? (input as string[]) : undefined;
    if (typeof body?.model !== 'string' || !texts?.length) {
      return sendError(res, 400, "'model' (string) and 'input' (string or array of strings) are required", 'invalid_request');
    }
    const dims = Number.isInteger(body.dimensions) && body.dimensions > 0 ? body.dimensions : (opts.embeddingDimensions ?? 256);
    embeddingRequests.push({ model: body.model, input: texts, receivedAt: Date.now() });
    const gone = new AbortController();
    res.on('close', () => gone.abort());
    await sleep(opts.embeddingDelayMs ?? 0, gone.signal);
    const tokens = texts.reduce((n, t) => n + Math.ceil(textTokens(t)), 0);
    sendJson(res, 200, {
      object: 'list', model: body.model,
      data: texts.map((t, index) => ({ object: 'embedding', index, embedding: fakeEmbedding(t, dims) })),
      usage: { prompt_tokens: tokens, total_tokens: tokens },
    });
  }

  function models(res: ServerResponse): void {
    const ids = new Set([...seenModels, ...queues.keys(), ...defaults.keys()]);
    ids.delete('*');
    sendJson(res, 200, { object: 'list', data: [...ids].map((id) => ({ id, object: 'model', created: 0, owned_by: 'fake' })) });
  }

  function ps(res: ServerResponse): void {
    const lastAsked = new Map(requests.map((r) => [r.model, r.receivedAt]));
    sendJson(res, 200, {
      models: [...lastAsked].map(([name, at]) => ({
        name, model: name, size: FAKE_MODEL_BYTES, digest: createHash('sha256').update(name).digest('hex'),
        details: { parent_model: '', format: 'gguf', family: name.split(':')[0], families: [name.split(':')[0]], parameter_size: '', quantization_level: 'Q4_K_M' },
        expires_at: new Date(at + 5 * 60_000).toISOString(), // Ollama unloads an idle model after 5 minutes
        size_vram: FAKE_MODEL_BYTES, context_length: 4096,
      })),
    });
  }

  const server = createServer((req, res) => {
    req.on('error', () => {}); // client resets are expected (aborts, dropConnection)
    res.on('error', () => {});
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'POST' && path === '/v1/chat/completions') {
      chat(req, res).catch((err) => sendError(res, 500, `fake server bug: ${(err as Error).message}`, 'internal_error'));
    } else if (req.method === 'POST' && path === '/v1/embeddings') {
      embeddings(req, res).catch((err) => sendError(res, 500, `fake server bug: ${(err as Error).message}`, 'internal_error'));
    } else if (req.method === 'GET' && path === '/v1/models') {
      models(res);
    } else if (req.method === 'GET' && path === '/api/ps') {
      ps(res);
    } else {
      sendError(res, 404, `Unknown route ${req.method} ${path}`, 'not_found');
    }
  });

  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => { server.off('error', reject); resolve(); });
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;

  return {
    baseURL: `http://${urlHost}:${port}/v1`,
    port,
    requests,
    embeddingRequests,
    enqueue(model, ...steps) {
      see(model);
      queues.set(model, [...(queues.get(model) ?? []), ...steps]);
    },
    setDefault(model, step) {
      see(model);
      defaults.set(model, step);
    },
    requestsFor: (model) => requests.filter((r) => r.model === model),
    reset() {
      queues.clear(); defaults.clear(); seenModels.clear();
      requests.length = 0;
      embeddingRequests.length = 0;
    },
    close() {
      closing = true;
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections(); // ends hanging requests and idle keep-alive sockets
      });
    },
  };
}

// Standalone demo mode, only when this file is the entry script.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const arg = (name: string) => { const i = process.argv.indexOf(name); return i > 0 ? process.argv[i + 1] : undefined; };
  const srv = await startFakeModelServer({ port: Number(arg('--port') ?? 11435), host: arg('--host') });
  console.log(`fake model server listening: ${srv.baseURL}`);
  process.once('SIGINT', () => { void srv.close().then(() => process.exit(0)); });
}
