// The pipeline graph (architecture §6) as plain types: the workflow interprets it, the API stores and
// validates it (pipelines/schema.ts checks every field against these types), the studio draws it.
// Type-only on purpose: workflow code imports it, so it must not pull in runtime libraries.

export type NodeType = 'trigger' | 'retrieve' | 'llm' | 'tool' | 'condition' | 'reply' | 'handoff' | 'end';

/** Settings every node may carry. */
export interface NodeCommon {
  /** the analyst's name for the node, shown on the canvas */
  label?: string;
  /** per-node limit on one attempt (ms); the step's default otherwise */
  timeoutMs?: number;
  /** attempts after the first one; the step's default otherwise */
  retries?: number;
}

export interface TimeWindow {
  /** ISO weekdays 1 (Monday) … 7 (Sunday); every day when absent */
  days?: number[];
  /** "HH:MM", inclusive; a window past midnight (22:00–06:00) wraps */
  start: string;
  /** "HH:MM", exclusive */
  end: string;
  /** IANA zone, e.g. "Asia/Shanghai" */
  timeZone: string;
}

/** When a message takes this pipeline. Every condition given must hold (AND); absent ones always hold. */
export interface TriggerData extends NodeCommon {
  channels?: string[];
  /** at least one of these appears in the text */
  keywordsAny?: string[];
  /** every one of these appears in the text */
  keywordsAll?: string[];
  /** JavaScript regular expression source, matched against the text (flag "u") */
  regex?: string;
  chatType?: 'any' | 'group' | 'direct';
  /** only when the bot is @-mentioned */
  mentioned?: boolean;
  /** the sender belongs to one of these departments (ids from /api/departments) */
  departments?: string[];
  /** the sender holds one of these roles */
  roles?: string[];
  timeWindow?: TimeWindow;
  /** higher wins when several published pipelines match; default 0 */
  priority?: number;
}

export interface RetrieveData extends NodeCommon {
  knowledgeBases: string[];
  topK?: number;
  minScore?: number;
  /** template of the search query; default "{{message.text}}" */
  query?: string;
}

export interface LlmData extends NodeCommon {
  /** "<provider>/<model>"; the configured default when absent */
  model?: string;
  /** tried in order when the model fails; the configured fallbacks when absent */
  fallbacks?: string[];
  /** template; the default system prompt when absent */
  systemPrompt?: string;
  /** template of the user turn; default "{{message.text}}" */
  prompt?: string;
  temperature?: number;
  /** tool ids the model may call (OpenAI function calling) */
  tools?: string[];
  /** most model ↔ tool round trips before the model must answer; default 4 */
  maxToolSteps?: number;
}

export interface ToolData extends NodeCommon {
  tool: string;
  /** argument name → template, e.g. { orderNo: "{{vars.orderNo}}" } */
  arguments: Record<string, string>;
  /** the tool's output is kept as {{vars.<saveAs>}}; default the node id */
  saveAs?: string;
}

export interface ConditionData extends NodeCommon {
  /** what is tested: the message text, the latest reply text, or a variable */
  subject: 'message' | 'reply' | 'variable';
  /** the variable's name when subject is "variable" */
  variable?: string;
  operator: 'contains' | 'regex' | 'equals';
  value: string;
}

export interface ReplyButton {
  label: string;
  /** opens this URL; without one the button sends its label back as a message */
  url?: string;
}

export interface ReplyData extends NodeCommon {
  /** template; default "{{reply.text}}" */
  text?: string;
  buttons?: ReplyButton[];
}

export interface HandoffData extends NodeCommon {
  /** said to the user; a default notice when absent */
  text?: string;
  /** free text for the operators: queue, team or person */
  target?: string;
}

export type EndData = NodeCommon;

interface NodeOf<T extends NodeType, D> {
  id: string;
  type: T;
  position: { x: number; y: number };
  data: D;
}

export type PipelineNode =
  | NodeOf<'trigger', TriggerData>
  | NodeOf<'retrieve', RetrieveData>
  | NodeOf<'llm', LlmData>
  | NodeOf<'tool', ToolData>
  | NodeOf<'condition', ConditionData>
  | NodeOf<'reply', ReplyData>
  | NodeOf<'handoff', HandoffData>
  | NodeOf<'end', EndData>;

export interface PipelineEdge {
  id: string;
  source: string;
  target: string;
  /** "true" | "false" on condition nodes; absent elsewhere */
  sourceHandle?: string | null;
}

export interface PipelineGraph {
  nodes: PipelineNode[];
  edges: PipelineEdge[];
}

/** The published version a run is pinned to: carried in the run's history, so later edits never reach it. */
export interface PinnedPipeline {
  id: string;
  /** 0 for the built-in default pipeline; "draft" runs only come from the sandbox */
  version: number | 'draft';
  name?: string;
  graph: PipelineGraph;
}
