// Retrieve: which knowledge bases are searched.
import type { NodeProps } from '@xyflow/react';
import type { RetrieveData } from '../../../../pipelines/graph.js';
import { useNames, type FlowNode } from '../store.js';
import { Line, NodeCard, settings } from './NodeCard.js';

export function RetrieveNode({ id, data, selected }: NodeProps<FlowNode>) {
  const d = settings<RetrieveData>(data);
  const bases = useNames('knowledgeBases', d.knowledgeBases);
  return (
    <NodeCard id={id} type="retrieve" label={d.label} selected={selected}>
      <Line type="retrieve" name="knowledgeBases" value={bases} />
      <Line type="retrieve" name="topK" value={d.topK} />
    </NodeCard>
  );
}
