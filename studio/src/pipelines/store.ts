// The editor's one store: the graph on the canvas, its undo history, the validation marks and the last
// test run. The canvas, the palette and the side panel only read from it and call its actions.
import { addEdge, applyEdgeChanges, applyNodeChanges, type Connection, type Edge, type EdgeChange, type Node, type NodeChange } from '@xyflow/react';
import { create } from 'zustand';
import type { NodeType, PipelineGraph, PipelineNode } from '../../../pipelines/graph.js';
import type { Lookups, TraceStep, ValidationError } from './api.js';

export type FlowNode = Node<Record<string, unknown>, NodeType>;
export type FlowEdge = Edge;

interface Snapshot {
  nodes: FlowNode[];
  edges: FlowEdge[];
}

/** What the last test run did at one node: how long it took and what it produced. */
export interface NodeRun {
  status: string;
  durationMs: number;
  input?: unknown;
  output?: unknown;
  error?: string;
}

const HISTORY_LIMIT = 100;
/** Typing in one field within this long is one undo step, not one per key. */
const COALESCE_MS = 1000;

interface EditorState {
  nodes: FlowNode[];
  edges: FlowEdge[];
  past: Snapshot[];
  future: Snapshot[];
  /** the graph as last saved, to tell whether there are unsaved changes */
  savedGraph: string;
  /** set while looking at a published version: nothing can be changed */
  readOnly: boolean;
  /** the draft being edited, kept aside while a published version is on the canvas */
  stash: Pick<EditorState, 'nodes' | 'edges' | 'past' | 'future' | 'savedGraph'> | null;
  issues: ValidationError[];
  run: Record<string, NodeRun> | null;
  lastEdit: { key: string; at: number } | null;
  /** what the forms' selects offer, and the names the nodes show for ids */
  lookups: Lookups;

  load(graph: PipelineGraph): void;
  /** shows a published version read-only; backToDraft() brings the draft back as it was */
  viewVersion(graph: PipelineGraph): void;
  backToDraft(): void;
  markSaved(): void;
  onNodesChange(changes: NodeChange<FlowNode>[]): void;
  onEdgesChange(changes: EdgeChange<FlowEdge>[]): void;
  onConnect(connection: Connection): void;
  /** called before a drag or a delete, so the move or the deletion is one undo step */
  remember(key?: string): void;
  addNode(type: NodeType, position: { x: number; y: number }, data: Record<string, unknown>): string;
  updateData(id: string, patch: Record<string, unknown>): void;
  removeNode(id: string): void;
  select(id: string | null): void;
  undo(): void;
  redo(): void;
  setIssues(issues: ValidationError[]): void;
  showRun(trace: TraceStep[]): void;
  clearRun(): void;
  setLookups(lookups: Lookups): void;
}

const toFlowNode = (n: PipelineNode): FlowNode => ({ id: n.id, type: n.type, position: n.position, data: { ...n.data } as Record<string, unknown> });
const toFlowEdge = (e: PipelineGraph['edges'][number]): FlowEdge => ({ id: e.id, source: e.source, target: e.target, sourceHandle: e.sourceHandle ?? null });

/** The graph as the API stores it: React Flow's own keys (selected, measured, …) left out. */
export function toGraph(nodes: FlowNode[], edges: FlowEdge[]): PipelineGraph {
  return {
    nodes: nodes.map((n) => ({ id: n.id, type: n.type, position: { x: Math.round(n.position.x), y: Math.round(n.position.y) }, data: n.data }) as PipelineNode),
    edges: edges.map((e) => ({ id: e.id, source: e.source, target: e.target, ...(e.sourceHandle ? { sourceHandle: e.sourceHandle } : {}) })),
  };
}

/** The graph as text with keys in a fixed order: the database may hand keys back in another order. */
export function graphText(graph: PipelineGraph): string {
  return JSON.stringify(graph, (_key, value: unknown) =>
    value && typeof value === 'object' && !Array.isArray(value) ? Object.fromEntries(Object.entries(value).sort(([a], [b]) => a.localeCompare(b))) : value,
  );
}

/** Whether the canvas differs from the last saved draft. */
export const isDirty = (s: Pick<EditorState, 'nodes' | 'edges' | 'savedGraph' | 'readOnly'>) => !s.readOnly && graphText(toGraph(s.nodes, s.edges)) !== s.savedGraph;

/** Readable ids ("llm", "reply-2"): they show up in the test run's steps and in variable names. */
function freshId(type: string, taken: Set<string>): string {
  if (!taken.has(type)) return type;
  for (let i = 2; ; i++) if (!taken.has(`${type}-${i}`)) return `${type}-${i}`;
}

