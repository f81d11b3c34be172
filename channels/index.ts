import type { ChannelType } from '../workflows/types.js';
import { dingtalkChannel } from './dingtalk.js';
import { feishuChannel } from './feishu.js';
import { sandboxChannel } from './sandbox.js';
import type { ChannelAdapter } from './types.js';
import { wecomChannel } from './wecom.js';

export type ChannelRegistry = Partial<Record<ChannelType, ChannelAdapter<any>>>;

/** Adapters by platform: the webhook route, the sandbox and the reply step find them here. */
export function defaultChannels(): ChannelRegistry {
  return { sandbox: sandboxChannel, dingtalk: dingtalkChannel, feishu: feishuChannel, wecom: wecomChannel };
}
