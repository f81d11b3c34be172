// Whether a pipeline graph can be published: its shape (schema.ts), then the graph as a whole and what
// it refers to. Pure: the API fetches the references, the studio passes the lookups it already has, so
// both show the same errors, each on its node or edge.
import type { z } from 'zod';
import { nodeKind } from './catalogue.js';
import type { PipelineEdge, PipelineGraph, PipelineNode } from './graph.js';
import { pipelineGraph, variableName } from './schema.js';
import { unknownTemplateNames } from './template.js';

export interface GraphError {
  nodeId?: string;
  edgeId?: string;
  /** the setting at fault, as the node's data names it ("fallbacks.1"), or "source" / "target" / "sourceHandle" of an edge */
  field?: string;
  message: string;
}

export interface ValidationResult {
  ok: boolean;
  errors: GraphError[];
}

/** What exists for a graph to refer to. */
export interface GraphRefs {
  /** "<providerId>/<modelId>" */
  models: ReadonlySet<string>;
  knowledgeBases: ReadonlySet<string>;
  tools: ReadonlySet<string>;
  channels: ReadonlySet<string>;
}

/** One line per problem, with where it is: 'node "llm": model: there is no configured model "x/y"'. */
export function describeError(e: GraphError): string {
  const where = e.nodeId ? `node "${e.nodeId}": ` : e.edgeId ? `edge "${e.edgeId}": ` : '';
  return where + e.message;
}

/** The first few problems on one line, and how many more there are. */
export function describeErrors(errors: GraphError[], max = 5): string {
  const more = errors.length > max ? `; and ${errors.length - max} more` : '';
  return errors.slice(0, max).map(describeError).join('; ') + more;
}

/** Node types a path may end on; every other node must lead somewhere (a condition: both ways). */
const ENDINGS = new Set(['reply', 'handoff', 'end']);

/** The graph, or what is wrong with its shape (each error on its node or edge where it has one). */
export function parseGraph(candidate: unknown): { graph: PipelineGraph; errors?: undefined } | { graph?: undefined; errors: GraphError[] } {
  const res = pipelineGraph.safeParse(candidate);
  return res.success ? { graph: res.data } : { errors: res.error.issues.map((i) => shapeError(i, candidate)) };
}

function shapeError(issue: z.core.$ZodIssue, candidate: unknown): GraphError {
  const [list, index, ...rest] = issue.path;
  const items = (candidate as Record<string, unknown> | null)?.[list as string];
  const item = typeof index === 'number' && Array.isArray(items) ? (items[index] as { id?: unknown } | undefined) : undefined;
  const id = typeof item?.id === 'string' && item.id.length <= 64 ? item.id : undefined;
  // a node's settings are named as its data names them; the envelope's own fields as they are
  const fieldPath = list === 'nodes' && rest[0] === 'data' ? rest.slice(1) : rest;
  const field = fieldPath.map(String).join('.') || undefined;
  const where = id === undefined && typeof index === 'number' ? `${String(list)}[${index}]` : undefined;
  const message = [where, field, issue.message].filter(Boolean).join(': ');
  if (list === 'nodes' && typeof index === 'number') return { nodeId: id, field, message };
  if (list === 'edges' && typeof index === 'number') return { edgeId: id, field, message };
  return { field: issue.path.map(String).join('.') || undefined, message: issue.path.length ? `${issue.path.join('.')}: ${issue.message}` : issue.message };
}

/** Every reason the graph cannot be published: shape first; the graph checks need a well-formed graph. */
export function validateGraph(candidate: unknown, refs: GraphRefs): ValidationResult {
  const parsed = parseGraph(candidate);
  if (parsed.errors) return { ok: false, errors: parsed.errors };
  const errors = [...checkIds(parsed.graph), ...checkStructure(parsed.graph), ...parsed.graph.nodes.flatMap((n) => checkNode(n, refs))];
  return { ok: errors.length === 0, errors };
}

