// Pipeline validation: each check with a graph that breaks exactly it, and the seed's rule passing.
import { describe, expect, it } from 'vitest';
import { NODE_CATALOGUE } from '../pipelines/catalogue.js';
import type { PipelineEdge, PipelineGraph, PipelineNode } from '../pipelines/graph.js';
import { pipelineGraph } from '../pipelines/schema.js';
import { validateGraph, type GraphError, type GraphRefs } from '../pipelines/validate.js';
import { seedGraph } from './fixtures/seed-pipeline.js';

const refs: GraphRefs = {
  models: new Set(['fake/qwen3:32b', 'fake/qwen2:7b']),
  knowledgeBases: new Set(['policy']),
  tools: new Set(['order-invoice']),
  channels: new Set(['sandbox', 'dt-support']),
};

const seed = () => seedGraph('fake/qwen3:32b');
const at = { x: 0, y: 0 };
const node = (n: Omit<PipelineNode, 'position'>) => ({ ...n, position: at }) as PipelineNode;
const edge = (id: string, source: string, target: string, sourceHandle?: string): PipelineEdge => ({ id, source, target, ...(sourceHandle && { sourceHandle }) });
/** trigger → each node in turn */
function chain(...nodes: Omit<PipelineNode, 'position'>[]): PipelineGraph {
  const all = [node({ id: 'trigger', type: 'trigger', data: {} }), ...nodes.map(node)];
  return { nodes: all, edges: all.slice(1).map((n, i) => edge(`e${i}`, all[i]!.id, n.id)) };
}
const errorsOf = (graph: unknown) => validateGraph(graph, refs).errors;
/** The graph fails with exactly this one error. */
const expectOnly = (graph: unknown, expected: Omit<GraphError, 'message'> & { message: RegExp | string }) => {
  const errors = errorsOf(graph);
  expect(errors).toHaveLength(1);
  expect(errors[0]).toEqual({ ...expected, message: typeof expected.message === 'string' ? expected.message : expect.stringMatching(expected.message) });
};

