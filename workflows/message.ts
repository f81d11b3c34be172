// One run per inbound message: verify → loadSession → matchRule → retrieve → callModel → callTool →
// reply → saveSession → audit. Every step lands in the trace with its duration, input and output.
import {
  ActivityFailure,
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
import type { Activities } from '../activities/index.js';
import { PipelineId } from './names.js';
import type { InboundMessage, MessageResult, ModelAnswer, RunStatus, StepName, TraceStep } from './types.js';

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

// Model calls stream and heartbeat every second, so a dead worker is noticed in seconds, not minutes.
const model = proxyActivities<Activities>({
  startToCloseTimeout: '10m',
  heartbeatTimeout: '5s',
  retry: {
    initialInterval: '1s',
    backoffCoefficient: 2,
    maximumAttempts: 3,
    nonRetryableErrorTypes: ['InvalidRequest', 'Unauthorized', 'ModelNotFound', 'ContentPolicy', 'ContextLengthExceeded', 'UnknownModel'],
  },
});

// Sends to the platform: 5xx and timeouts retry, a 4xx is a failed step (non-retryable from the activity).
const outbound = proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  scheduleToCloseTimeout: '1h',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m', nonRetryableErrorTypes: ['SendRejected', 'NoAdapter'] },
});

export async function message({ message: msg }: MessageInput): Promise<MessageResult> {
  const workflowId = workflowInfo().workflowId;
  const state: RunState = { status: 'running', trace: [] };
  setHandler(traceQuery, () => state);

  /** Runs one step, recording it in the trace; rethrows after recording a failure. */
  async function step<T>(name: StepName, input: unknown, run: () => Promise<T>, summarize: (out: T) => unknown = (o) => o) {
    state.currentStep = name;
    const startedAt = Date.now();
    try {
      const out = await run();
      state.trace.push({ step: name, status: 'ok', startedAt, durationMs: Date.now() - startedAt, input, output: summarize(out) });
      return out;
    } catch (err) {
      state.trace.push({ step: name, status: 'failed', startedAt, durationMs: Date.now() - startedAt, input, error: describe(err) });
      throw err;
    }
  }
  const skip = (name: StepName, reason: string) =>
    state.trace.push({ step: name, status: 'skipped', startedAt: Date.now(), durationMs: 0, output: { reason } });

  async function finish(status: RunStatus, answer?: ModelAnswer): Promise<MessageResult> {
    state.status = status;
    state.reply = answer && { text: answer.text, model: answer.model };
    const result: MessageResult = { workflowId, status, reply: state.reply, trace: state.trace };
    await step('audit', { status }, () => local.audit({ message: msg, result }));
    state.currentStep = undefined;
    return result;
  }

  // Flow control came after the first release: runs recorded before it replay without it.
  const flowControl = patched('flow-control');
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

  try {
    await waitForSlot({ kind: 'sender', senderKey: `${msg.channelId}:${msg.senderId}`, holder: workflowId });
    const session = await step('loadSession', { sessionKey: verdict.sessionKey }, () => local.loadSession(verdict.sessionKey), (s) => ({
      source: s.source,
      messages: s.history.length,
    }));
    const rule = await step('matchRule', { text: msg.text, pipelineId: msg.pipelineId, model: msg.model }, () => local.matchRule(msg));
    upsertSearchAttributes([{ key: PipelineId, value: rule.pipelineId }]);
    const retrieval = await step('retrieve', { pipelineId: rule.pipelineId }, () => local.retrieve({ message: msg, rule }));

    const answer = await callModelWithFallback(rule.models, async (ref, hasFallback) => {
      await waitForSlot({ kind: 'model', model: ref, holder: workflowId });
      try {
        return await step('callModel', { model: ref, historyMessages: session.history.length }, () =>
          model.callModel({
            model: ref,
            systemPrompt: rule.systemPrompt,
            history: session.history,
            userText: msg.text,
            context: retrieval.context,
            hasFallback,
          }),
        );
      } finally {
        if (flowControl) await local.releaseSlot({ model: ref, holder: workflowId });
      }
    });
    skip('callTool', 'no tools configured for this pipeline');

    await step('reply', { text: answer.text }, () => outbound.reply({ message: msg, text: answer.text, idempotencyKey: workflowId }));
    await step('saveSession', { sessionKey: verdict.sessionKey }, () =>
      local.saveSession({ sessionKey: verdict.sessionKey, message: msg, answer: answer.text }),
    );
    return await finish('replied', answer);
  } catch (err) {
    await finish('failed');
    const failedStep = state.trace.findLast((s) => s.status === 'failed')?.step ?? 'start';
    throw ApplicationFailure.nonRetryable(`run failed at ${failedStep}: ${describe(err)}`, 'RunFailed');
  }
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
