import { Context, log } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import OpenAI from 'openai';
import type { ChatCompletionMessageParam, ChatCompletionTool } from 'openai/resources/chat/completions';
import { permitted, senderProfile } from '../runtime/departments.js';
import { openAiToolDefinitions } from '../tools/openai.js';
import { createAlerter } from '../runtime/alerts.js';
import { CircuitBreaker, verdictOf } from '../runtime/breaker.js';
import type { Db } from '../runtime/db.js';
import { logger } from '../runtime/logger.js';
import { modelCalls, modelFirstToken, modelLatency, modelTokens } from '../runtime/metrics.js';
import type { ChatMessage, ModelAnswer, ToolCallRequest, ToolTurn } from '../workflows/types.js';
import type { ActivityDeps } from './deps.js';
import { buildPrompt, estimateTokens } from './prompt.js';
import { qwenTokenCounter } from './tokenizer.js';

export interface CallModelInput {
  /** "<providerId>/<modelId>" */
  model: string;
  systemPrompt?: string;
  history: ChatMessage[];
  userText: string;
  context?: string;
  /** a later model in the chain can take over: give up on a silent model at once instead of retrying it */
  hasFallback?: boolean;
  /** set by callModel itself when the server refused the prompt as too long: the window it really has */
  contextWindow?: number;
  temperature?: number;
  /** tool ids the model may call; those the sender's departments may not use are not offered */
  tools?: string[];
  /** whose message this is (for the tools' department check) */
  requester?: { channelId: string; senderId: string };
  /** this message's earlier tool round trips: the model's calls and what the tools answered */
  toolTurns?: ToolTurn[];
}

/**
 * One streamed chat completion against an OpenAI-compatible server (Ollama, vLLM, …). The `openai`
 * package's own retries are off: Temporal's retry policy owns them. Heartbeats every second, so a
 * worker that dies mid-call is noticed within the heartbeat timeout and the call runs again elsewhere.
 * A model whose circuit breaker is open is not called: CircuitOpen is non-retryable, so the workflow
 * moves to the next model in the chain at once.
 */
