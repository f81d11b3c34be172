// The canvas: React Flow drawing the store's graph. Nodes dropped from the palette land where they are
// dropped; lines with problems are red; after a test run the path the message took is animated.
import { Background, Controls, MiniMap, ReactFlow, useReactFlow, type Edge } from '@xyflow/react';
import { useEffect, useMemo, useRef, useState, type DragEvent } from 'react';
import { nodeKind } from '../../../pipelines/catalogue.js';
import type { NodeType } from '../../../pipelines/graph.js';
import { useT } from './i18n.js';
import { nodeColor } from './nodeTypes.js';
import { nodeTypes } from './nodes/index.js';
import { PALETTE_MIME } from './Palette.js';
import { useEditor } from './store.js';

const FIT = { maxZoom: 1, padding: 0.2 };

export function Canvas() {
  const t = useT();
  const { screenToFlowPosition, fitView } = useReactFlow();
  // An opened graph is fitted to the view. A new one (just its trigger, or nothing) starts at the left
  // edge with room to the right, where the analyst adds the next steps; fitting would centre the trigger.
  const [opening] = useState(() => {
    const first = useEditor.getState().nodes;
    if (first.length > 1) return { fitView: true };
    const at = first[0]?.position ?? { x: 0, y: 0 };
    return { fitView: false, defaultViewport: { x: 60 - at.x, y: 200 - at.y, zoom: 1 } };
  });
  const nodes = useEditor((s) => s.nodes);
  const edges = useEditor((s) => s.edges);
  const issues = useEditor((s) => s.issues);
  const run = useEditor((s) => s.run);
  const readOnly = useEditor((s) => s.readOnly);
  const { onNodesChange, onEdgesChange, onConnect, remember, addNode } = useEditor.getState();

  // a published version replaced the draft on the canvas, or the draft came back: show all of it
  const shownReadOnly = useRef(readOnly);
  useEffect(() => {
    if (shownReadOnly.current === readOnly) return;
    shownReadOnly.current = readOnly;
    const frame = requestAnimationFrame(() => void fitView(FIT));
    return () => cancelAnimationFrame(frame);
  }, [readOnly, fitView]);

  const shownEdges = useMemo<Edge[]>(() => {
    const bad = new Set(issues.map((i) => i.edgeId).filter(Boolean));
    return edges.map((e) => {
      // both ends ran: the message went this way (the untaken branch's target never runs)
      const taken = Boolean(run?.[e.source] && run[e.target]);
      const className = [bad.has(e.id) && 'pl-edge-invalid', taken && 'pl-edge-ran', run && !taken && 'pl-edge-skipped'].filter(Boolean).join(' ');
      return { ...e, animated: taken, className };
    });
  }, [edges, issues, run]);

  const onDragOver = (event: DragEvent) => {
    if (readOnly || !event.dataTransfer.types.includes(PALETTE_MIME)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = 'move';
  };

  const onDrop = (event: DragEvent) => {
    const type = event.dataTransfer.getData(PALETTE_MIME) as NodeType;
    if (readOnly || !type) return;
    event.preventDefault();
    const at = screenToFlowPosition({ x: event.clientX, y: event.clientY });
    // the pointer holds the node near its top left corner, as the palette item was held
    addNode(type, { x: at.x - 20, y: at.y - 20 }, structuredClone(nodeKind(type).defaults));
  };

  return (
    <div className="pl-canvas" data-testid="canvas" onDragOver={onDragOver} onDrop={onDrop}>
      <ReactFlow
        nodes={nodes}
        edges={shownEdges}
        nodeTypes={nodeTypes}
        onNodesChange={onNodesChange}
        onEdgesChange={onEdgesChange}
        onConnect={onConnect}
        onNodeDragStart={() => remember()}
        onBeforeDelete={async () => {
          if (readOnly) return false;
          remember();
          return true;
        }}
        nodesDraggable={!readOnly}
        nodesConnectable={!readOnly}
        deleteKeyCode={['Backspace', 'Delete']}
        {...opening}
        fitViewOptions={FIT}
        minZoom={0.2}
        proOptions={{ hideAttribution: true }}
      >
        <Background gap={16} />
        <Controls showInteractive={false} />
        <MiniMap pannable zoomable nodeColor={(n) => nodeColor(n.type as NodeType)} />
      </ReactFlow>
      {nodes.length === 0 && <div className="pl-canvas-empty">{t('canvas.empty')}</div>}
    </div>
  );
}
