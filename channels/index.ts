import type { ChannelType } from '../workflows/types.js';
import { sandboxChannel } from './sandbox.js';
import type { ChannelAdapter } from './types.js';

export type ChannelRegistry = Partial<Record<ChannelType, ChannelAdapter>>;

/** Adapters by platform. DingTalk, Feishu and WeCom register here as they land. */
export function defaultChannels(): ChannelRegistry {
  return { sandbox: sandboxChannel };
}
