// The editor's calls to /api/pipelines, /api/sandbox and the lookups, through the console's client
// (session cookie, CSRF header on writes, the login shown again when the session is gone).
import type { PipelineGraph } from '../../../pipelines/graph.js';
import { api as call, ApiError } from '../api.js';
import type { Translate } from './i18n.js';

export { ApiError };

/** What went wrong, in the analyst's language when it is about being logged in or allowed. */
export function describeError(t: Translate, err: unknown): string {
  if (err instanceof ApiError && (err.status === 401 || err.status === 403)) return t('error.unauthorized');
  return t('error.generic', { message: err instanceof Error ? err.message : String(err) });
}

export interface ValidationError {
  nodeId?: string;
  edgeId?: string;
  field?: string;
  message: string;
}

export interface Validation {
  ok: boolean;
  errors: ValidationError[];
}

export interface PublishedInfo {
  version: number;
  publishedAt: string;
  note?: string | null;
}

export interface Pipeline {
  id: string;
  name: string;
  description?: string;
  enabled: boolean;
  draft: { graph: PipelineGraph; updatedAt: string };
  published: PublishedInfo | null;
  validation?: Validation;
}

export interface PipelineVersion extends PublishedInfo {
  graph?: PipelineGraph;
  publishedBy?: string;
}

/** An option for a select: the lookups answer with ids or with { id, name } objects. */
export interface Choice {
  value: string;
  label: string;
}

export interface Lookups {
  models: Choice[];
  knowledgeBases: Choice[];
  tools: Choice[];
  channels: Choice[];
  departments: Choice[];
}

export interface TraceStep {
  step: string;
  nodeId?: string;
  status: string;
  durationMs: number;
  input?: unknown;
  output?: unknown;
  error?: string;
}

export interface SandboxAnswer {
  workflowId: string;
  status?: string;
  reply: { text: string; model?: string; buttons?: { label: string; url?: string }[] } | null;
  trace: TraceStep[];
}

function toChoices(list: unknown): Choice[] {
  if (!Array.isArray(list)) return [];
  return list.flatMap((item): Choice[] => {
    if (typeof item === 'string') return [{ value: item, label: item }];
    if (item && typeof item === 'object') {
      const o = item as Record<string, unknown>;
      const value = String(o.id ?? o.ref ?? o.value ?? '');
      if (!value) return [];
      const name = o.name ?? o.label;
      return [{ value, label: typeof name === 'string' && name && name !== value ? `${name} (${value})` : value }];
    }
    return [];
  });
}

export const api = {
  list: () => call<Pipeline[]>('GET', '/pipelines'),
  get: (id: string) => call<Pipeline>('GET', `/pipelines/${encodeURIComponent(id)}`),
  create: (body: { id?: string; name: string; description?: string; graph?: PipelineGraph }) => call<Pipeline>('POST', '/pipelines', body),
  save: (id: string, body: { name?: string; description?: string; enabled?: boolean; graph?: PipelineGraph }) =>
    call<Pipeline>('PUT', `/pipelines/${encodeURIComponent(id)}`, body),
  remove: (id: string) => call<unknown>('DELETE', `/pipelines/${encodeURIComponent(id)}`),
  publish: (id: string, note?: string) => call<{ version: number }>('POST', `/pipelines/${encodeURIComponent(id)}/publish`, { note }),
  versions: (id: string) => call<PipelineVersion[]>('GET', `/pipelines/${encodeURIComponent(id)}/versions`),
  version: (id: string, version: number) => call<PipelineVersion>('GET', `/pipelines/${encodeURIComponent(id)}/versions/${version}`),
  rollback: (id: string, version: number, note?: string) =>
    call<{ version?: number }>('POST', `/pipelines/${encodeURIComponent(id)}/rollback`, { version, note }),
  testRun: (pipelineId: string, text: string, senderId?: string) =>
    call<SandboxAnswer>('POST', '/sandbox/messages', { text, pipelineId, pipelineVersion: 'draft', ...(senderId && { senderId }) }),

  /** Everything the forms offer to pick from; a lookup the server lacks (yet) is an empty list. */
  async lookups(): Promise<Lookups> {
    const [refs, departments] = await Promise.all([
      call<Record<string, unknown>>('GET', '/pipelines/lookups').catch(() => ({}) as Record<string, unknown>),
      call<unknown>('GET', '/departments').catch(() => []),
    ]);
    return {
      models: toChoices(refs.models),
      knowledgeBases: toChoices(refs.knowledgeBases),
      tools: toChoices(refs.tools),
      channels: toChoices(refs.channels),
      departments: toChoices(departments),
    };
  },
};
