// Trigger: when a message takes this pipeline. Shows the conditions that are filled in.
import type { NodeProps } from '@xyflow/react';
import type { TriggerData } from '../../../../pipelines/graph.js';
import { useNames, type FlowNode } from '../store.js';
import { Line, NodeCard, settings } from './NodeCard.js';

export function TriggerNode({ id, data, selected }: NodeProps<FlowNode>) {
  const d = settings<TriggerData>(data);
  const departments = useNames('departments', d.departments);
  const channels = useNames('channels', d.channels);
  const hours = d.timeWindow && `${d.timeWindow.start}–${d.timeWindow.end} ${d.timeWindow.timeZone}`;
  return (
    <NodeCard id={id} type="trigger" label={d.label} selected={selected}>
      <Line type="trigger" name="keywordsAny" value={d.keywordsAny} />
      <Line type="trigger" name="keywordsAll" value={d.keywordsAll} />
      <Line type="trigger" name="regex" value={d.regex} />
      <Line type="trigger" name="channels" value={channels} />
      <Line type="trigger" name="departments" value={departments} />
      <Line type="trigger" name="roles" value={d.roles} />
      <Line type="trigger" name="timeWindow" value={hours} />
      <Line type="trigger" name="priority" value={d.priority || undefined} />
    </NodeCard>
  );
}
