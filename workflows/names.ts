// Temporal names are a fixed contract (docs/architecture §3): other tools find runs by them.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const TASK_QUEUE = 'imflow';

export const conversationWorkflowId = (channelId: string, conversationKey: string) => `conv:${channelId}:${conversationKey}`;
export const messageWorkflowId = (channelId: string, platformMessageId: string) => `msg:${channelId}:${platformMessageId}`;

export const ChannelId = defineSearchAttributeKey('ChannelId', SearchAttributeType.KEYWORD);
export const ConversationId = defineSearchAttributeKey('ConversationId', SearchAttributeType.KEYWORD);
export const SenderId = defineSearchAttributeKey('SenderId', SearchAttributeType.KEYWORD);
export const PipelineId = defineSearchAttributeKey('PipelineId', SearchAttributeType.KEYWORD);

export const SEARCH_ATTRIBUTES = { ChannelId: 'Keyword', ConversationId: 'Keyword', SenderId: 'Keyword', PipelineId: 'Keyword' } as const;
