// Pipelines in Postgres: the draft the studio edits, and the append-only versions published from it.
// /api/pipelines, config-as-code (runtime/catalog.ts) and the matchRule step all go through here.
import { canonicalJson } from '../runtime/audit.js';
import { ConfigError } from '../runtime/config.js';
import { inTransaction, type Db, type Queryable } from '../runtime/db.js';
import type { PinnedPipeline, PipelineGraph } from './graph.js';
import { loadLookups, refsOf } from './lookups.js';
import type { ConfigPipeline } from './schema.js';
import { describeError, describeErrors, validateGraph, type GraphError } from './validate.js';

export interface VersionInfo {
  version: number;
  publishedAt: Date;
  publishedBy: string;
  note: string;
}

export interface StoredPipeline {
  id: string;
  name: string;
  description: string;
  enabled: boolean;
  source: 'config' | 'api';
  draft: { graph: PipelineGraph; updatedAt: Date; updatedBy: string };
  createdAt: Date;
  createdBy: string;
  /** the latest version: what messages take */
  published: VersionInfo | null;
}

/** Publishing refused: the graph has these problems. */
export class PipelineInvalid extends Error {
  constructor(
    readonly pipelineId: string,
    readonly errors: GraphError[],
  ) {
    super(`pipeline "${pipelineId}" cannot be published: ${describeErrors(errors)}`);
  }
}

/** What a new pipeline starts as: the one node every pipeline needs. */
const STARTER_GRAPH: PipelineGraph = { nodes: [{ id: 'trigger', type: 'trigger', position: { x: 0, y: 0 }, data: {} }], edges: [] };

const SELECT = `SELECT p.id, p.name, p.description, p.enabled, p.source, p.draft, p.created_at, p.created_by, p.updated_at, p.updated_by,
    v.version, v.published_at, v.published_by, v.note
  FROM pipelines p
  LEFT JOIN LATERAL (SELECT version, published_at, published_by, note FROM pipeline_versions
                     WHERE pipeline_id = p.id ORDER BY version DESC LIMIT 1) v ON true`;

function fromRow(r: any): StoredPipeline {
  return {
    id: r.id,
    name: r.name,
    description: r.description,
    enabled: r.enabled,
    source: r.source,
    draft: { graph: r.draft, updatedAt: r.updated_at, updatedBy: r.updated_by },
    createdAt: r.created_at,
    createdBy: r.created_by,
    published: r.version ? { version: r.version, publishedAt: r.published_at, publishedBy: r.published_by, note: r.note } : null,
  };
}

export async function listPipelines(q: Queryable): Promise<StoredPipeline[]> {
  return (await q.query(`${SELECT} ORDER BY p.id`)).rows.map(fromRow);
}

export async function getPipeline(q: Queryable, id: string): Promise<StoredPipeline | undefined> {
  const { rows } = await q.query(`${SELECT} WHERE p.id = $1`, [id]);
  return rows[0] ? fromRow(rows[0]) : undefined;
}

/** A new pipeline with its draft; undefined when the id is taken. */
export async function createPipeline(
  q: Queryable,
  p: { id: string; name: string; description?: string; graph?: PipelineGraph },
  by: string,
): Promise<StoredPipeline | undefined> {
  const { rowCount } = await q.query(
    `INSERT INTO pipelines (id, name, description, draft, source, created_by, updated_by) VALUES ($1, $2, $3, $4, 'api', $5, $5)
     ON CONFLICT (id) DO NOTHING`,
    [p.id, p.name, p.description ?? '', JSON.stringify(p.graph ?? STARTER_GRAPH), by],
  );
  return rowCount ? getPipeline(q, p.id) : undefined;
}

/** Saves the draft and settings given; the draft is saved even when it cannot be published yet. */
export async function updatePipeline(
  q: Queryable,
  id: string,
  patch: { name?: string; description?: string; enabled?: boolean; graph?: PipelineGraph },
  by: string,
): Promise<StoredPipeline | undefined> {
  const { rowCount } = await q.query(
    `UPDATE pipelines SET name = coalesce($2, name), description = coalesce($3, description), enabled = coalesce($4, enabled),
       draft = coalesce($5::jsonb, draft), source = 'api', updated_at = now(), updated_by = $6
     WHERE id = $1`,
    [id, patch.name ?? null, patch.description ?? null, patch.enabled ?? null, patch.graph ? JSON.stringify(patch.graph) : null, by],
  );
  changed();
  return rowCount ? getPipeline(q, id) : undefined;
}

/** Deletes the pipeline and its versions (runs in flight keep the graph they pinned). */
export async function deletePipeline(q: Queryable, id: string): Promise<boolean> {
  const { rowCount } = await q.query('DELETE FROM pipelines WHERE id = $1', [id]);
  changed();
  return !!rowCount;
}

const VERSION_COLUMNS = 'version, published_at AS "publishedAt", published_by AS "publishedBy", note';

/** Newest first, without their graphs. */
export async function listVersions(q: Queryable, id: string): Promise<VersionInfo[]> {
  return (await q.query<VersionInfo>(`SELECT ${VERSION_COLUMNS} FROM pipeline_versions WHERE pipeline_id = $1 ORDER BY version DESC`, [id])).rows;
}

