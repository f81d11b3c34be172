// The pipeline interpreter: a short walk over the graph from its trigger. What each node does lives in
// message.ts (it needs the run's activities and trace); here only the order they run in.
import type { LlmData, PinnedPipeline, PipelineGraph, PipelineNode } from '../pipelines/graph.js';
import type { RuleMatch } from './types.js';

/** Runs one node; a condition answers "true" or "false", which picks the edges to follow. */
export type RunNode = (node: PipelineNode) => Promise<'true' | 'false' | undefined>;

/** A graph is checked when it is published; this bound only stops a graph that slipped through from looping. */
const MAX_NODE_RUNS = 200;

/** Walks the graph depth-first from the trigger, following the outgoing edges of each node in order. */
export async function runPipeline(graph: PipelineGraph, runNode: RunNode): Promise<void> {
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  let runs = 0;
  async function visit(node: PipelineNode): Promise<void> {
    if (++runs > MAX_NODE_RUNS) throw new Error(`pipeline ran more than ${MAX_NODE_RUNS} nodes: is there a loop?`);
    const handle = await runNode(node);
    for (const edge of graph.edges) {
      if (edge.source !== node.id) continue;
      if (node.type === 'condition' && edge.sourceHandle !== handle) continue;
      const next = byId.get(edge.target);
      if (next) await visit(next);
    }
  }
  const trigger = graph.nodes.find((n) => n.type === 'trigger');
  if (trigger) await visit(trigger);
}

/**
 * The built-in pipeline that answers when no published one matches (and every run recorded before
 * pipelines existed): retrieve from the rule's knowledge bases → the rule's model chain → reply. Its
 * steps are exactly the fixed steps of those older runs, so their histories replay unchanged.
 */
export function defaultPipeline(rule: RuleMatch): PinnedPipeline {
  const llm: LlmData = { model: rule.models[0], fallbacks: rule.models.slice(1), systemPrompt: rule.systemPrompt };
  const at = (x: number) => ({ x, y: 0 });
  return {
    id: rule.pipelineId,
    version: rule.pipelineVersion,
    graph: {
      nodes: [
        { id: 'trigger', type: 'trigger', position: at(0), data: {} },
        { id: 'retrieve', type: 'retrieve', position: at(200), data: { knowledgeBases: rule.knowledgeBases ?? [] } },
        { id: 'llm', type: 'llm', position: at(400), data: llm },
        { id: 'reply', type: 'reply', position: at(600), data: {} },
      ],
      edges: [
        { id: 'e1', source: 'trigger', target: 'retrieve' },
        { id: 'e2', source: 'retrieve', target: 'llm' },
        { id: 'e3', source: 'llm', target: 'reply' },
      ],
    },
  };
}

/** The models an llm node tries in order: a sandbox override first, then the node's, then the configured ones. */
export function modelChain(data: LlmData, rule: RuleMatch, override?: string): string[] {
  const chain = [override, data.model ?? rule.models[0], ...(data.fallbacks ?? rule.models.slice(1))];
  return [...new Set(chain.filter((m): m is string => !!m))];
}

/** A condition node's test, on the text it names. An unusable pattern is false, never a crash. */
export function testCondition(subject: string, operator: 'contains' | 'regex' | 'equals', value: string): boolean {
  if (operator === 'contains') return subject.includes(value);
  if (operator === 'equals') return subject.trim() === value.trim();
  try {
    return new RegExp(value, 'u').test(subject);
  } catch {
    return false;
  }
}
