import type { ChannelAdapter } from './types.js';

/** The console's sandbox: replies are recorded by the reply step and shown in the run; nothing leaves imflow. */
export const sandboxChannel: ChannelAdapter = {
  type: 'sandbox',
  async send(_channel, _to, reply) {
    return { platformMessageId: `sandbox:${reply.idempotencyKey}` };
  },
};
