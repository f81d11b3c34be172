// The node catalogue: for each node type, its handles, its name and description in zh-CN and English,
// and the fields of its settings form. The studio renders palettes and forms from this (analysts never
// see JSON); GET /api/pipelines/catalogue serves the same data. Pure data: the studio bundles it.
import type { NodeType } from './graph.js';
import { LIMITS } from './schema.js';

export interface Text {
  zh: string;
  en: string;
}

export type FieldKind =
  | 'text'
  | 'textarea'
  /** a textarea whose {{placeholders}} are checked (pipelines/template.ts) */
  | 'template'
  | 'number'
  /** one value: from `options`, or from `lookup` */
  | 'select'
  /** several values from `lookup` */
  | 'multiselect'
  /** free words typed by the analyst (keywords, roles) */
  | 'tags'
  | 'switch'
  /** a TimeWindow: weekdays, start, end, time zone */
  | 'time-window'
  /** ReplyButton[]: label and optional URL */
  | 'buttons'
  /** Record<string, string>: name → template */
  | 'key-value';

/** Where a select's choices come from: GET /api/pipelines/lookups (departments: GET /api/departments). */
export type Lookup = 'models' | 'knowledgeBases' | 'tools' | 'channels' | 'departments';

export interface FieldDescriptor {
  /** the key in the node's data */
  name: string;
  kind: FieldKind;
  label: Text;
  help?: Text;
  required?: boolean;
  default?: unknown;
  lookup?: Lookup;
  options?: { value: string; label: Text }[];
  /** numbers: the bounds; text: the most characters */
  min?: number;
  max?: number;
  step?: number;
  /** shown only when another field has this value */
  visibleWhen?: { field: string; equals: unknown };
  /** rarely changed: the form may fold it away */
  advanced?: boolean;
}

export interface SourceHandle {
  /** the edge's sourceHandle: "true" / "false" on conditions, null elsewhere */
  id: string | null;
  label?: Text;
}

export interface NodeKind {
  type: NodeType;
  label: Text;
  description: Text;
  /** whether edges may come in (every node but the trigger) */
  target: boolean;
  /** where edges may go out (none from end and handoff) */
  sources: SourceHandle[];
  fields: FieldDescriptor[];
  /** the data of a node just dropped on the canvas */
  defaults: Record<string, unknown>;
}

const label: FieldDescriptor = { name: 'label', kind: 'text', label: { zh: '名称', en: 'Name' }, help: { zh: '画布上显示的节点名称', en: 'Shown on the canvas' } };
const timeoutMs: FieldDescriptor = {
  name: 'timeoutMs',
  kind: 'number',
  label: { zh: '超时（毫秒）', en: 'Timeout (ms)' },
  help: { zh: '单次尝试的最长时间；留空用默认值', en: 'Longest time for one attempt; empty for the default' },
  ...LIMITS.timeoutMs,
  step: 100,
  advanced: true,
};
const retries: FieldDescriptor = {
  name: 'retries',
  kind: 'number',
  label: { zh: '重试次数', en: 'Retries' },
  help: { zh: '失败后再试的次数；留空用默认值', en: 'Attempts after a failure; empty for the default' },
  ...LIMITS.retries,
  step: 1,
  advanced: true,
};
/** Steps that call something outside (a model, a tool, a platform) may be given their own time limit and retries. */
const callSettings = [timeoutMs, retries];

const next: SourceHandle[] = [{ id: null }];

