import type { ChannelConfig } from '../runtime/config.js';
import type { InboundMessage } from '../workflows/types.js';

/**
 * Why a message on this channel gets no answer, or undefined if it should be answered. The webhook
 * uses it to record ignored messages without starting a run; the verify step applies it again, so a
 * change made in the console between the two still counts.
 */
export function ignoreReason(channel: ChannelConfig | undefined, msg: InboundMessage): string | undefined {
  if (!channel) return `channel "${msg.channelId}" does not exist`;
  if (!channel.enabled) return 'channel is disabled';
  if (msg.chatType === 'group' && !channel.groups) return 'group chats are disabled for this channel';
  if (msg.chatType === 'direct' && !channel.direct) return 'direct chats are disabled for this channel';
  if (msg.chatType === 'group' && channel.respondTo === 'mention' && !msg.mentioned) return 'not @-mentioned';
  if (!msg.text.trim()) return 'empty message';
  return undefined;
}
