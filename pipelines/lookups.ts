// What a pipeline may refer to, read straight from the tables: the studio's selects offer these, and
// validation checks graphs against them. Takes a client so config-as-code can check, inside its start-up
// transaction, against the models and channels it has just written.
import type { Queryable } from '../runtime/db.js';
import type { GraphRefs } from './validate.js';

export interface Choice {
  id: string;
  name: string;
}

export interface Lookups {
  /** ids are model refs "<providerId>/<modelId>" */
  models: Choice[];
  knowledgeBases: Choice[];
  tools: Choice[];
  channels: Choice[];
}

export async function loadLookups(q: Queryable): Promise<Lookups> {
  // one after another: q may be a single client inside a transaction
  const providers = await q.query<{ id: string; models: { id: string; name?: string }[] }>('SELECT id, models FROM model_providers ORDER BY id');
  const bases = await q.query<Choice>('SELECT id, name FROM knowledge_bases ORDER BY id');
  const tools = await q.query<Choice>('SELECT id, name FROM tools ORDER BY id');
  const channels = await q.query<{ id: string; name: string | null }>('SELECT id, name FROM channels ORDER BY id');
  return {
    models: providers.rows.flatMap((p) => p.models.map((m) => ({ id: `${p.id}/${m.id}`, name: m.name ?? m.id }))),
    knowledgeBases: bases.rows,
    tools: tools.rows,
    // the built-in sandbox channel is not stored, but a trigger may name it (to try a pipeline out)
    channels: [{ id: 'sandbox', name: 'Sandbox' }, ...channels.rows.map((c) => ({ id: c.id, name: c.name ?? c.id }))],
  };
}

export function refsOf(l: Lookups): GraphRefs {
  const ids = (cs: Choice[]) => new Set(cs.map((c) => c.id));
  return { models: ids(l.models), knowledgeBases: ids(l.knowledgeBases), tools: ids(l.tools), channels: ids(l.channels) };
}