function checkIds({ nodes, edges }: PipelineGraph): GraphError[] {
  const errors: GraphError[] = [];
  const seen = new Set<string>();
  for (const n of nodes) {
    if (seen.has(n.id)) errors.push({ nodeId: n.id, field: 'id', message: `id: another node is also "${n.id}"` });
    seen.add(n.id);
  }
  seen.clear();
  for (const e of edges) {
    if (seen.has(e.id)) errors.push({ edgeId: e.id, field: 'id', message: `id: another edge is also "${e.id}"` });
    seen.add(e.id);
  }
  return errors;
}

/** One trigger; edges between existing nodes through the right handles; no cycles; everything reachable; every path ends. */
function checkStructure({ nodes, edges }: PipelineGraph): GraphError[] {
  const errors: GraphError[] = [];
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const triggers = nodes.filter((n) => n.type === 'trigger');
  if (triggers.length === 0) errors.push({ message: 'the pipeline needs a trigger node: it says which messages take this pipeline' });
  for (const extra of triggers.slice(1)) errors.push({ nodeId: extra.id, message: `a pipeline has exactly one trigger; "${triggers[0]!.id}" is the first` });

  const out = new Map<string, PipelineEdge[]>();
  for (const e of edges) {
    const source = byId.get(e.source);
    const target = byId.get(e.target);
    if (!source) errors.push({ edgeId: e.id, field: 'source', message: `source: there is no node "${e.source}"` });
    if (!target) errors.push({ edgeId: e.id, field: 'target', message: `target: there is no node "${e.target}"` });
    if (!source || !target) continue;
    const handleError = wrongHandle(e, source, target);
    if (handleError) {
      errors.push({ edgeId: e.id, ...handleError });
      continue;
    }
    const siblings = out.get(e.source) ?? [];
    const taken = siblings.find((s) => (s.sourceHandle ?? null) === (e.sourceHandle ?? null));
    if (taken) {
      const from = e.sourceHandle ? `the "${e.sourceHandle}" branch of "${e.source}"` : `"${e.source}"`;
      errors.push({ edgeId: e.id, field: 'source', message: `source: ${from} already leads to "${taken.target}" (edge "${taken.id}"): one step follows another` });
      continue;
    }
    out.set(e.source, [...siblings, e]);
  }

  errors.push(...cycles(nodes, out));
  const trigger = triggers[0];
  if (trigger) {
    const reached = reachable(trigger.id, out);
    // (an extra trigger is never reached: it has its own error above)
    for (const n of nodes) if (!reached.has(n.id) && n.type !== 'trigger') errors.push({ nodeId: n.id, message: `not reachable from the trigger "${trigger.id}": connect it or remove it` });
  }
  for (const n of nodes) {
    if (ENDINGS.has(n.type)) continue;
    const handles = nodeKind(n.type).sources.map((s) => s.id);
    const open = handles.filter((h) => !(out.get(n.id) ?? []).some((e) => (e.sourceHandle ?? null) === h));
    if (open.length === 0) continue;
    const what = n.type === 'condition' ? `its "${open.join('" and "')}" branch${open.length > 1 ? 'es lead' : ' leads'} nowhere` : 'it leads nowhere';
    errors.push({ nodeId: n.id, message: `${what}: connect ${open.length > 1 ? 'them' : 'it'} to a reply, handoff or end node (or a further step)` });
  }
  return errors;
}

/** Conditions leave by "true" or "false", other nodes by their one unnamed handle; nothing enters the trigger. */
function wrongHandle(e: PipelineEdge, source: PipelineNode, target: PipelineNode): Omit<GraphError, 'edgeId'> | undefined {
  if (!nodeKind(target.type).target) return { field: 'target', message: `target: nothing may lead into the ${target.type} "${target.id}"` };
  const handles = nodeKind(source.type).sources.map((s) => s.id);
  if (handles.length === 0) return { field: 'source', message: `source: the pipeline ends at the ${source.type} "${source.id}": nothing may follow it` };
  const handle = e.sourceHandle ?? null;
  if (handles.includes(handle)) return undefined;
  return source.type === 'condition'
    ? { field: 'sourceHandle', message: `sourceHandle: an edge from the condition "${source.id}" leaves by "true" or "false", not ${handle === null ? 'none' : `"${handle}"`}` }
    : { field: 'sourceHandle', message: `sourceHandle: only conditions have named branches; the ${source.type} "${source.id}" has no "${handle}"` };
}