export const useEditor = create<EditorState>()((set, get) => {
  /** Keeps the current graph for undo. Edits with the same key in quick succession share one step. */
  const remember = (key?: string) => {
    const { nodes, edges, past, lastEdit } = get();
    const now = Date.now();
    if (key && lastEdit?.key === key && now - lastEdit.at < COALESCE_MS) {
      set({ lastEdit: { key, at: now } });
      return;
    }
    set({ past: [...past.slice(-HISTORY_LIMIT + 1), { nodes, edges }], future: [], lastEdit: key ? { key, at: now } : null });
  };

  return {
    nodes: [],
    edges: [],
    past: [],
    future: [],
    savedGraph: '',
    readOnly: false,
    stash: null,
    issues: [],
    run: null,
    lastEdit: null,
    lookups: { models: [], knowledgeBases: [], tools: [], channels: [], departments: [] },

    load(graph) {
      const nodes = graph.nodes.map(toFlowNode);
      const edges = graph.edges.map(toFlowEdge);
      set({ nodes, edges, past: [], future: [], savedGraph: graphText(toGraph(nodes, edges)), readOnly: false, stash: null, issues: [], run: null, lastEdit: null });
    },

    viewVersion(graph) {
      const { nodes, edges, past, future, savedGraph, stash } = get();
      set({
        stash: stash ?? { nodes, edges, past, future, savedGraph },
        nodes: graph.nodes.map(toFlowNode),
        edges: graph.edges.map(toFlowEdge),
        readOnly: true,
        issues: [],
        run: null,
      });
    },

    backToDraft() {
      const { stash } = get();
      if (stash) set({ ...stash, stash: null, readOnly: false, run: null, lastEdit: null });
    },

    markSaved() {
      const { nodes, edges } = get();
      set({ savedGraph: graphText(toGraph(nodes, edges)) });
    },

    onNodesChange(changes) {
      // deletions go through remember() in the canvas's onBeforeDelete; the rest (selection,
      // measuring, dragging) is not worth an undo step on its own
      set({ nodes: applyNodeChanges(changes, get().nodes) });
    },

    onEdgesChange(changes) {
      set({ edges: applyEdgeChanges(changes, get().edges) });
    },

    onConnect(connection) {
      if (get().readOnly || connection.source === connection.target) return;
      remember();
      const handle = connection.sourceHandle ?? null;
      // one way out of each handle: drawing a new line from it replaces the old one
      const others = get().edges.filter((e) => !(e.source === connection.source && (e.sourceHandle ?? null) === handle));
      const id = `${connection.source}-${handle ?? 'next'}-${connection.target}`.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64);
      set({ edges: addEdge({ ...connection, id, sourceHandle: handle }, others) });
    },

    remember,

    addNode(type, position, data) {
      remember();
      const id = freshId(type, new Set(get().nodes.map((n) => n.id)));
      const nodes = get().nodes.map((n) => (n.selected ? { ...n, selected: false } : n));
      set({ nodes: [...nodes, { id, type, position, data, selected: true }] });
      return id;
    },

    updateData(id, patch) {
      if (get().readOnly) return;
      remember(`${id}:${Object.keys(patch).join(',')}`);
      set({
        nodes: get().nodes.map((n) => {
          if (n.id !== id) return n;
          const data = { ...n.data, ...patch };
          // a cleared optional setting is left out, not saved as empty
          for (const [k, v] of Object.entries(patch)) if (v === undefined) delete data[k];
          return { ...n, data };
        }),
      });
    },

    removeNode(id) {
      if (get().readOnly) return;
      remember();
      set({ nodes: get().nodes.filter((n) => n.id !== id), edges: get().edges.filter((e) => e.source !== id && e.target !== id) });
    },

    select(id) {
      set({ nodes: get().nodes.map((n) => (n.selected === (n.id === id) ? n : { ...n, selected: n.id === id })) });
    },

    undo() {
      const { past, future, nodes, edges, readOnly } = get();
      const previous = past.at(-1);
      if (!previous || readOnly) return;
      set({ nodes: previous.nodes, edges: previous.edges, past: past.slice(0, -1), future: [{ nodes, edges }, ...future], lastEdit: null });
    },

    redo() {
      const { past, future, nodes, edges, readOnly } = get();
      const next = future[0];
      if (!next || readOnly) return;
      set({ nodes: next.nodes, edges: next.edges, past: [...past, { nodes, edges }], future: future.slice(1), lastEdit: null });
    },

    setIssues(issues) {
      set({ issues });
    },

    showRun(trace) {
      const run: Record<string, NodeRun> = {};
      for (const step of trace) {
        if (!step.nodeId) continue;
        const seen = run[step.nodeId];
        // a node may take several steps (a model call and its tool calls): add them up, keep the last output
        run[step.nodeId] = {
          status: seen?.status === 'failed' ? 'failed' : step.status,
          durationMs: (seen?.durationMs ?? 0) + (step.durationMs || 0),
          input: seen?.input ?? step.input,
          output: step.output ?? seen?.output,
          ...((step.error ?? seen?.error) && { error: step.error ?? seen?.error }),
        };
      }
      set({ run });
    },

    clearRun() {
      set({ run: null });
    },

    setLookups(lookups) {
      set({ lookups });
    },
  };
});

export const useDirty = () => useEditor(isDirty);

/** The names of the chosen ids (a department's name for its id), the id itself when it is not known. */
export function useNames(lookup: keyof Lookups, ids: unknown): string[] {
  const choices = useEditor((s) => s.lookups[lookup]);
  const list = Array.isArray(ids) ? ids : typeof ids === 'string' && ids ? [ids] : [];
  return list.map((id) => choices.find((c) => c.value === id)?.label ?? String(id));
}
