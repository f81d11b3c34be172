// The look every node shares: a coloured header with the node type, the analyst's name for it, a short
// summary of its settings, a red mark when it has problems and, after a test run, whether it ran and how
// long it took. Handles come from the catalogue: conditions get "yes" and "no", end and hand-off none.
import { Badge, Tooltip } from 'antd';
import { Handle, Position } from '@xyflow/react';
import type { ReactNode } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { nodeKind } from '../../../../pipelines/catalogue.js';
import type { NodeType } from '../../../../pipelines/graph.js';
import { useLang } from '../i18n.js';
import { inLang, NodeIcon, nodeColor } from '../nodeTypes.js';
import { useEditor } from '../store.js';

interface Props {
  id: string;
  type: NodeType;
  label?: unknown;
  selected?: boolean;
  /** lines describing the settings, shown under the name */
  children?: ReactNode;
}

/** A node's output as the tooltip on its duration shows it: the test run drawer has all of it. */
const brief = (output: unknown) => {
  const text = typeof output === 'string' ? output : JSON.stringify(output, null, 1);
  return text.length > 400 ? `${text.slice(0, 399)}…` : text;
};

export const formatMs = (ms: number) => (ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`);

export function NodeCard({ id, type, label, selected, children }: Props) {
  const lang = useLang();
  const kind = nodeKind(type);
  const problems = useEditor(useShallow((s) => s.issues.filter((i) => i.nodeId === id && !i.edgeId).map((i) => i.message)));
  const hasRun = useEditor((s) => s.run !== null);
  const ran = useEditor((s) => s.run?.[id]);
  const state = ran ? (ran.status === 'failed' ? 'failed' : 'ran') : hasRun ? 'skipped' : 'idle';
  const handleTop = (i: number) => `${((i + 1) * 100) / (kind.sources.length + 1)}%`;

  return (
    <div
      className={`pl-node pl-node-${state}${problems.length ? ' pl-node-invalid' : ''}${selected ? ' pl-node-selected' : ''}`}
      style={{ ['--pl-color' as string]: nodeColor(type) }}
      data-testid={`node-${id}`}
      data-node-type={type}
      data-run={state}
      data-invalid={problems.length > 0}
    >
      {kind.target && <Handle type="target" position={Position.Left} data-testid={`handle-${id}-in`} />}
      <div className="pl-node-head">
        <NodeIcon type={type} />
        <span className="pl-node-type">{inLang(kind.label, lang)}</span>
        {problems.length > 0 && (
          <Tooltip title={problems.map((p, i) => <div key={i}>{p}</div>)}>
            <Badge count={problems.length} size="small" data-testid={`node-${id}-problems`} />
          </Tooltip>
        )}
        {ran && (
          <Tooltip title={ran.error ?? (ran.output !== undefined && <pre className="pl-node-output">{brief(ran.output)}</pre>)}>
            <span className="pl-node-duration" data-testid={`node-${id}-duration`}>
              {formatMs(ran.durationMs)}
            </span>
          </Tooltip>
        )}
      </div>
      <div className="pl-node-body">
        {typeof label === 'string' && label && <div className="pl-node-label">{label}</div>}
        {children}
      </div>
      {kind.sources.map((out, i) => (
        <div key={out.id ?? 'next'}>
          {out.label && (
            <span className={`pl-handle-label pl-handle-${out.id}`} style={{ top: handleTop(i) }}>
              {inLang(out.label, lang)}
            </span>
          )}
          <Handle
            type="source"
            position={Position.Right}
            id={out.id ?? undefined}
            style={kind.sources.length > 1 ? { top: handleTop(i) } : undefined}
            data-testid={`handle-${id}-${out.id ?? 'out'}`}
          />
        </div>
      ))}
    </div>
  );
}

/** One setting on the node, named as in its form; nothing when it is empty. */
export function Line({ type, name, value }: { type: NodeType; name: string; value: unknown }) {
  const lang = useLang();
  const text = Array.isArray(value) ? value.join(lang === 'en' ? ', ' : '、') : value === undefined || value === null ? '' : String(value);
  if (!text) return null;
  const field = nodeKind(type).fields.find((f) => f.name === name);
  return (
    <div className="pl-node-line">
      {field && <span className="pl-node-line-name">{inLang(field.label, lang)}：</span>}
      <span className="pl-node-line-value">{text}</span>
    </div>
  );
}

/** A node's data as its type's settings (graph.ts); React Flow only knows it as a record. */
export const settings = <T,>(data: Record<string, unknown>) => data as T;
