import { Router } from 'express';
import { z } from 'zod';
import { newId } from '../knowledge/store.js';
import { NODE_CATALOGUE } from '../pipelines/catalogue.js';
import type { PipelineGraph } from '../pipelines/graph.js';
import { loadLookups, refsOf } from '../pipelines/lookups.js';
import { pipelineId } from '../pipelines/schema.js';
import * as store from '../pipelines/store.js';
import { describeErrors, parseGraph, validateGraph, type GraphRefs } from '../pipelines/validate.js';
import type { Db } from '../runtime/db.js';
import { adminAudit, validated } from './admin.js';
import { currentActor } from './auth.js';
import { HttpError } from './http-errors.js';

const name = z.string().trim().min(1).max(200);
const description = z.string().max(2000);
const note = z.string().max(500);
// the graph is checked on its own (parseGraph), so its errors come back per node
const createBody = z.strictObject({ id: pipelineId.optional(), name, description: description.optional(), graph: z.unknown().optional() });
const updateBody = z.strictObject({ name: name.optional(), description: description.optional(), enabled: z.boolean().optional(), graph: z.unknown().optional() });
const validateBody = z.strictObject({ graph: z.unknown() });
const publishBody = z.strictObject({ note: note.optional() });
const rollbackBody = z.strictObject({ version: z.number().int().min(1), note: note.optional() });
const versionPath = z.object({ id: z.string(), version: z.coerce.number().int().min(1) });

/** A well-formed graph, or 400 with each shape error on its node or edge. */
function graphOf(candidate: unknown): PipelineGraph {
  const parsed = parseGraph(candidate);
  if (parsed.errors) throw new HttpError(400, `invalid pipeline: graph: ${describeErrors(parsed.errors)}`, parsed.errors);
  return parsed.graph;
}

/** What the studio shows of a pipeline: the draft with whether it could be published now, and the live version. */
function pipelineView(p: store.StoredPipeline, refs: GraphRefs) {
  return {
    id: p.id,
    name: p.name,
    description: p.description,
    enabled: p.enabled,
    source: p.source,
    createdAt: p.createdAt,
    createdBy: p.createdBy,
    draft: p.draft,
    published: p.published,
    validation: validateGraph(p.draft.graph, refs),
  };
}

/**
 * /api/pipelines: pipelines (list, read, create, update the draft, delete), their validation, versions
 * (list, read, publish the draft, roll back to an earlier one), and what the studio's forms need: the
 * node catalogue and the models, knowledge bases, tools and channels a node may name.
 */
export function pipelinesRouter(deps: { db: Db }): Router {
  const router = Router();
  const audit = adminAudit(deps.db);
  const refs = async () => refsOf(await loadLookups(deps.db));
  const find = async (id: string) => {
    const p = await store.getPipeline(deps.db, id);
    if (!p) throw new HttpError(404, `no pipeline "${id}"`);
    return p;
  };
  /** Publishing (and rolling back) refuses a graph with problems: 400 with every problem per node. */
  const publishing = async (publish: () => Promise<{ version: number } | undefined>, missing: string) => {
    try {
      const out = await publish();
      if (!out) throw new HttpError(404, missing);
      return out;
    } catch (err) {
      if (err instanceof store.PipelineInvalid) throw new HttpError(400, err.message, err.errors);
      throw err;
    }
  };

  // fixed paths first: they would otherwise be taken for pipeline ids (which may not use these words)
  router.get('/pipelines/catalogue', (_req, res) => {
    res.json(NODE_CATALOGUE);
  });

  router.get('/pipelines/lookups', async (_req, res) => {
    res.json(await loadLookups(deps.db));
  });

  router.post('/pipelines/validate', async (req, res) => {
    const body = validated(validateBody, req.body, 'request');
    res.json(validateGraph(body.graph, await refs()));
  });

  router.get('/pipelines', async (_req, res) => {
    const [all, known] = await Promise.all([store.listPipelines(deps.db), refs()]);
    res.json(all.map((p) => pipelineView(p, known)));
  });

  router.post('/pipelines', async (req, res) => {
    const body = validated(createBody, req.body, 'pipeline');
    const graph = body.graph === undefined ? undefined : graphOf(body.graph);
    const id = body.id ?? newId('pipeline');
    const created = await store.createPipeline(deps.db, { id, name: body.name, description: body.description, graph }, currentActor());
    if (!created) throw new HttpError(409, `pipeline "${id}" already exists`);
    await audit('pipeline.create', id, { name: body.name, nodes: created.draft.graph.nodes.length });
    res.status(201).json(pipelineView(created, await refs()));
  });

  router.get('/pipelines/:id', async (req, res) => {
    res.json(pipelineView(await find(req.params.id), await refs()));
  });

  router.put('/pipelines/:id', async (req, res) => {
    const body = validated(updateBody, req.body, 'pipeline');
    const graph = body.graph === undefined ? undefined : graphOf(body.graph);
    const updated = await store.updatePipeline(deps.db, req.params.id, { ...body, graph }, currentActor());
    if (!updated) throw new HttpError(404, `no pipeline "${req.params.id}"`);
    await audit('pipeline.update', updated.id, { changed: Object.keys(body), ...(body.enabled !== undefined && { enabled: body.enabled }) });
    res.json(pipelineView(updated, await refs()));
  });

  router.delete('/pipelines/:id', async (req, res) => {
    if (!(await store.deletePipeline(deps.db, req.params.id))) throw new HttpError(404, `no pipeline "${req.params.id}"`);
    await audit('pipeline.delete', req.params.id, {});
    res.status(204).end();
  });

  router.get('/pipelines/:id/versions', async (req, res) => {
    await find(req.params.id);
    res.json(await store.listVersions(deps.db, req.params.id));
  });

  router.get('/pipelines/:id/versions/:version', async (req, res) => {
    const { id, version } = validated(versionPath, req.params, 'request');
    const found = await store.getVersion(deps.db, id, version);
    if (!found) throw new HttpError(404, `pipeline "${id}" has no version ${version}`);
    res.json(found);
  });

  router.post('/pipelines/:id/publish', async (req, res) => {
    const body = validated(publishBody, req.body ?? {}, 'request');
    const id = req.params.id;
    const { version } = await publishing(() => store.publishDraft(deps.db, id, body.note ?? '', currentActor()), `no pipeline "${id}"`);
    await audit('pipeline.publish', id, { version, note: body.note ?? '' });
    res.status(201).json({ version });
  });

  router.post('/pipelines/:id/rollback', async (req, res) => {
    const body = validated(rollbackBody, req.body, 'request');
    const id = req.params.id;
    await find(id);
    const { version } = await publishing(() => store.rollback(deps.db, id, body.version, body.note ?? '', currentActor()), `pipeline "${id}" has no version ${body.version}`);
    await audit('pipeline.rollback', id, { to: body.version, version, note: body.note ?? '' });
    res.status(201).json({ version });
  });

  return router;
}