describe('validateGraph', () => {
  it("passes the seed's rule, and a chain ending on each kind of ending", () => {
    expect(validateGraph(seed(), refs)).toEqual({ ok: true, errors: [] });
    for (const type of ['reply', 'handoff', 'end'] as const) expect(errorsOf(chain({ id: 'last', type, data: {} } as PipelineNode))).toEqual([]);
  });

  describe('shape', () => {
    it('names the node and the field of a setting out of bounds', () => {
      const g = seed();
      (g.nodes[1]!.data as any).temperature = 3;
      expectOnly(g, { nodeId: 'llm', field: 'temperature', message: /^temperature: Too big: expected number to be <=2$/ });
      const t = seed();
      (t.nodes[0]!.data as any).regex = '退(货';
      expectOnly(t, { nodeId: 'trigger', field: 'regex', message: /^regex: not a valid regular expression: / });
      const c = seed();
      (c.nodes[2]!.data as any).operator = 'regex';
      (c.nodes[2]!.data as any).value = '[';
      expectOnly(c, { nodeId: 'condition', field: 'value', message: /^value: not a valid regular expression/ });
    });

    it('checks times, time zones, weekdays and bounds of the trigger', () => {
      const window = (w: object) => {
        const g = seed();
        (g.nodes[0]!.data as any).timeWindow = { start: '09:00', end: '18:00', timeZone: 'Asia/Shanghai', ...w };
        return g;
      };
      expect(errorsOf(window({}))).toEqual([]);
      expectOnly(window({ timeZone: 'Asia/Beijing' }), { nodeId: 'trigger', field: 'timeWindow.timeZone', message: /not an IANA time zone/ });
      expectOnly(window({ start: '9:00' }), { nodeId: 'trigger', field: 'timeWindow.start', message: /HH:MM/ });
      expectOnly(window({ end: '24:00' }), { nodeId: 'trigger', field: 'timeWindow.end', message: /HH:MM/ });
      expectOnly(window({ end: '09:00' }), { nodeId: 'trigger', field: 'timeWindow.end', message: /end must differ from start/ });
      expectOnly(window({ days: [1, 8] }), { nodeId: 'trigger', field: 'timeWindow.days.1', message: /<=7/ });
      expectOnly(window({ days: [1, 1] }), { nodeId: 'trigger', field: 'timeWindow.days', message: /each weekday once/ });
      const long = seed();
      (long.nodes[0]!.data as any).regex = 'a'.repeat(201);
      expectOnly(long, { nodeId: 'trigger', field: 'regex', message: /<=200 characters/ });
    });

    it('refuses misspelt settings, long ids and too many nodes', () => {
      const g = seed();
      (g.nodes[0]!.data as any).keyword = ['退货'];
      expectOnly(g, { nodeId: 'trigger', field: undefined, message: /Unrecognized key: "keyword"/ });
      const id = seed();
      id.nodes[4]!.id = 'r'.repeat(65);
      const errors = errorsOf(id);
      expect(errors).toEqual([{ field: 'id', message: expect.stringMatching(/^nodes\[4\]: id: letters, digits/) }]);
      const big = { nodes: Array.from({ length: 201 }, (_, i) => ({ ...seed().nodes[4]!, id: `n${i}` })), edges: [] };
      expect(errorsOf(big)).toEqual([{ field: 'nodes', message: expect.stringMatching(/^nodes: Too big: expected array to have <=200 items/) }]);
    });

    it('keeps React Flow envelope keys out and still validates', () => {
      const g = seed();
      Object.assign(g.nodes[0]!, { selected: true, measured: { width: 100, height: 40 } });
      Object.assign(g.edges[0]!, { targetHandle: null, animated: true });
      const parsed = pipelineGraph.parse(g);
      expect(parsed.nodes[0]).not.toHaveProperty('selected');
      expect(parsed.edges[0]).not.toHaveProperty('animated');
      expect(errorsOf(g)).toEqual([]);
    });
  });

  describe('graph', () => {
    it('needs exactly one trigger', () => {
      const none = chain();
      none.nodes = [node({ id: 'end', type: 'end', data: {} })];
      expectOnly(none, { message: /^the pipeline needs a trigger node/ });
      const two = seed();
      two.nodes.push(node({ id: 'trigger-2', type: 'trigger', data: {} }));
      two.edges.push(edge('e-2', 'trigger-2', 'llm'));
      const errors = errorsOf(two);
      expect(errors).toEqual([{ nodeId: 'trigger-2', message: 'a pipeline has exactly one trigger; "trigger" is the first' }]);
    });

    it('finds nodes the trigger does not reach', () => {
      const g = seed();
      g.nodes.push(node({ id: 'orphan', type: 'end', data: {} }));
      expectOnly(g, { nodeId: 'orphan', message: 'not reachable from the trigger "trigger": connect it or remove it' });
    });

    it('finds dangling edges', () => {
      const g = seed();
      g.edges.push(edge('e-ghost', 'reply', 'ghost'));
      expectOnly(g, { edgeId: 'e-ghost', field: 'target', message: 'target: there is no node "ghost"' });
      const s = seed();
      s.edges.push(edge('e-from-ghost', 'ghost', 'reply'));
      expectOnly(s, { edgeId: 'e-from-ghost', field: 'source', message: 'source: there is no node "ghost"' });
    });

    it('finds wrong handles', () => {
      const noBranch = seed();
      noBranch.edges.push(edge('e-x', 'condition', 'reply'));
      expectOnly(noBranch, { edgeId: 'e-x', field: 'sourceHandle', message: 'sourceHandle: an edge from the condition "condition" leaves by "true" or "false", not none' });
      const oddBranch = seed();
      oddBranch.edges.push(edge('e-x', 'condition', 'reply', 'maybe'));
      expectOnly(oddBranch, { edgeId: 'e-x', field: 'sourceHandle', message: /not "maybe"$/ });
      const named = seed();
      named.edges.push(edge('e-x', 'llm', 'reply', 'true'));
      expectOnly(named, { edgeId: 'e-x', field: 'sourceHandle', message: 'sourceHandle: only conditions have named branches; the llm "llm" has no "true"' });
      const intoTrigger = seed();
      intoTrigger.edges.push(edge('e-x', 'reply', 'trigger'));
      expectOnly(intoTrigger, { edgeId: 'e-x', field: 'target', message: 'target: nothing may lead into the trigger "trigger"' });
      for (const type of ['end', 'handoff'] as const) {
        const out = chain({ id: 'reply', type: 'reply', data: {} }, { id: 'stop', type, data: {} });
        out.edges.push(edge('e-x', 'stop', 'reply'));
        expectOnly(out, { edgeId: 'e-x', field: 'source', message: `source: the pipeline ends at the ${type} "stop": nothing may follow it` });
      }
    });

    it('allows one edge per handle', () => {
      const g = seed();
      g.edges.push(edge('e-x', 'condition', 'reply', 'true'));
      expectOnly(g, { edgeId: 'e-x', field: 'source', message: 'source: the "true" branch of "condition" already leads to "reply-handoff" (edge "e-true"): one step follows another' });
    });

    it('finds cycles', () => {
      const g = seed();
      g.edges.push(edge('e-back', 'reply-handoff', 'llm'));
      expectOnly(g, { edgeId: 'e-back', message: 'this edge closes a loop "llm" → "condition" → "reply-handoff" → "llm": a pipeline runs forward only' });
    });

    it('needs unique ids', () => {
      const nodes = seed();
      nodes.nodes.push(node({ id: 'reply', type: 'end', data: {} }));
      expectOnly(nodes, { nodeId: 'reply', field: 'id', message: 'id: another node is also "reply"' });
      const edges = seed();
      edges.nodes.push(node({ id: 'end', type: 'end', data: {} }));
      edges.edges.push(edge('e-false', 'reply', 'end'));
      expectOnly(edges, { edgeId: 'e-false', field: 'id', message: 'id: another edge is also "e-false"' });
    });

    it('needs every path to end on a reply, handoff or end node', () => {
      expectOnly(chain({ id: 'llm', type: 'llm', data: {} }), { nodeId: 'llm', message: 'it leads nowhere: connect it to a reply, handoff or end node (or a further step)' });
      const g = seed();
      g.nodes.pop();
      g.edges.pop();
      expectOnly(g, { nodeId: 'condition', message: 'its "false" branch leads nowhere: connect it to a reply, handoff or end node (or a further step)' });
      const bare = chain({ id: 'c', type: 'condition', data: { subject: 'message', operator: 'contains', value: 'x' } });
      expectOnly(bare, { nodeId: 'c', message: /^its "true" and "false" branches lead nowhere: connect them/ });
    });
  });

  describe('references', () => {
    it('checks models, fallbacks, tools, knowledge bases and channels exist', () => {
      expectOnly(chain({ id: 'llm', type: 'llm', data: { model: 'fake/qwen9' } }, { id: 'end', type: 'end', data: {} }), {
        nodeId: 'llm',
        field: 'model',
        message: 'model: there is no configured model "fake/qwen9"',
      });
      expectOnly(chain({ id: 'llm', type: 'llm', data: { fallbacks: ['fake/qwen2:7b', 'down/gone'] } }, { id: 'end', type: 'end', data: {} }), {
        nodeId: 'llm',
        field: 'fallbacks.1',
        message: 'fallbacks.1: there is no configured model "down/gone"',
      });
      expectOnly(chain({ id: 'llm', type: 'llm', data: { tools: ['erp'] } }, { id: 'end', type: 'end', data: {} }), { nodeId: 'llm', field: 'tools.0', message: 'tools.0: there is no tool "erp"' });
      expectOnly(chain({ id: 'r', type: 'retrieve', data: { knowledgeBases: ['policy', 'hr'] } }, { id: 'end', type: 'end', data: {} }), {
        nodeId: 'r',
        field: 'knowledgeBases.1',
        message: 'knowledgeBases.1: there is no knowledge base "hr"',
      });
      expectOnly(chain({ id: 'r', type: 'retrieve', data: { knowledgeBases: [] } }, { id: 'end', type: 'end', data: {} }), {
        nodeId: 'r',
        field: 'knowledgeBases',
        message: 'knowledgeBases: choose at least one knowledge base',
      });
      expectOnly(chain({ id: 't', type: 'tool', data: { tool: 'erp', arguments: {} } }, { id: 'end', type: 'end', data: {} }), { nodeId: 't', field: 'tool', message: 'tool: there is no tool "erp"' });
      expectOnly(chain({ id: 't', type: 'tool', data: { tool: '', arguments: {} } }, { id: 'end', type: 'end', data: {} }), { nodeId: 't', field: 'tool', message: 'tool: choose a tool' });
      const g = seed();
      (g.nodes[0]!.data as any).channels = ['dt-support', 'fs-sales'];
      expectOnly(g, { nodeId: 'trigger', field: 'channels.1', message: 'channels.1: there is no channel "fs-sales"' });
    });

    it('checks the names templates use', () => {
      const g = seed();
      (g.nodes[4]!.data as any).text = '{{reply.txt}} {{vars.order}}';
      expectOnly(g, { nodeId: 'reply', field: 'text', message: /^text: \{\{reply\.txt\}\} names nothing a run has/ });
      const args = chain({ id: 't', type: 'tool', data: { tool: 'order-invoice', arguments: { orderId: '{{message.txt}}' } } }, { id: 'end', type: 'end', data: {} });
      expectOnly(args, { nodeId: 't', field: 'arguments.orderId', message: /^arguments\.orderId: \{\{message\.txt\}\}/ });
    });

    it('needs the variable a condition tests', () => {
      const g = seed();
      g.nodes[2] = node({ id: 'condition', type: 'condition', data: { subject: 'variable', operator: 'equals', value: 'issued' } });
      expectOnly(g, { nodeId: 'condition', field: 'variable', message: 'variable: name the variable to test (the subject is "variable")' });
      (g.nodes[2]!.data as any).variable = 'invoice.status';
      expect(errorsOf(g)).toEqual([]);
      (g.nodes[2]!.data as any).variable = '1st';
      expectOnly(g, { nodeId: 'condition', field: 'variable', message: /is not a variable name/ });
    });
  });
});

