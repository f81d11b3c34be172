import type { InboundMessage, VerifyResult } from '../workflows/types.js';
import type { ActivityDeps } from './deps.js';
import { sessionKeyFor } from './session-store.js';

/** Policy checks before any work: is the channel on, is this kind of chat answered, was the bot addressed. */
export const makeVerify = ({ catalog }: Pick<ActivityDeps, 'catalog'>) =>
  async function verify(msg: InboundMessage): Promise<VerifyResult> {
    const channel = await catalog.channel(msg.channelId);
    const sessionKey = sessionKeyFor(msg, channel);
    const deny = (reason: string): VerifyResult => ({ allowed: false, reason, sessionKey });
    if (!channel) return deny(`channel "${msg.channelId}" does not exist`);
    if (!channel.enabled) return deny('channel is disabled');
    if (msg.chatType === 'group' && !channel.groups) return deny('group chats are disabled for this channel');
    if (msg.chatType === 'direct' && !channel.direct) return deny('direct chats are disabled for this channel');
    if (msg.chatType === 'group' && channel.respondTo === 'mention' && !msg.mentioned) return deny('not @-mentioned');
    if (!msg.text.trim()) return deny('empty message');
    return { allowed: true, sessionKey };
  };
