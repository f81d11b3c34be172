// Tool: which tool is called and where its result is kept.
import type { NodeProps } from '@xyflow/react';
import type { ToolData } from '../../../../pipelines/graph.js';
import { useNames, type FlowNode } from '../store.js';
import { Line, NodeCard, settings } from './NodeCard.js';

export function ToolNode({ id, data, selected }: NodeProps<FlowNode>) {
  const d = settings<ToolData>(data);
  const tool = useNames('tools', d.tool);
  return (
    <NodeCard id={id} type="tool" label={d.label} selected={selected}>
      <Line type="tool" name="tool" value={tool} />
      <Line type="tool" name="arguments" value={Object.keys(d.arguments ?? {})} />
      <Line type="tool" name="saveAs" value={d.saveAs && `{{vars.${d.saveAs}}}`} />
    </NodeCard>
  );
}
