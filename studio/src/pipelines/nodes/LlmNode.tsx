// Model: which model answers, with which system prompt.
import type { NodeProps } from '@xyflow/react';
import type { LlmData } from '../../../../pipelines/graph.js';
import { useNames, type FlowNode } from '../store.js';
import { Line, NodeCard, settings } from './NodeCard.js';

export function LlmNode({ id, data, selected }: NodeProps<FlowNode>) {
  const d = settings<LlmData>(data);
  const tools = useNames('tools', d.tools);
  return (
    <NodeCard id={id} type="llm" label={d.label} selected={selected}>
      <Line type="llm" name="model" value={d.model} />
      <Line type="llm" name="systemPrompt" value={d.systemPrompt} />
      <Line type="llm" name="tools" value={tools} />
    </NodeCard>
  );
}
