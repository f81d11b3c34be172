// One long-lived run per conversation: messages are handled one at a time, in arrival order, each as a
// child `message` run whose id is the dedup key. Re-deliveries are dropped here (seen set) and, once the
// seen set has forgotten them, by the server (the child id is never reused).
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  defineSignal,
  executeChild,
  log,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError, WorkflowIdReusePolicy } from '@temporalio/common';
import { ChannelId, ConversationId, messageWorkflowId, SenderId } from './names.js';
import { message } from './message.js';
import type { InboundMessage } from './types.js';

export interface ConversationInput {
  channelId: string;
  conversationKey: string;
  /** carried across continueAsNew */
  pending?: InboundMessage[];
  seen?: string[];
}

export const messageSignal = defineSignal<[InboundMessage]>('message');

/** How many message ids a conversation remembers; older re-deliveries are caught by the child id. */
export const SEEN_LIMIT = 1000;
/** An idle conversation closes; the next message starts it again (signalWithStart). */
const IDLE_TIMEOUT = '30 minutes';

export async function conversation(input: ConversationInput): Promise<void> {
  const queue: InboundMessage[] = [...(input.pending ?? [])];
  const seen = new Set(input.seen ?? []);
  const remember = (id: string) => {
    seen.add(id);
    if (seen.size > SEEN_LIMIT) seen.delete(seen.values().next().value as string);
  };

  setHandler(messageSignal, (m) => {
    const id = messageWorkflowId(m.channelId, m.platformMessageId);
    if (seen.has(id)) return;
    remember(id);
    queue.push(m);
  });

  for (;;) {
    const gotWork = await condition(() => queue.length > 0 || workflowInfo().continueAsNewSuggested, IDLE_TIMEOUT);
    if (workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      return continueAsNew<typeof conversation>({ ...input, pending: queue, seen: [...seen] });
    }
    if (!gotWork) return; // idle: nothing queued (a signal arriving now re-runs this task instead)
    const next = queue.shift()!;
    await handleOne(next);
  }
}

async function handleOne(m: InboundMessage): Promise<void> {
  const workflowId = messageWorkflowId(m.channelId, m.platformMessageId);
  try {
    await executeChild(message, {
      workflowId,
      args: [{ message: m }],
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      typedSearchAttributes: [
        { key: ChannelId, value: m.channelId },
        { key: ConversationId, value: m.conversationId },
        { key: SenderId, value: m.senderId },
      ],
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      log.info('message already handled, skipping re-delivery', { workflowId });
    } else {
      // The failed run stays visible (Temporal UI, /api/runs); the conversation goes on with the next message.
      log.warn('message run failed', { workflowId, error: String(err) });
    }
  }
}