export const NODE_CATALOGUE: NodeKind[] = [
  {
    type: 'trigger',
    label: { zh: '触发条件', en: 'Trigger' },
    description: {
      zh: '消息满足全部已填写的条件时走这条流程；多条流程都满足时，优先级高的生效',
      en: 'A message takes this pipeline when every condition filled in holds; the highest priority wins among several',
    },
    target: false,
    sources: next,
    fields: [
      label,
      { name: 'keywordsAny', kind: 'tags', label: { zh: '包含任一关键词', en: 'Contains any keyword' }, help: { zh: '如：退货、退款', en: 'e.g. refund, return' } },
      { name: 'keywordsAll', kind: 'tags', label: { zh: '包含全部关键词', en: 'Contains every keyword' } },
      {
        name: 'regex',
        kind: 'text',
        label: { zh: '正则表达式', en: 'Regular expression' },
        help: { zh: '匹配消息文本，如 订单号\\s*\\d{8}', en: 'Matched against the text, e.g. order\\s*\\d{8}' },
        max: LIMITS.regexLength,
      },
      { name: 'channels', kind: 'multiselect', lookup: 'channels', label: { zh: '渠道', en: 'Channels' }, help: { zh: '不选则所有渠道', en: 'None chosen: every channel' } },
      {
        name: 'chatType',
        kind: 'select',
        label: { zh: '会话类型', en: 'Chat type' },
        default: 'any',
        options: [
          { value: 'any', label: { zh: '群聊和单聊', en: 'Groups and direct' } },
          { value: 'group', label: { zh: '仅群聊', en: 'Groups only' } },
          { value: 'direct', label: { zh: '仅单聊', en: 'Direct only' } },
        ],
      },
      { name: 'mentioned', kind: 'switch', label: { zh: '仅在 @机器人 时', en: 'Only when @-mentioned' }, default: false },
      { name: 'departments', kind: 'multiselect', lookup: 'departments', label: { zh: '发送者部门', en: "Sender's department" }, help: { zh: '属于其中任一部门', en: 'In any of these' } },
      { name: 'roles', kind: 'tags', label: { zh: '发送者角色', en: "Sender's role" }, help: { zh: '拥有其中任一角色', en: 'Holds any of these' } },
      { name: 'timeWindow', kind: 'time-window', label: { zh: '时间范围', en: 'Time window' }, help: { zh: '如 22:00–06:00 跨夜', en: 'e.g. 22:00–06:00 past midnight' } },
      {
        name: 'priority',
        kind: 'number',
        label: { zh: '优先级', en: 'Priority' },
        help: { zh: '数值大的优先', en: 'Higher wins' },
        default: 0,
        ...LIMITS.priority,
        step: 1,
      },
    ],
    defaults: {},
  },
  {
    type: 'retrieve',
    label: { zh: '知识检索', en: 'Retrieve knowledge' },
    description: { zh: '从知识库检索相关内容，供 {{retrieval.context}} 使用', en: 'Searches knowledge bases; the result is {{retrieval.context}}' },
    target: true,
    sources: next,
    fields: [
      label,
      { name: 'knowledgeBases', kind: 'multiselect', lookup: 'knowledgeBases', label: { zh: '知识库', en: 'Knowledge bases' }, required: true, default: [] },
      { name: 'topK', kind: 'number', label: { zh: '返回条数', en: 'Results (top K)' }, default: 5, ...LIMITS.topK, step: 1 },
      { name: 'minScore', kind: 'number', label: { zh: '最低相关度', en: 'Minimum score' }, default: 0, ...LIMITS.minScore, step: 0.05, advanced: true },
      { name: 'query', kind: 'template', label: { zh: '检索语句', en: 'Search query' }, default: '{{message.text}}', advanced: true },
      ...callSettings,
    ],
    defaults: { knowledgeBases: [] },
  },
  {
    type: 'llm',
    label: { zh: '大模型', en: 'Model' },
    description: { zh: '调用大模型生成回复，结果为 {{reply.text}}', en: 'Asks a model for an answer; the result is {{reply.text}}' },
    target: true,
    sources: next,
    fields: [
      label,
      { name: 'model', kind: 'select', lookup: 'models', label: { zh: '模型', en: 'Model' }, help: { zh: '不选则用默认模型', en: 'None chosen: the default model' } },
      { name: 'fallbacks', kind: 'multiselect', lookup: 'models', label: { zh: '备用模型', en: 'Fallback models' }, help: { zh: '按顺序尝试', en: 'Tried in order' } },
      {
        name: 'systemPrompt',
        kind: 'template',
        label: { zh: '系统提示词', en: 'System prompt' },
        help: { zh: '可用 {{retrieval.context}}、{{vars.x}} 等变量', en: 'May use {{retrieval.context}}, {{vars.x}} and others' },
      },
      { name: 'prompt', kind: 'template', label: { zh: '用户消息', en: 'User message' }, default: '{{message.text}}', advanced: true },
      { name: 'temperature', kind: 'number', label: { zh: '温度', en: 'Temperature' }, ...LIMITS.temperature, step: 0.1, advanced: true },
      { name: 'tools', kind: 'multiselect', lookup: 'tools', label: { zh: '可调用的工具', en: 'Tools it may call' } },
      { name: 'maxToolSteps', kind: 'number', label: { zh: '最多工具调用轮数', en: 'Most tool rounds' }, default: 4, ...LIMITS.maxToolSteps, step: 1, advanced: true },
      ...callSettings,
    ],
    defaults: {},
  },
  {
    type: 'tool',
    label: { zh: '调用工具', en: 'Call a tool' },
    description: { zh: '调用 ERP 等外部接口，结果存为 {{vars.名称}}', en: 'Calls an ERP or other API; the result is kept as {{vars.name}}' },
    target: true,
    sources: next,
    fields: [
      label,
      { name: 'tool', kind: 'select', lookup: 'tools', label: { zh: '工具', en: 'Tool' }, required: true, default: '' },
      {
        name: 'arguments',
        kind: 'key-value',
        label: { zh: '参数', en: 'Arguments' },
        help: { zh: '参数名 → 值，如 orderNo → {{vars.orderNo}}', en: 'Name → value, e.g. orderNo → {{vars.orderNo}}' },
        required: true,
        default: {},
      },
      { name: 'saveAs', kind: 'text', label: { zh: '结果变量名', en: 'Save result as' }, help: { zh: '不填则用节点 ID', en: 'Empty: the node id' } },
      ...callSettings,
    ],
    defaults: { tool: '', arguments: {} },
  },
  {
    type: 'condition',
    label: { zh: '条件分支', en: 'Condition' },
    description: { zh: '判断消息、回复或变量，分“是”“否”两路', en: 'Tests the message, the reply or a variable; goes on by "yes" or "no"' },
    target: true,
    sources: [
      { id: 'true', label: { zh: '是', en: 'Yes' } },
      { id: 'false', label: { zh: '否', en: 'No' } },
    ],
    fields: [
      label,
      {
        name: 'subject',
        kind: 'select',
        label: { zh: '判断对象', en: 'Test' },
        required: true,
        default: 'reply',
        options: [
          { value: 'message', label: { zh: '用户消息', en: 'The message' } },
          { value: 'reply', label: { zh: '模型回复', en: 'The reply' } },
          { value: 'variable', label: { zh: '变量', en: 'A variable' } },
        ],
      },
      { name: 'variable', kind: 'text', label: { zh: '变量名', en: 'Variable' }, required: true, visibleWhen: { field: 'subject', equals: 'variable' } },
      {
        name: 'operator',
        kind: 'select',
        label: { zh: '条件', en: 'Operator' },
        required: true,
        default: 'contains',
        options: [
          { value: 'contains', label: { zh: '包含', en: 'contains' } },
          { value: 'equals', label: { zh: '等于', en: 'equals' } },
          { value: 'regex', label: { zh: '匹配正则', en: 'matches regex' } },
        ],
      },
      { name: 'value', kind: 'text', label: { zh: '值', en: 'Value' }, required: true, default: '' },
    ],
    defaults: { subject: 'reply', operator: 'contains', value: '' },
  },
  {
    type: 'reply',
    label: { zh: '回复', en: 'Reply' },
    description: { zh: '把文本（和按钮）发回会话', en: 'Sends text (and buttons) back to the chat' },
    target: true,
    sources: next,
    fields: [
      label,
      { name: 'text', kind: 'template', label: { zh: '回复内容', en: 'Text' }, default: '{{reply.text}}' },
      { name: 'buttons', kind: 'buttons', label: { zh: '按钮', en: 'Buttons' }, help: { zh: '无链接的按钮点击后发送按钮文字', en: 'A button without a URL sends its label back' } },
      ...callSettings,
    ],
    defaults: { text: '{{reply.text}}' },
  },
  {
    type: 'handoff',
    label: { zh: '转人工', en: 'Hand off' },
    description: { zh: '转交人工客服，流程到此结束', en: 'Passes the conversation to a person; the pipeline ends here' },
    target: true,
    sources: [],
    fields: [
      label,
      { name: 'text', kind: 'template', label: { zh: '告知用户', en: 'Tell the user' }, help: { zh: '不填则用默认提示', en: 'Empty: a default notice' } },
      { name: 'target', kind: 'text', label: { zh: '转给', en: 'Hand to' }, help: { zh: '队列、团队或人员', en: 'Queue, team or person' } },
      ...callSettings,
    ],
    defaults: {},
  },
  {
    type: 'end',
    label: { zh: '结束', en: 'End' },
    description: { zh: '流程到此结束', en: 'The pipeline ends here' },
    target: true,
    sources: [],
    fields: [label],
    defaults: {},
  },
];

/** The catalogue entry of a node type. */
export function nodeKind(type: NodeType): NodeKind {
  return NODE_CATALOGUE.find((k) => k.type === type)!;
}