export const makeCallModel = ({ catalog, db, kv, channels }: Pick<ActivityDeps, 'catalog' | 'db' | 'kv' | 'channels'>) => {
  const alert = createAlerter({ db, kv, catalog, channels });
  const breaker = new CircuitBreaker({
    kv,
    settings: () => catalog.breakerSettings(),
    // admins hear about it in the background: the call that tripped the breaker does not wait
    onTransition: (t) => void alert(t).catch((err: Error) => logger.warn({ err: err.message, model: t.model }, 'breaker alert failed')),
  });
  const callModel = async (input: CallModelInput): Promise<ModelAnswer> => {
    const resolved = await catalog.resolveModel(input.model);
    if (!resolved) throw ApplicationFailure.nonRetryable(`model "${input.model}" is not configured`, 'UnknownModel');
    const { provider, model, providerId } = resolved;
    const admission = await breaker.admit(input.model, provider.baseUrl, model.timeoutMs);
    // The last model in the chain is called even while its breaker is open: refusing it would leave the
    // message unanswered for sure. Such a call is not the probe and is not counted.
    if (!admission.allowed && input.hasFallback) {
      const since = new Date(admission.since).toISOString();
      throw ApplicationFailure.nonRetryable(`${input.model}: circuit breaker ${admission.state} since ${since} (${admission.reason}): not called`, 'CircuitOpen');
    }
    /** feeds the breaker (no failure: a success); awaited on failures only, so an answer never waits on Redis */
    const judge = (failure?: Error) => {
      const type = failure instanceof ApplicationFailure ? (failure.type ?? undefined) : undefined;
      return breaker.record(admission.allowed ? admission.permit : undefined, failure ? verdictOf(type) : 'success', type);
    };
    const contextWindow = Math.min(input.contextWindow ?? Infinity, model.contextWindow);
    // in a smaller-than-configured window the answer's budget shrinks too, or no prompt would fit
    const maxTokens = input.contextWindow === undefined ? model.maxTokens : Math.min(model.maxTokens, Math.floor(contextWindow / 2));
    const countTokens = model.tokenizer === 'qwen' ? await qwenTokenCounter() : estimateTokens;
    const offered = await offeredTools(input);
    const turns = toolTurnMessages(input.toolTurns ?? []);
    // tool definitions and round trips sit outside the trimmed history: they take their room first
    const toolTokens = countTokens(JSON.stringify(offered.definitions) + JSON.stringify(turns));
    const prompt = buildPrompt({ ...input, contextWindow: contextWindow - toolTokens, maxTokens, countTokens });

    const ctx = Context.current();
    const abort = new AbortController();
    const onCancel = () => abort.abort(new CallAborted('cancelled'));
    ctx.cancellationSignal.addEventListener('abort', onCancel);
    const beat = setInterval(() => ctx.heartbeat(), 1000);
    const total = setTimeout(() => abort.abort(new CallAborted('timeout', `no complete answer within ${model.timeoutMs} ms`)), model.timeoutMs);
    let firstToken: NodeJS.Timeout | undefined = setTimeout(
      () => abort.abort(new CallAborted('firstToken', `no first token within ${model.firstTokenTimeoutMs} ms`)),
      model.firstTokenTimeoutMs,
    );

    const started = Date.now();
    let firstTokenMs: number | undefined;
    let content = '';
    let reasoning = '';
    let usage: ModelAnswer['usage'];
    const calls: { id: string; name: string; arguments: string }[] = [];
    let retryWithin: number | undefined;
    /** Every attempt, whatever its end, leaves one usage row and its metrics; returns the latency. */
    const settle = (outcome: Outcome, failure?: Error): number => {
      const latencyMs = Date.now() - started;
      // the server's usage when it sent one; an estimate once it produced output; else nothing was spent
      const tokens = usage
        ? { ...usage, estimated: false }
        : firstTokenMs !== undefined
          ? { promptTokens: prompt.promptTokens, completionTokens: countTokens(reasoning + content), estimated: countTokens === estimateTokens }
          : undefined;
      recordAttempt(db, {
        at: new Date(started),
        model: input.model,
        providerId,
        workflowId: ctx.info.workflowExecution?.workflowId,
        attempt: ctx.info.attempt,
        outcome,
        errorType: (failure instanceof ApplicationFailure && failure.type) || undefined,
        errorMessage: failure?.message,
        tokens,
        latencyMs,
        firstTokenMs,
        streamed: true,
      });
      return latencyMs;
    };
    try {
      const client = new OpenAI({ baseURL: provider.baseUrl, apiKey: provider.apiKey || 'none', maxRetries: 0, timeout: model.timeoutMs + 1000 });
      const stream = await client.chat.completions.create(
        {
          model: model.id,
          messages: [...prompt.messages, ...turns],
          stream: true,
          max_tokens: maxTokens,
          stream_options: { include_usage: true },
          ...(input.temperature !== undefined && { temperature: input.temperature }),
          ...(offered.definitions.length && { tools: offered.definitions }),
        },
        { signal: abort.signal },
      );
      for await (const chunk of stream) {
        const delta = chunk.choices[0]?.delta as
          | { content?: string | null; reasoning_content?: string; reasoning?: string; tool_calls?: ToolCallDelta[] }
          | undefined;
        const piece = delta?.content ?? '';
        for (const tc of delta?.tool_calls ?? []) {
          const call = (calls[tc.index] ??= { id: '', name: '', arguments: '' });
          call.id ||= tc.id ?? '';
          call.name += tc.function?.name ?? '';
          call.arguments += tc.function?.arguments ?? '';
        }
        const thought = delta?.reasoning_content ?? delta?.reasoning ?? '';
        if ((piece || thought || delta?.tool_calls?.length) && firstToken) {
          clearTimeout(firstToken);
          firstToken = undefined;
          firstTokenMs = Date.now() - started;
        }
        content += piece;
        reasoning += thought;
        if (chunk.usage) usage = { promptTokens: chunk.usage.prompt_tokens, completionTokens: chunk.usage.completion_tokens };
        ctx.heartbeat();
      }
    } catch (err) {
      const failure = classify(err, abort.signal.reason, input);
      settle(outcomeOf(failure), failure);
      await judge(failure);
      // The server's window is smaller than configured (Ollama's num_ctx, a vLLM --max-model-len):
      // trim to what it says it has and try once more, instead of losing the answer.
      if (failure instanceof ApplicationFailure && failure.type === 'ContextLengthExceeded' && input.contextWindow === undefined) {
        retryWithin = serverWindow(err) ?? Math.floor(contextWindow / 2);
      } else {
        throw failure;
      }
    } finally {
      clearInterval(beat);
      clearTimeout(total);
      if (firstToken) clearTimeout(firstToken);
      ctx.cancellationSignal.removeEventListener('abort', onCancel);
    }

    if (retryWithin !== undefined) return callModel({ ...input, contextWindow: retryWithin });

    const { text, thinking } = splitThinking(content);
    const toolCalls: ToolCallRequest[] = calls.filter(Boolean).map((c, i) => ({
      id: c.id || `call_${i}`,
      name: c.name,
      // a name the model made up stays unresolved: the workflow tells the model so
      toolId: offered.byName.get(c.name),
      argumentsJson: c.arguments.slice(0, MAX_TOOL_ARGUMENTS),
    }));
    if (!text && !toolCalls.length) {
      const failure = ApplicationFailure.retryable(`model ${input.model} returned an empty answer`, 'EmptyAnswer');
      settle('empty', failure);
      await judge(failure);
      throw failure;
    }
    const latencyMs = settle('ok');
    void judge();
    modelLatency.observe({ model: input.model }, latencyMs / 1000);
    const allReasoning = [reasoning, thinking].filter(Boolean).join('\n');
    return {
      text,
      model: input.model,
      usage,
      promptTokens: prompt.promptTokens,
      droppedHistory: prompt.droppedHistory,
      latencyMs,
      firstTokenMs,
      // kept for the trace only, never sent to the chat
      reasoning: allReasoning ? allReasoning.slice(0, 4000) : undefined,
      ...(input.contextWindow !== undefined && { contextWindow: input.contextWindow }),
      ...(toolCalls.length && { toolCalls }),
      ...(offered.denied.length && { toolsDenied: offered.denied }),
    };
  };

  /** The tools offered to the model: those named, that exist, and that the sender's departments may use. */
  async function offeredTools(input: CallModelInput) {
    const byName = new Map<string, string>();
    if (!input.tools?.length) return { definitions: [] as ChatCompletionTool[], byName, denied: [] as string[] };
    const profile = input.requester ? await senderProfile(db, input.requester.channelId, input.requester.senderId) : { departments: [], roles: [] };
    const { allowed, denied } = await permitted(db, 'tools', input.tools, profile);
    const tools = (await Promise.all(allowed.map((id) => catalog.tool(id)))).flatMap((s) => (s ? [s.tool] : []));
    for (const t of tools) byName.set(t.name, t.id);
    return { definitions: openAiToolDefinitions(tools) as ChatCompletionTool[], byName, denied };
  }
  return callModel;
};