function reachable(from: string, out: Map<string, PipelineEdge[]>): Set<string> {
  const seen = new Set([from]);
  const todo = [from];
  for (let id = todo.pop(); id !== undefined; id = todo.pop()) {
    for (const e of out.get(id) ?? []) {
      if (seen.has(e.target)) continue;
      seen.add(e.target);
      todo.push(e.target);
    }
  }
  return seen;
}

/** Each edge that closes a loop (depth-first search): a run must not go round forever. */
function cycles(nodes: PipelineNode[], out: Map<string, PipelineEdge[]>): GraphError[] {
  const errors: GraphError[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (id: string) => {
    state.set(id, 'open');
    path.push(id);
    for (const e of out.get(id) ?? []) {
      const s = state.get(e.target);
      if (s === 'open') {
        const loop = [...path.slice(path.indexOf(e.target)), e.target].map((n) => `"${n}"`).join(' → ');
        errors.push({ edgeId: e.id, message: `this edge closes a loop ${loop}: a pipeline runs forward only` });
      } else if (!s) visit(e.target);
    }
    path.pop();
    state.set(id, 'done');
  };
  for (const n of nodes) if (!state.has(n.id)) visit(n.id);
  return errors;
}

/** What one node's settings refer to: models, knowledge bases, tools, channels, template names, a variable. */
function checkNode(node: PipelineNode, refs: GraphRefs): GraphError[] {
  const errors: GraphError[] = [];
  const err = (field: string, message: string) => errors.push({ nodeId: node.id, field, message: `${field}: ${message}` });
  const exists = (field: string, id: string, known: ReadonlySet<string>, what: string) => known.has(id) || err(field, `there is no ${what} "${id}"`);
  const allExist = (field: string, ids: string[] | undefined, known: ReadonlySet<string>, what: string) =>
    ids?.forEach((id, i) => exists(`${field}.${i}`, id, known, what));
  const templates = (fields: Record<string, string | undefined>) => {
    for (const [field, text] of Object.entries(fields)) {
      const unknown = text === undefined ? [] : unknownTemplateNames(text);
      if (unknown.length) err(field, `${unknown.map((n) => `{{${n}}}`).join(', ')} names nothing a run has (use message.text, retrieval.context, reply.text or vars.<name>)`);
    }
  };

  switch (node.type) {
    case 'trigger':
      allExist('channels', node.data.channels, refs.channels, 'channel');
      break;
    case 'retrieve':
      if (node.data.knowledgeBases.length === 0) err('knowledgeBases', 'choose at least one knowledge base');
      allExist('knowledgeBases', node.data.knowledgeBases, refs.knowledgeBases, 'knowledge base');
      templates({ query: node.data.query });
      break;
    case 'llm':
      if (node.data.model !== undefined) exists('model', node.data.model, refs.models, 'configured model');
      allExist('fallbacks', node.data.fallbacks, refs.models, 'configured model');
      allExist('tools', node.data.tools, refs.tools, 'tool');
      templates({ systemPrompt: node.data.systemPrompt, prompt: node.data.prompt });
      break;
    case 'tool':
      if (!node.data.tool) err('tool', 'choose a tool');
      else exists('tool', node.data.tool, refs.tools, 'tool');
      templates(Object.fromEntries(Object.entries(node.data.arguments).map(([name, t]) => [`arguments.${name}`, t])));
      break;
    case 'condition':
      if (node.data.subject === 'variable') {
        if (!node.data.variable) err('variable', 'name the variable to test (the subject is "variable")');
        else if (!node.data.variable.split('.').every((part) => variableName.safeParse(part).success)) err('variable', `"${node.data.variable}" is not a variable name such as orderNo or order.status`);
      }
      if (!node.data.value && node.data.operator !== 'equals') err('value', `give the text to ${node.data.operator === 'regex' ? 'match' : 'look for'}`);
      break;
    case 'reply':
      templates({ text: node.data.text });
      if (node.data.text === '' && !node.data.buttons?.length) err('text', 'a reply needs text or buttons');
      break;
    case 'handoff':
      templates({ text: node.data.text });
      break;
    case 'end':
      break;
  }
  return errors;
}
