import type { Client } from '@temporalio/client';
import { messagesReceived } from '../runtime/metrics.js';
import type { conversation } from '../workflows/conversation.js';
import { ChannelId, ConversationId, conversationWorkflowId, messageWorkflowId, TASK_QUEUE } from '../workflows/names.js';
import type { InboundMessage } from '../workflows/types.js';

/**
 * Hands a verified, normalised message to its conversation's workflow (started if needed) and returns
 * at once: the platform is acked while the answer is produced in the background. Calling this again
 * with the same message is harmless (the conversation drops ids it has seen).
 */
export async function ingestMessage(client: Client, msg: InboundMessage): Promise<{ workflowId: string; conversationWorkflowId: string }> {
  const convId = conversationWorkflowId(msg.channelId, msg.conversationId);
  await client.workflow.signalWithStart<typeof conversation, [InboundMessage]>('conversation', {
    taskQueue: TASK_QUEUE,
    workflowId: convId,
    args: [{ channelId: msg.channelId, conversationKey: msg.conversationId }],
    signal: 'message',
    signalArgs: [msg],
    typedSearchAttributes: [
      { key: ChannelId, value: msg.channelId },
      { key: ConversationId, value: msg.conversationId },
    ],
  });
  messagesReceived.inc({ channel: msg.channelId });
  return { workflowId: messageWorkflowId(msg.channelId, msg.platformMessageId), conversationWorkflowId: convId };
}