/** Longer argument text than this is cut (and then fails JSON parsing, which the model is told). */
const MAX_TOOL_ARGUMENTS = 16_000;

interface ToolCallDelta {
  index: number;
  id?: string;
  function?: { name?: string; arguments?: string };
}

/** Earlier round trips as chat messages: the assistant's tool calls, then one tool message per call. */
function toolTurnMessages(turns: ToolTurn[]): ChatCompletionMessageParam[] {
  return turns.flatMap((t): ChatCompletionMessageParam[] => [
    {
      role: 'assistant',
      content: t.text || null,
      tool_calls: t.calls.map((c) => ({ id: c.id, type: 'function' as const, function: { name: c.name, arguments: c.argumentsJson } })),
    },
    ...t.calls.map((c, i): ChatCompletionMessageParam => ({ role: 'tool', tool_call_id: c.id, content: t.results[i] ?? '' })),
  ]);
}

/** "This model's maximum context length is 8192 tokens…" (vLLM, OpenAI): the window the server really has. */
function serverWindow(err: unknown): number | undefined {
  const m = /maximum context length is (\d+)/i.exec(err instanceof Error ? err.message : '');
  return m ? Number(m[1]) : undefined;
}

type Outcome = 'ok' | 'error' | 'timeout' | 'empty' | 'cancelled';

const outcomeOf = (failure: Error): Outcome =>
  failure instanceof CancelledFailure
    ? 'cancelled'
    : failure instanceof ApplicationFailure && (failure.type === 'FirstTokenTimeout' || failure.type === 'ModelTimeout')
      ? 'timeout'
      : 'error';

interface Attempt {
  at: Date;
  model: string;
  providerId: string;
  workflowId?: string;
  attempt: number;
  outcome: Outcome;
  errorType?: string;
  errorMessage?: string;
  tokens?: { promptTokens: number; completionTokens: number; estimated: boolean };
  latencyMs: number;
  firstTokenMs?: number;
  streamed: boolean;
}

