import type { ChannelConfig } from '../runtime/config.js';
import type { ChannelType, InboundMessage } from '../workflows/types.js';

export interface OutboundReply {
  text: string;
  /** stable per run: platforms that support it (Feishu `uuid`) drop a second send with the same key */
  idempotencyKey: string;
}

export interface SendResult {
  platformMessageId?: string;
}

/** How imflow talks back to one IM platform. Inbound verification and parsing join this in channels/<type>.ts. */
export interface ChannelAdapter {
  type: ChannelType;
  send(channel: ChannelConfig, to: InboundMessage, reply: OutboundReply): Promise<SendResult>;
}

/** The platform refused the message (4xx): retrying the same request cannot help. */
export class SendRejected extends Error {
  constructor(message: string, readonly status?: number) {
    super(message);
    this.name = 'SendRejected';
  }
}
