import { ignoreReason } from '../channels/policy.js';
import type { InboundMessage, VerifyResult } from '../workflows/types.js';
import type { ActivityDeps } from './deps.js';
import { sessionKeyFor } from './session-store.js';

/** Policy checks before any work: is the channel on, is this kind of chat answered, was the bot addressed. */
export const makeVerify = ({ catalog }: Pick<ActivityDeps, 'catalog'>) =>
  async function verify(msg: InboundMessage): Promise<VerifyResult> {
    const channel = await catalog.channel(msg.channelId);
    const sessionKey = sessionKeyFor(msg, channel);
    const reason = ignoreReason(channel, msg);
    return reason ? { allowed: false, reason, sessionKey } : { allowed: true, sessionKey };
  };