/**
 * Metrics at once; the model_calls row without waiting for it: the answer never waits on the usage
 * table, and a failed write costs only that row (logged), never the call.
 */
function recordAttempt(db: Db, a: Attempt): void {
  modelCalls.inc({ model: a.model, outcome: a.outcome });
  if (a.firstTokenMs !== undefined) modelFirstToken.observe({ model: a.model }, a.firstTokenMs / 1000);
  if (a.tokens) {
    modelTokens.inc({ model: a.model, kind: 'prompt' }, a.tokens.promptTokens);
    modelTokens.inc({ model: a.model, kind: 'completion' }, a.tokens.completionTokens);
  }
  db.query(
    `INSERT INTO model_calls (at, model, provider_id, workflow_id, attempt, outcome, error_type, error_message,
       prompt_tokens, completion_tokens, tokens_estimated, latency_ms, first_token_ms, streamed)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
    [
      a.at, a.model, a.providerId, a.workflowId ?? null, a.attempt, a.outcome, a.errorType ?? null, a.errorMessage?.slice(0, 1000) ?? null,
      a.tokens?.promptTokens ?? null, a.tokens?.completionTokens ?? null, a.tokens?.estimated ?? false, a.latencyMs, a.firstTokenMs ?? null, a.streamed,
    ],
  ).catch((err: Error) => logger.warn({ err: err.message, model: a.model }, 'could not record a model call; the call itself is unaffected'));
}

class CallAborted extends Error {
  constructor(
    readonly kind: 'cancelled' | 'timeout' | 'firstToken',
    message: string = kind,
  ) {
    super(message);
  }
}

/** Qwen3 and other reasoning models may emit <think>…</think> in the content: it never reaches the user. */
export function splitThinking(content: string): { text: string; thinking: string } {
  const thoughts: string[] = [];
  const text = content.replace(/<think>([\s\S]*?)(<\/think>|$)/g, (_m, t: string) => {
    thoughts.push(t.trim());
    return '';
  });
  return { text: text.trim(), thinking: thoughts.filter(Boolean).join('\n') };
}

/** Maps a failed call onto Temporal's retry semantics: what cannot succeed on retry is non-retryable. */
function classify(err: unknown, abortReason: unknown, input: CallModelInput): Error {
  if (abortReason instanceof CallAborted) {
    if (abortReason.kind === 'cancelled') return new CancelledFailure('model call cancelled');
    if (abortReason.kind === 'firstToken' && input.hasFallback) {
      return ApplicationFailure.nonRetryable(`${input.model}: ${abortReason.message}`, 'FirstTokenTimeout');
    }
    return ApplicationFailure.retryable(`${input.model}: ${abortReason.message}`, 'ModelTimeout');
  }
  if (err instanceof OpenAI.APIError && err.status) {
    const msg = `${input.model}: HTTP ${err.status}: ${err.message}`;
    const code = String((err as { code?: unknown }).code ?? '');
    if (err.status === 429) {
      const after = Number(err.headers?.get('retry-after'));
      return ApplicationFailure.create({
        message: msg,
        type: 'RateLimited',
        nextRetryDelay: Number.isFinite(after) && after > 0 ? after * 1000 : undefined,
      });
    }
    if (err.status === 400 && (code === 'context_length_exceeded' || /context length|maximum context/i.test(err.message))) {
      return ApplicationFailure.nonRetryable(msg, 'ContextLengthExceeded');
    }
    if (code === 'content_filter' || /content (policy|filter)/i.test(err.message)) return ApplicationFailure.nonRetryable(msg, 'ContentPolicy');
    if (err.status === 401 || err.status === 403) return ApplicationFailure.nonRetryable(msg, 'Unauthorized');
    if (err.status === 404) return ApplicationFailure.nonRetryable(msg, 'ModelNotFound');
    if (err.status === 400 || err.status === 422) return ApplicationFailure.nonRetryable(msg, 'InvalidRequest');
    return ApplicationFailure.retryable(msg, 'ModelUnavailable');
  }
  const message = err instanceof Error ? err.message : String(err);
  log.warn('model call failed', { model: input.model, error: message });
  return ApplicationFailure.retryable(`${input.model}: ${message}`, 'ModelUnavailable');
}
