// End: the pipeline stops here; nothing to show but its name.
import type { NodeProps } from '@xyflow/react';
import type { EndData } from '../../../../pipelines/graph.js';
import type { FlowNode } from '../store.js';
import { NodeCard, settings } from './NodeCard.js';

export function EndNode({ id, data, selected }: NodeProps<FlowNode>) {
  return <NodeCard id={id} type="end" label={settings<EndData>(data).label} selected={selected} />;
}
