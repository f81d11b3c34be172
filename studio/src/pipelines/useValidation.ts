// Validation marks while editing: the same validateGraph the server runs on save and publish, here with
// the lookups as what exists, a moment after the last change so typing stays smooth.
import { useEffect } from 'react';
import { validateGraph, type GraphRefs } from '../../../pipelines/validate.js';
import type { Lookups } from './api.js';
import { toGraph, useEditor } from './store.js';

const DEBOUNCE_MS = 300;

function refsOf(lookups: Lookups): GraphRefs {
  const ids = (list: { value: string }[]) => new Set(list.map((c) => c.value));
  return { models: ids(lookups.models), knowledgeBases: ids(lookups.knowledgeBases), tools: ids(lookups.tools), channels: ids(lookups.channels) };
}

/** Until the lookups are in, every model would look unknown: validation starts once they are. */
export function useValidation(lookupsLoaded: boolean): void {
  const nodes = useEditor((s) => s.nodes);
  const edges = useEditor((s) => s.edges);
  const lookups = useEditor((s) => s.lookups);
  const readOnly = useEditor((s) => s.readOnly);

  useEffect(() => {
    if (!lookupsLoaded || readOnly) return;
    const timer = setTimeout(() => useEditor.getState().setIssues(validateGraph(toGraph(nodes, edges), refsOf(lookups)).errors), DEBOUNCE_MS);
    return () => clearTimeout(timer);
  }, [nodes, edges, lookups, lookupsLoaded, readOnly]);
}
