// The node types from the catalogue, to drag onto the canvas (or, from the keyboard, Enter adds one in the middle).
import { Tooltip } from 'antd';
import { useReactFlow } from '@xyflow/react';
import type { DragEvent } from 'react';
import { NODE_CATALOGUE, nodeKind } from '../../../pipelines/catalogue.js';
import type { NodeType } from '../../../pipelines/graph.js';
import { useLang, useT } from './i18n.js';
import { inLang, NodeIcon, nodeColor } from './nodeTypes.js';
import { useEditor } from './store.js';

/** The drag payload: only drops from this palette add nodes. */
export const PALETTE_MIME = 'application/x-imflow-node';

export function Palette() {
  const t = useT();
  const lang = useLang();
  const readOnly = useEditor((s) => s.readOnly);
  const { screenToFlowPosition } = useReactFlow();

  const onDragStart = (event: DragEvent, type: NodeType) => {
    event.dataTransfer.setData(PALETTE_MIME, type);
    event.dataTransfer.effectAllowed = 'move';
  };

  const addInTheMiddle = (type: NodeType) => {
    const canvas = document.querySelector('.pl-canvas')?.getBoundingClientRect();
    if (!canvas) return;
    const at = screenToFlowPosition({ x: canvas.left + canvas.width / 2, y: canvas.top + canvas.height / 2 });
    const { addNode, nodes } = useEditor.getState();
    // offset each one a little so several clicks do not stack nodes exactly on top of each other
    const offset = (nodes.length % 5) * 24;
    addNode(type, { x: at.x - 90 + offset, y: at.y - 30 + offset }, structuredClone(nodeKind(type).defaults));
  };

  return (
    <aside className="pl-palette" data-testid="palette">
      <div className="pl-side-title">{t('palette.title')}</div>
      {NODE_CATALOGUE.map((kind) => (
        <Tooltip key={kind.type} title={inLang(kind.description, lang)} placement="right">
          <div
            className={`pl-palette-item${readOnly ? ' pl-disabled' : ''}`}
            style={{ borderLeftColor: nodeColor(kind.type) }}
            draggable={!readOnly}
            onDragStart={(e) => onDragStart(e, kind.type)}
            data-testid={`palette-${kind.type}`}
            role="button"
            tabIndex={0}
            onKeyDown={(e) => e.key === 'Enter' && !readOnly && addInTheMiddle(kind.type)}
          >
            <NodeIcon type={kind.type} />
            <span>{inLang(kind.label, lang)}</span>
          </div>
        </Tooltip>
      ))}
      <p className="pl-hint">{t('palette.hint')}</p>
    </aside>
  );
}
