// Hand-off: to whom the conversation goes.
import type { NodeProps } from '@xyflow/react';
import type { HandoffData } from '../../../../pipelines/graph.js';
import type { FlowNode } from '../store.js';
import { Line, NodeCard, settings } from './NodeCard.js';

export function HandoffNode({ id, data, selected }: NodeProps<FlowNode>) {
  const d = settings<HandoffData>(data);
  return (
    <NodeCard id={id} type="handoff" label={d.label} selected={selected}>
      <Line type="handoff" name="target" value={d.target} />
      <Line type="handoff" name="text" value={d.text} />
    </NodeCard>
  );
}
