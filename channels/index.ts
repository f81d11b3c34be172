import type { ChannelType } from '../workflows/types.js';
import { sandboxChannel } from './sandbox.js';
import type { ChannelAdapter } from './types.js';
// platform adapters:

export type ChannelRegistry = Partial<Record<ChannelType, ChannelAdapter<any>>>;

/** Adapters by platform: the webhook route and the reply step find them here. */
export function defaultChannels(): ChannelRegistry {
  return {
    sandbox: sandboxChannel,
    // registered platforms:
  };
}
