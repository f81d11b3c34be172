// Condition: the test as a sentence ("the reply contains 联系人工"), with a "yes" and a "no" way out.
import type { NodeProps } from '@xyflow/react';
import { nodeKind } from '../../../../pipelines/catalogue.js';
import type { ConditionData } from '../../../../pipelines/graph.js';
import { useLang } from '../i18n.js';
import { inLang } from '../nodeTypes.js';
import type { FlowNode } from '../store.js';
import { NodeCard, settings } from './NodeCard.js';

export function ConditionNode({ id, data, selected }: NodeProps<FlowNode>) {
  const d = settings<ConditionData>(data);
  const lang = useLang();
  const option = (field: string, value: string) => {
    const found = nodeKind('condition').fields.find((f) => f.name === field)?.options?.find((o) => o.value === value);
    return found ? inLang(found.label, lang) : value;
  };
  const subject = d.subject === 'variable' ? `{{vars.${d.variable ?? ''}}}` : option('subject', d.subject);
  return (
    <NodeCard id={id} type="condition" label={d.label} selected={selected}>
      <div className="pl-node-line">
        {subject} {option('operator', d.operator)} <b>“{d.value}”</b>
      </div>
    </NodeCard>
  );
}