export async function getVersion(q: Queryable, id: string, version: number): Promise<(VersionInfo & { graph: PipelineGraph }) | undefined> {
  const { rows } = await q.query(`SELECT ${VERSION_COLUMNS}, graph FROM pipeline_versions WHERE pipeline_id = $1 AND version = $2`, [id, version]);
  return rows[0];
}

/**
 * Publishes the draft as the next version, if it passes every check against what exists now (else
 * PipelineInvalid with every error). Undefined when there is no such pipeline.
 */
export async function publishDraft(db: Db, id: string, note: string, by: string): Promise<{ version: number } | undefined> {
  return inTransaction(db, async (c) => {
    const { rows } = await c.query<{ draft: PipelineGraph }>('SELECT draft FROM pipelines WHERE id = $1 FOR UPDATE', [id]);
    if (!rows[0]) return undefined;
    return { version: await appendVersion(c, id, rows[0].draft, note, by) };
  });
}

/**
 * Publishes an earlier version's graph again, as a new version: history only grows, and a run's
 * version number keeps naming what it ran. The draft stays as it is. Undefined when there is no such
 * pipeline or version.
 */
export async function rollback(db: Db, id: string, version: number, note: string, by: string): Promise<{ version: number } | undefined> {
  return inTransaction(db, async (c) => {
    const locked = await c.query('SELECT 1 FROM pipelines WHERE id = $1 FOR UPDATE', [id]);
    const old = locked.rowCount ? await getVersion(c, id, version) : undefined;
    if (!old) return undefined;
    const why = `rollback to version ${version}${note ? `: ${note}` : ''}`;
    return { version: await appendVersion(c, id, old.graph, why, by) };
  });
}

/** Checks the graph and appends it as the next version; the caller holds the pipeline's row lock. */
async function appendVersion(c: Queryable, id: string, graph: PipelineGraph, note: string, by: string): Promise<number> {
  const { errors } = validateGraph(graph, refsOf(await loadLookups(c)));
  if (errors.length) throw new PipelineInvalid(id, errors);
  const { rows } = await c.query<{ version: number }>(
    `INSERT INTO pipeline_versions (pipeline_id, version, graph, note, published_by)
     SELECT $1, coalesce(max(version), 0) + 1, $2, $3, $4 FROM pipeline_versions WHERE pipeline_id = $1
     RETURNING version`,
    [id, JSON.stringify(graph), note, by],
  );
  changed();
  return rows[0]!.version;
}

// ---- matching: the latest version of every enabled pipeline, read once per short while, not per message

const CACHE_MS = 2000;
/** Bumped by every write in this process, so a change here is seen at once (other processes: within CACHE_MS). */
let generation = 0;
const changed = () => void generation++;
const published = new WeakMap<Db, { at: number; generation: number; list: Promise<PinnedPipeline[]> }>();

export function publishedPipelines(db: Db): Promise<PinnedPipeline[]> {
  const hit = published.get(db);
  if (hit && hit.generation === generation && Date.now() - hit.at < CACHE_MS) return hit.list;
  const list = db
    .query<{ id: string; name: string; version: number; graph: PipelineGraph }>(
      `SELECT DISTINCT ON (v.pipeline_id) p.id, p.name, v.version, v.graph
       FROM pipeline_versions v JOIN pipelines p ON p.id = v.pipeline_id
       WHERE p.enabled ORDER BY v.pipeline_id, v.version DESC`,
    )
    .then((r) => r.rows.map((p): PinnedPipeline => ({ id: p.id, version: p.version, name: p.name, graph: p.graph })));
  published.set(db, { at: Date.now(), generation, list });
  list.catch(() => published.delete(db));
  return list;
}

// ---- config-as-code

/**
 * The config file's pipelines: each one's name, description and draft are rewritten from the file at
 * every start; with `publish` (the default) its graph becomes a new version unless it equals the latest
 * one. A graph that cannot be published stops start-up, naming the pipeline and every problem.
 */
export async function upsertFromConfig(c: Queryable, pipelines: ConfigPipeline[]): Promise<void> {
  for (const [i, p] of pipelines.entries()) {
    await c.query(
      `INSERT INTO pipelines (id, name, description, draft, source, created_by, updated_by) VALUES ($1, $2, $3, $4, 'config', 'config', 'config')
       ON CONFLICT (id) DO UPDATE SET name = $2, description = $3, draft = $4, source = 'config', updated_at = now(), updated_by = 'config'`,
      [p.id, p.name ?? p.id, p.description ?? '', JSON.stringify(p.graph)],
    );
    if (!p.publish) continue;
    const { rows } = await c.query<{ graph: PipelineGraph }>('SELECT graph FROM pipeline_versions WHERE pipeline_id = $1 ORDER BY version DESC LIMIT 1', [p.id]);
    if (rows[0] && canonicalJson(rows[0].graph) === canonicalJson(p.graph)) continue;
    try {
      await appendVersion(c, p.id, p.graph, 'from the config file', 'config');
    } catch (err) {
      if (!(err instanceof PipelineInvalid)) throw err;
      throw new ConfigError(`pipelines[${i}] ("${p.id}") cannot be published:\n${err.errors.map((e) => `  ${describeError(e)}`).join('\n')}`);
    }
  }
  changed();
}
