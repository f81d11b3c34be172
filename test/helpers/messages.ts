import crypto from 'node:crypto';
import type { InboundMessage } from '../../workflows/types.js';

/** A normalised inbound message on the built-in sandbox channel, as a channel adapter would produce it. */
export function inbound(overrides: Partial<InboundMessage> = {}): InboundMessage {
  return {
    channelId: 'sandbox',
    channelType: 'sandbox',
    platformMessageId: crypto.randomUUID(),
    conversationId: `conv-${crypto.randomBytes(4).toString('hex')}`,
    chatType: 'direct',
    senderId: 'u-1',
    text: 'hello',
    mentioned: true,
    receivedAt: Date.now(),
    ...overrides,
  };
}
