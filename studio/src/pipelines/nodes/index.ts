// React Flow's nodeTypes: one component per pipeline node type.
import type { NodeTypes } from '@xyflow/react';
import { ConditionNode } from './ConditionNode.js';
import { EndNode } from './EndNode.js';
import { HandoffNode } from './HandoffNode.js';
import { LlmNode } from './LlmNode.js';
import { ReplyNode } from './ReplyNode.js';
import { RetrieveNode } from './RetrieveNode.js';
import { ToolNode } from './ToolNode.js';
import { TriggerNode } from './TriggerNode.js';

export const nodeTypes = {
  trigger: TriggerNode,
  retrieve: RetrieveNode,
  llm: LlmNode,
  tool: ToolNode,
  condition: ConditionNode,
  reply: ReplyNode,
  handoff: HandoffNode,
  end: EndNode,
} satisfies NodeTypes;
