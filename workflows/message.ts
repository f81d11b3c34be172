// One run per inbound message: verify → loadSession → matchRule → the matched pipeline's nodes (retrieve,
// callModel with its tool calls, callTool, condition, reply, handoff) → saveSession → audit. Every step
// lands in the trace with its duration, input and output, and the pipeline node it ran for.
import {
  ActivityFailure,
  type ActivityOptions,
  ApplicationFailure,
  defineQuery,
  proxyActivities,
  patched,
  proxyLocalActivities,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { SlotRequest } from '../activities/flow-control.js';
import type { PipelineNode, ReplyButton } from '../pipelines/graph.js';
import { renderTemplate, type TemplateScope } from '../pipelines/template.js';
import type { Activities } from '../activities/index.js';
import { PipelineId } from './names.js';
import { defaultPipeline, modelChain, runPipeline, testCondition } from './pipeline.js';
import type { InboundMessage, MessageResult, ModelAnswer, RunStatus, StepName, ToolCallRequest, ToolTurn, TraceStep } from './types.js';

export interface MessageInput {
  message: InboundMessage;
}

export interface RunState {
  status: RunStatus;
  currentStep?: StepName;
  reply?: MessageResult['reply'];
  trace: TraceStep[];
}

export const traceQuery = defineQuery<RunState>('trace');

// Cheap steps against our own Postgres/Redis: local activities (no task round trip). They retry for a
// long time so a database restart delays a message instead of losing it.
const local = proxyLocalActivities<Activities>({
  startToCloseTimeout: '15s',
  scheduleToCloseTimeout: '30m',
  retry: { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '10s', nonRetryableErrorTypes: ['InvalidInput'] },
});

/** Model failures no retry or wait can fix: the same request would fail the same way. */
const PERMANENT_MODEL_ERRORS = ['InvalidRequest', 'Unauthorized', 'ModelNotFound', 'ContentPolicy', 'ContextLengthExceeded', 'UnknownModel'];

// Model calls stream and heartbeat every second, so a dead worker is noticed in seconds, not minutes.
const modelOptions: ActivityOptions = {
  startToCloseTimeout: '10m',
  heartbeatTimeout: '5s',
  retry: {
    initialInterval: '1s',
    backoffCoefficient: 2,
    maximumAttempts: 3,
    nonRetryableErrorTypes: PERMANENT_MODEL_ERRORS,
  },
};
const model = proxyActivities<Activities>(modelOptions);

// Tool calls: callTool decides per tool whether a failure may be retried (tools/retry.ts), so one set of
// options serves every tool; the tool's own HTTP deadline (≤ 60 s) ends an attempt first.
const toolCalls = proxyActivities<Activities>({
  startToCloseTimeout: '75s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '10s', maximumAttempts: 10 },
});

// Sends to the platform: 5xx and timeouts retry, a 4xx is a failed step (non-retryable from the activity).
const outboundOptions = {
  startToCloseTimeout: '30s',
  scheduleToCloseTimeout: '1h',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m', nonRetryableErrorTypes: ['SendRejected', 'NoAdapter'] },
} satisfies ActivityOptions;
const outboundTask = proxyActivities<Activities>(outboundOptions);
// A send is short and idempotent (recorded by key before it is repeated): as a local activity it saves
// each message a task round trip through the Temporal server, the costliest thing per message under load.
const outboundLocal = proxyLocalActivities<Activities>(outboundOptions);

export async function message({ message: msg }: MessageInput): Promise<MessageResult> {
  const workflowId = workflowInfo().workflowId;
  const state: RunState = { status: 'running', trace: [] };
  setHandler(traceQuery, () => state);

  /** Runs one step, recording it in the trace; rethrows after recording a failure. */
  async function step<T>(name: StepName, input: unknown, run: () => Promise<T>, opts: { nodeId?: string; summarize?: (out: T) => unknown } = {}) {
    const { nodeId, summarize = (o: T) => o } = opts;
    state.currentStep = name;
    const startedAt = Date.now();
    const node = nodeId ? { nodeId } : {};
    try {
      const out = await run();
      state.trace.push({ step: name, ...node, status: 'ok', startedAt, durationMs: Date.now() - startedAt, input, output: summarize(out) });
      return out;
    } catch (err) {
      state.trace.push({ step: name, ...node, status: 'failed', startedAt, durationMs: Date.now() - startedAt, input, error: describe(err) });
      throw err;
    }
  }
  const skip = (name: StepName, reason: string) =>
    state.trace.push({ step: name, status: 'skipped', startedAt: Date.now(), durationMs: 0, output: { reason } });

  async function finish(status: RunStatus, reply?: MessageResult['reply']): Promise<MessageResult> {
    state.status = status;
    state.reply = reply;
    const result: MessageResult = { workflowId, status, reply: state.reply, trace: state.trace };
    await step('audit', { status }, () => local.audit({ message: msg, result }));
    state.currentStep = undefined;
    return result;
  }

  // Flow control came after the first release: runs recorded before it replay without it.
  const flowControl = patched('flow-control');
  const outbound = patched('local-reply') ? outboundLocal : outboundTask;
  let queuedSince: number | undefined;
  let noticeSent = false;

  /** Waits (on durable timers) until flow control lets this message or model call go ahead. */
  async function waitForSlot(request: SlotRequest) {
    if (!flowControl) return;
    const startedAt = Date.now();
    let attempts = 0;
    let limit: string | undefined;
    for (;;) {
      const answer = await local.acquireSlot(request);
      if (answer.granted) break;
      state.currentStep = 'queue';
      limit = answer.limit;
      queuedSince ??= startedAt;
      if (!noticeSent && Date.now() - queuedSince >= answer.notice.afterMs) {
        noticeSent = true;
        // tell the sender once; a notice that cannot be sent must not cost them the answer
        await outbound.reply({ message: msg, text: answer.notice.text, idempotencyKey: `${workflowId}#queued` }).catch(() => undefined);
      }
      // back off gently on long waits, so a queued run does not fill its history with polls
      await sleep(Math.min(answer.retryAfterMs * 1.2 ** attempts, 2000));
      attempts++;
    }
    if (attempts) {
      const input = request.kind === 'model' ? { model: request.model } : { sender: msg.senderId };
      state.trace.push({ step: 'queue', status: 'ok', startedAt, durationMs: Date.now() - startedAt, input, output: { attempts, limit, noticeSent } });
    }
  }

  const verdict = await step('verify', { channelId: msg.channelId, senderId: msg.senderId }, () => local.verify(msg));
  if (!verdict.allowed) return finish('ignored');

  const sent: { text: string; buttons?: ReplyButton[] }[] = [];
  try {
    await waitForSlot({ kind: 'sender', senderKey: `${msg.channelId}:${msg.senderId}`, holder: workflowId });
    const session = await step('loadSession', { sessionKey: verdict.sessionKey }, () => local.loadSession(verdict.sessionKey), {
      summarize: (s) => ({ source: s.source, messages: s.history.length }),
    });
    const rule = await step('matchRule', { text: msg.text, pipelineId: msg.pipelineId, model: msg.model }, () => local.matchRule(msg));
    upsertSearchAttributes([{ key: PipelineId, value: rule.pipelineId }]);
    const pipeline = rule.pipeline ?? defaultPipeline(rule);
    state.trace.at(-1)!.nodeId = pipeline.graph.nodes.find((n) => n.type === 'trigger')?.id;

    const scope: TemplateScope = {
      message: { text: msg.text, senderId: msg.senderId, senderName: msg.senderName, channelId: msg.channelId, conversationId: msg.conversationId },
      retrieval: { context: '' },
      reply: { text: '' },
      vars: {},
    };
    const render = (template: string | undefined, fallback: string) => renderTemplate(template ?? fallback, scope);
    const requester = { channelId: msg.channelId, senderId: msg.senderId };
    let answer: ModelAnswer | undefined;

    /** A model call with the node's tools: round trips until the model answers, at most maxToolSteps. */
    async function llm(node: PipelineNode & { type: 'llm' }): Promise<ModelAnswer> {
      const { data } = node;
      const calls = data.timeoutMs || data.retries !== undefined ? proxyActivities<Activities>(withNodeLimits(modelOptions, data)) : model;
      const tools = data.tools ?? [];
      const turns: ToolTurn[] = [];
      for (let round = 0; ; round++) {
        const offer = tools.length && round < (data.maxToolSteps ?? 4) ? tools : undefined;
        const reply = await waitOutModelOutage(() => callModelWithFallback(modelChain(data, rule, msg.model), async (ref, hasFallback) => {
          await waitForSlot({ kind: 'model', model: ref, holder: workflowId });
          try {
            return await step('callModel', { model: ref, historyMessages: session.history.length, ...(offer && { tools: offer, round }) }, () =>
              calls.callModel({
                model: ref,
                systemPrompt: render(data.systemPrompt, rule.systemPrompt ?? ''),
                history: session.history,
                userText: render(data.prompt, '{{message.text}}'),
                context: scope.retrieval.context,
                hasFallback,
                ...(data.temperature !== undefined && { temperature: data.temperature }),
                ...(offer && { tools: offer, requester }),
                ...(turns.length && { toolTurns: turns }),
              }),
            { nodeId: node.id });
          } finally {
            if (flowControl) await local.releaseSlot({ model: ref, holder: workflowId });
          }
        }));
        if (!reply.toolCalls?.length) return reply;
        const results: string[] = [];
        for (const call of reply.toolCalls) results.push(await toolForModel(call, node.id));
        turns.push({ ...(reply.text && { text: reply.text }), calls: reply.toolCalls, results });
      }
    }

    /**
     * Every model in the chain down (connection refused, 5xx, time-outs, open breakers): the message
     * waits on durable timers and tries the chain again, for up to MODEL_OUTAGE_WAIT, instead of being
     * lost; the sender is told once. An error no retry can fix (a bad request, a wrong key) fails at once.
     */
    async function waitOutModelOutage(callChain: () => Promise<ModelAnswer>): Promise<ModelAnswer> {
      const since = Date.now();
      for (let attempt = 0; ; attempt++) {
        try {
          return await callChain();
        } catch (err) {
          // patched at the point of failure: runs that never fail here keep histories without the marker
          if (!isModelOutage(err) || Date.now() - since >= MODEL_OUTAGE_WAIT_MS || !patched('model-outage-wait')) throw err;
          if (attempt === 0) {
            await outbound.reply({ message: msg, text: MODEL_DOWN_NOTICE, idempotencyKey: `${workflowId}#model-down` }).catch(() => undefined);
          }
          const startedAt = Date.now();
          state.currentStep = 'queue';
          await sleep(Math.min(5_000 * 2 ** attempt, 60_000));
          state.trace.push({ step: 'queue', status: 'ok', startedAt, durationMs: Date.now() - startedAt, input: { waitingFor: 'model' }, output: { attempt: attempt + 1, error: describe(err) } });
        }
      }
    }

    /** One tool call the model asked for; whatever happens, the model reads the outcome and answers. */
    async function toolForModel(call: ToolCallRequest, nodeId: string): Promise<string> {
      if (!call.toolId) return `error: there is no tool named "${call.name}"`;
      const input = { tool: call.toolId, arguments: call.argumentsJson.slice(0, 2000) };
      try {
        const out = await step('callTool', input, () => toolCalls.callTool({ toolId: call.toolId!, argumentsJson: call.argumentsJson, callId: `${workflowId}/${call.id}`, requester }), { nodeId });
        return out.ok ? JSON.stringify(out.output).slice(0, MAX_TOOL_RESULT) : `error: ${out.error}`;
      } catch (err) {
        return `error: the tool is unavailable (${describe(err)})`;
      }
    }

    async function send(nodeId: string, text: string, buttons?: ReplyButton[]) {
      // the first reply keeps the run's id as its key (as before pipelines); later ones add their node's
      const idempotencyKey = sent.length ? `${workflowId}#${nodeId}` : workflowId;
      await step('reply', { text, ...(buttons?.length && { buttons }) }, () => outbound.reply({ message: msg, text, idempotencyKey, ...(buttons?.length && { buttons }) }), { nodeId });
      sent.push({ text, ...(buttons?.length && { buttons }) });
    }

    await runPipeline(pipeline.graph, async (node) => {
      switch (node.type) {
        case 'trigger':
        case 'end':
          return undefined;
        case 'retrieve': {
          const { knowledgeBases, topK, minScore, query } = node.data;
          const nodeInput = { knowledgeBases, topK, minScore, query: render(query, '{{message.text}}') };
          const retrieval = await step('retrieve', { pipelineId: rule.pipelineId, knowledgeBases }, () => local.retrieve({ message: msg, rule, node: nodeInput }), { nodeId: node.id });
          scope.retrieval.context = [scope.retrieval.context, retrieval.context].filter(Boolean).join('\n\n');
          return undefined;
        }
        case 'llm':
          answer = await llm(node);
          scope.reply.text = answer.text;
          return undefined;
        case 'tool': {
          const args = Object.fromEntries(Object.entries(node.data.arguments).map(([k, t]) => [k, renderTemplate(t, scope)]));
          const out = await step('callTool', { tool: node.data.tool, arguments: args }, () =>
            toolCalls.callTool({ toolId: node.data.tool, argumentsJson: JSON.stringify(args), callId: `${workflowId}/${node.id}`, requester }),
          { nodeId: node.id });
          scope.vars[node.data.saveAs ?? node.id] = out.ok ? out.output : { error: out.error };
          return undefined;
        }
        case 'condition': {
          const { subject, variable, operator, value } = node.data;
          const tested = subject === 'message' ? msg.text : subject === 'reply' ? scope.reply.text : renderTemplate(`{{vars.${variable}}}`, scope);
          const result = testCondition(tested, operator, value);
          state.trace.push({ step: 'condition', nodeId: node.id, status: 'ok', startedAt: Date.now(), durationMs: 0, input: { subject, operator, value }, output: { result } });
          return result ? 'true' : 'false';
        }
        case 'reply':
          await send(node.id, render(node.data.text, '{{reply.text}}'), node.data.buttons);
          return undefined;
        case 'handoff': {
          await send(node.id, render(node.data.text, HANDOFF_NOTICE));
          const { target } = node.data;
          await step('handoff', { target }, () => local.announceHandoff({ message: msg, workflowId, nodeId: node.id, target }), { nodeId: node.id });
          return undefined;
        }
      }
    });

    const replyText = sent.map((r) => r.text).join('\n\n');
    if (sent.length) {
      await step('saveSession', { sessionKey: verdict.sessionKey }, () => local.saveSession({ sessionKey: verdict.sessionKey, message: msg, answer: replyText }));
    } else {
      skip('saveSession', 'the pipeline sent no reply');
    }
    const buttons = sent.flatMap((r) => r.buttons ?? []);
    return await finish(sent.length ? 'replied' : 'ignored', sent.length ? { text: replyText, model: answer?.model, ...(buttons.length && { buttons }) } : undefined);
  } catch (err) {
    const failedStep = state.trace.findLast((s) => s.status === 'failed')?.step ?? 'start';
    // the sender hears that no answer is coming (unless the failure was in sending itself)
    if (!sent.length && failedStep !== 'reply' && patched('failure-notice')) {
      await outbound.reply({ message: msg, text: FAILURE_NOTICE, idempotencyKey: `${workflowId}#failed` }).catch(() => undefined);
    }
    await finish('failed');
    throw ApplicationFailure.nonRetryable(`run failed at ${failedStep}: ${describe(err)}`, 'RunFailed');
  }
}

/** How long a message waits for a model to come back before its run fails. */
const MODEL_OUTAGE_WAIT_MS = 30 * 60_000;
const MODEL_DOWN_NOTICE = '模型服务暂时不可用，恢复后会立即回复您。 / The assistant is briefly unavailable; you will get an answer as soon as it is back.';
const FAILURE_NOTICE = '抱歉，暂时无法回答您的问题，请稍后再试。 / Sorry, I cannot answer this right now. Please try again later.';
function isModelOutage(err: unknown): boolean {
  if (!(err instanceof ActivityFailure)) return false; // e.g. no model configured at all
  const cause = err.cause;
  return !(cause instanceof ApplicationFailure && cause.type && PERMANENT_MODEL_ERRORS.includes(cause.type));
}

/** What the user hears when a pipeline hands them over without its own words. */
const HANDOFF_NOTICE = '已为您转接人工客服，请稍候。 / A colleague will take over shortly.';
/** A tool's answer as the model reads it: enough for facts and links, never a flooded prompt. */
const MAX_TOOL_RESULT = 8000;

/** A node's own timeout and retries over the step's defaults. */
function withNodeLimits(base: ActivityOptions, data: { timeoutMs?: number; retries?: number }): ActivityOptions {
  return {
    ...base,
    ...(data.timeoutMs && { startToCloseTimeout: data.timeoutMs }),
    ...(data.retries !== undefined && { retry: { ...base.retry, maximumAttempts: data.retries + 1 } }),
  };
}

/** Tries each model in order; an unusable primary falls through to the next in the chain. */
async function callModelWithFallback(
  models: string[],
  call: (ref: string, hasFallback: boolean) => Promise<ModelAnswer>,
): Promise<ModelAnswer> {
  let lastError: unknown = new Error('no model configured: set models.default in the config');
  for (const [i, ref] of models.entries()) {
    try {
      return await call(ref, i < models.length - 1);
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError;
}

function describe(err: unknown): string {
  if (err instanceof ActivityFailure && err.cause) return describe(err.cause);
  if (err instanceof ApplicationFailure && err.type) return `${err.type}: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}
