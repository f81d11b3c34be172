import { createAnnouncer } from '../runtime/alerts.js';
import type { InboundMessage } from '../workflows/types.js';
import type { ActivityDeps } from './deps.js';

export interface HandoffInput {
  message: InboundMessage;
  /** the run and the handoff node: the announcement's key, so a retried step announces once */
  workflowId: string;
  nodeId: string;
  /** the operators' queue, team or person, as the pipeline names it */
  target?: string;
}

/**
 * Tells the operators (the alert targets: webhooks and chats) that a conversation was handed to a
 * human: which chat, who asked, what, and where to find the run. Waits until every target was reached
 * or given up on (a few seconds); a target that cannot be reached does not fail the run.
 */
export const makeAnnounceHandoff = (deps: Pick<ActivityDeps, 'db' | 'kv' | 'catalog' | 'channels'>) => {
  const announce = createAnnouncer(deps);
  return async function announceHandoff({ message: m, workflowId, nodeId, target }: HandoffInput): Promise<{ announced: boolean }> {
    if (m.dryRun) return { announced: false }; // a sandbox run pages nobody
    const text = m.text.length > 500 ? `${m.text.slice(0, 500)}…` : m.text;
    const who = m.senderName ? `${m.senderName} (${m.senderId})` : m.senderId;
    await announce({
      key: `${workflowId}#${nodeId}`,
      at: Date.now(),
      event: 'conversation.handoff',
      subject: `${m.channelId}:${m.conversationId}`,
      detail: { channelId: m.channelId, conversationId: m.conversationId, senderId: m.senderId, target, workflowId },
      payload: { event: 'conversation.handoff', channelId: m.channelId, conversationId: m.conversationId, chatType: m.chatType, sender: who, text, target, workflowId },
      text:
        `【imflow 转人工】${target ? `请 ${target} ` : ''}接手会话：渠道 ${m.channelId}，${m.chatType === 'group' ? '群' : '单聊'} ${m.conversationId}，用户 ${who}。\n` +
        `[imflow handoff] ${target ? `${target}: ` : ''}please take over ${m.channelId} ${m.chatType} ${m.conversationId}, asked by ${who}.\n` +
        `消息 Message: ${text}\n运行 Run: ${workflowId}`,
    });
    return { announced: true };
  };
};