describe('node catalogue', () => {
  it('describes every node type with handles, labels in both languages, and defaults the schema accepts', () => {
    expect(NODE_CATALOGUE.map((k) => k.type).sort()).toEqual(['condition', 'end', 'handoff', 'llm', 'reply', 'retrieve', 'tool', 'trigger']);
    for (const kind of NODE_CATALOGUE) {
      expect(kind.label.zh && kind.label.en && kind.description.zh && kind.description.en).toBeTruthy();
      for (const f of kind.fields) expect(f.label.zh && f.label.en, `${kind.type}.${f.name}`).toBeTruthy();
      const parsed = pipelineGraph.safeParse({ nodes: [{ id: 'n', type: kind.type, position: at, data: structuredClone(kind.defaults) }], edges: [] });
      expect(parsed.success, kind.type).toBe(true);
    }
    const handles = Object.fromEntries(NODE_CATALOGUE.map((k) => [k.type, { target: k.target, sources: k.sources.map((s) => s.id) }]));
    expect(handles.trigger).toEqual({ target: false, sources: [null] });
    expect(handles.condition).toEqual({ target: true, sources: ['true', 'false'] });
    expect(handles.end).toEqual({ target: true, sources: [] });
    expect(handles.handoff).toEqual({ target: true, sources: [] });
  });
});
