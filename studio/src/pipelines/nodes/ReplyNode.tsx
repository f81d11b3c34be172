// Reply: the text sent back and its buttons.
import type { NodeProps } from '@xyflow/react';
import { Tag } from 'antd';
import type { ReplyData } from '../../../../pipelines/graph.js';
import type { FlowNode } from '../store.js';
import { Line, NodeCard, settings } from './NodeCard.js';

export function ReplyNode({ id, data, selected }: NodeProps<FlowNode>) {
  const d = settings<ReplyData>(data);
  return (
    <NodeCard id={id} type="reply" label={d.label} selected={selected}>
      <Line type="reply" name="text" value={d.text} />
      {d.buttons && d.buttons.length > 0 && (
        <div className="pl-node-buttons">
          {d.buttons.map((b, i) => (
            <Tag key={i} color="blue">
              {b.label}
            </Tag>
          ))}
        </div>
      )}
    </NodeCard>
  );
}
