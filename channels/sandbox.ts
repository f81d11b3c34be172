import crypto from 'node:crypto';
import { z } from 'zod';
import { type ChannelAdapter, WebhookRejected } from './types.js';

// What the sandbox accepts as a "platform payload": the fields of a message, nothing more.
const payloadSchema = z.strictObject({
  text: z.string().min(1).max(16_000),
  senderId: z.string().min(1).max(128).optional(),
  conversationId: z.string().min(1).max(256).optional(),
  messageId: z.string().min(1).max(256).optional(),
  chatType: z.enum(['direct', 'group']).optional(),
  mentioned: z.boolean().optional(),
});

/** The console's sandbox: no webhook; replies are recorded by the reply step and shown in the run. */
export const sandboxChannel: ChannelAdapter<unknown> = {
  type: 'sandbox',
  verify() {
    throw new WebhookRejected(404, 'the sandbox channel has no webhook: use POST /api/sandbox/messages');
  },
  receive(channel, payload, now) {
    const p = payloadSchema.safeParse(payload);
    if (!p.success) throw new WebhookRejected(400, `payload.${p.error.issues[0]!.path.join('.')}: ${p.error.issues[0]!.message}`);
    const senderId = p.data.senderId ?? 'sandbox-user';
    return {
      messages: [
        {
          channelId: channel.id,
          channelType: 'sandbox',
          platformMessageId: p.data.messageId ?? crypto.randomUUID(),
          conversationId: p.data.conversationId ?? `sandbox-${senderId}`,
          chatType: p.data.chatType ?? 'direct',
          senderId,
          text: p.data.text,
          mentioned: p.data.mentioned ?? true,
          receivedAt: now,
        },
      ],
      response: { status: 200 },
    };
  },
  async send(_channel, _to, reply) {
    return { platformMessageId: `sandbox:${reply.idempotencyKey}` };
  },
};
