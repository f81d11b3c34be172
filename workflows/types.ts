// Types shared by the API, the activities and the workflows. Pure declarations: workflow code imports them.
import type { PinnedPipeline, ReplyButton } from '../pipelines/graph.js';

export type ChannelType = 'dingtalk' | 'feishu' | 'wecom' | 'sandbox';
export type ChatType = 'group' | 'direct';

/** One inbound IM message, normalised from any platform. Small by design: it travels through workflow history. */
export interface InboundMessage {
  channelId: string;
  channelType: ChannelType;
  /** the platform's id for this message: the dedup key */
  platformMessageId: string;
  /** the platform's id for the chat (group or one-to-one) */
  conversationId: string;
  chatType: ChatType;
  senderId: string;
  senderName?: string;
  text: string;
  /** the bot was @-mentioned */
  mentioned: boolean;
  /** ms since epoch, when imflow received it */
  receivedAt: number;
  /** platform data the reply needs (e.g. DingTalk sessionWebhook); no secrets */
  replyTarget?: Record<string, string>;
  /** sandbox: run everything, send nothing to the platform */
  dryRun?: boolean;
  /** sandbox overrides */
  model?: string;
  pipelineId?: string;
  /** sandbox: run this version of pipelineId ("draft" = the unpublished draft); the published one otherwise */
  pipelineVersion?: number | 'draft';
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export type StepName =
  | 'verify'
  | 'loadSession'
  | 'queue'
  | 'matchRule'
  | 'retrieve'
  | 'callModel'
  | 'callTool'
  | 'reply'
  | 'saveSession'
  | 'condition'
  | 'handoff'
  | 'audit';

export interface TraceStep {
  step: StepName;
  /** the pipeline node this step ran for (absent for the steps around the pipeline) */
  nodeId?: string;
  status: 'ok' | 'failed' | 'skipped';
  startedAt: number;
  durationMs: number;
  input?: unknown;
  output?: unknown;
  error?: string;
}

export type RunStatus = 'running' | 'replied' | 'ignored' | 'failed';

export interface MessageResult {
  workflowId: string;
  status: RunStatus;
  reply?: { text: string; model?: string; buttons?: ReplyButton[] };
  trace: TraceStep[];
}

export interface VerifyResult {
  allowed: boolean;
  reason?: string;
  /** key of the session this message reads and extends */
  sessionKey: string;
}

export interface SessionSnapshot {
  sessionKey: string;
  history: ChatMessage[];
  source: 'cache' | 'database';
}

export interface RuleMatch {
  pipelineId: string;
  pipelineVersion: number;
  reason: string;
  /** ordered: primary first, then fallbacks */
  models: string[];
  systemPrompt?: string;
  /** knowledge bases the retrieve step searches (absent in runs recorded before knowledge bases) */
  knowledgeBases?: string[];
  /** the pipeline version this run follows; absent = the built-in default (runs before pipelines, too) */
  pipeline?: PinnedPipeline;
  /** the sender's departments and roles: what they may retrieve and call (absent before departments) */
  sender?: { departments: string[]; roles: string[] };
}

/** One retrieved chunk: where it is, not what it says (document text stays out of workflow history). */
export interface RetrievalHit {
  /** its number in the context: "[1] …" */
  source: number;
  documentId: string;
  documentName: string;
  /** chunk ordinal within the document, and its character offsets in the parsed text */
  position: number;
  start: number;
  end: number;
  /** fused score: 1 = ranked first by every retriever that ran */
  score: number;
  via: ('lexical' | 'dense')[];
}

export interface Retrieval {
  hits: RetrievalHit[];
  context: string;
  mode?: 'lexical' | 'hybrid';
  /** why retrieval was less than hybrid, e.g. no embedding model configured */
  note?: string;
  /** bases the sender's departments may not read: not searched */
  denied?: string[];
}

/** A tool call the model asked for. */
export interface ToolCallRequest {
  id: string;
  /** the function name the model used */
  name: string;
  /** the tool it names, when it names one that was offered */
  toolId?: string;
  argumentsJson: string;
}

/** One model ↔ tools round trip, fed back to the model on its next call. */
export interface ToolTurn {
  /** what the model said alongside its calls, if anything */
  text?: string;
  calls: ToolCallRequest[];
  /** the tools' answers (or errors) as the text the model reads, one per call */
  results: string[];
}

export interface ModelAnswer {
  text: string;
  model: string;
  usage?: { promptTokens: number; completionTokens: number };
  promptTokens: number;
  droppedHistory: number;
  latencyMs: number;
  firstTokenMs?: number;
  reasoning?: string;
  /** the prompt was rebuilt for a server whose context window is smaller than configured */
  contextWindow?: number;
  /** the model wants these tools called before it answers */
  toolCalls?: ToolCallRequest[];
  /** tools the node allows but the sender's departments may not use: not offered */
  toolsDenied?: string[];
}

export interface ReplyReceipt {
  sent: boolean;
  duplicate: boolean;
  dryRun: boolean;
  platformMessageId?: string;
}
