import path from 'node:path';
import express, { Router, type Request } from 'express';
import { z } from 'zod';
import { Indexer } from '../knowledge/indexer.js';
import { DOCUMENT_TYPES, documentKind, UnsupportedDocumentType } from '../knowledge/parse.js';
import { searchKnowledge } from '../knowledge/search.js';
import * as store from '../knowledge/store.js';
import type { Catalog } from '../runtime/catalog.js';
import { knowledgeSchema, modelRef } from '../runtime/config.js';
import type { Db } from '../runtime/db.js';
import { adminAudit } from './admin.js';
import { HttpError, parseBody } from './http-errors.js';

/** Uploads larger than this are refused with 413 before they are read into memory. */
export const MAX_UPLOAD = '20mb';

const chunking = knowledgeSchema.shape.chunkSize.unwrap();
const overlap = knowledgeSchema.shape.chunkOverlap.unwrap();
const baseFields = {
  name: z.string().trim().min(1).max(200),
  description: z.string().max(2000),
  attachToDefaultPipeline: z.boolean(),
  /** null: lexical retrieval only; absent on create: the configured knowledge.embedding.model */
  embeddingModel: modelRef.nullable(),
  chunkSize: chunking,
  chunkOverlap: overlap,
};
const createSchema = z.strictObject({
  id: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'lower-case letters, digits, "_" or "-" (max 64)').optional(),
  ...baseFields,
  description: baseFields.description.default(''),
  attachToDefaultPipeline: baseFields.attachToDefaultPipeline.default(true),
  embeddingModel: baseFields.embeddingModel.optional(),
  chunkSize: chunking.optional(),
  chunkOverlap: overlap.optional(),
});
const patchSchema = z.strictObject(baseFields).partial();
const searchSchema = z.strictObject({
  query: z.string().trim().min(1).max(2000),
  topK: z.number().int().min(1).max(50).optional(),
  minScore: z.number().min(0).max(1).optional(),
});
const pageSchema = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
});

/**
 * /api/knowledge-bases: bases (CRUD), their documents (upload, list, read, replace, delete) and a
 * search for tuning. Uploads are indexed asynchronously by this process's Indexer; a document's
 * status and progress show how far it got. Every change is audited.
 */
export function knowledgeRouter(deps: { db: Db; catalog: Catalog }): Router {
  const router = Router();
  const audit = adminAudit(deps.db);
  const indexer = new Indexer(deps).start();

  const findBase = async (id: string) => {
    const base = await store.getBase(deps.db, id);
    if (!base) throw new HttpError(404, `no knowledge base "${id}"`);
    return base;
  };
  const findDocument = async (baseId: string, id: string) => {
    const doc = await store.getDocument(deps.db, baseId, id);
    if (!doc) throw new HttpError(404, `no document "${id}" in knowledge base "${baseId}"`);
    return doc;
  };
  /** Embedding model must be one the catalog can call; overlap below size (checked after defaults apply). */
  const checked = async <T extends { embeddingModel: string | null; chunkSize: number; chunkOverlap: number }>(f: T): Promise<T> => {
    if (f.embeddingModel && !(await deps.catalog.resolveModel(f.embeddingModel))) {
      throw new HttpError(400, `invalid request: embeddingModel: model "${f.embeddingModel}" is not configured under models.providers`);
    }
    if (f.chunkOverlap >= f.chunkSize) throw new HttpError(400, 'invalid request: chunkOverlap: must be less than chunkSize');
    return f;
  };

  router.get('/knowledge-bases', async (_req, res) => {
    res.json({ knowledgeBases: await store.listBases(deps.db) });
  });

  router.get('/knowledge-bases/:id', async (req, res) => {
    res.json(await findBase(req.params.id!));
  });

  router.post('/knowledge-bases', async (req, res) => {
    const body = parseBody(createSchema, req);
    const defaults = await store.knowledgeSettings(deps.db);
    const fields = await checked({
      name: body.name,
      description: body.description,
      attachToDefaultPipeline: body.attachToDefaultPipeline,
      embeddingModel: body.embeddingModel === undefined ? (defaults.embedding.model ?? null) : body.embeddingModel,
      chunkSize: body.chunkSize ?? defaults.chunkSize,
      chunkOverlap: body.chunkOverlap ?? Math.min(defaults.chunkOverlap, Math.floor((body.chunkSize ?? defaults.chunkSize) / 2)),
    });
    const id = body.id ?? store.newId('kb');
    const base = await store.createBase(deps.db, id, fields);
    if (!base) throw new HttpError(409, `knowledge base "${id}" already exists`);
    await audit('knowledge.base.create', id, { name: base.name, embeddingModel: base.embeddingModel, attachToDefaultPipeline: base.attachToDefaultPipeline });
    res.status(201).json(base);
  });

  router.patch('/knowledge-bases/:id', async (req, res) => {
    const patch = parseBody(patchSchema, req);
    const current = await findBase(req.params.id!);
    const { base, requeued } = await store.updateBase(deps.db, current.id, await checked({ ...current, ...patch }));
    if (requeued) (await store.orphanedDocuments(deps.db, 10_000)).forEach((id) => indexer.enqueue(id));
    await audit('knowledge.base.update', base.id, { changed: Object.keys(patch), requeued });
    res.json({ ...base, requeued });
  });

  router.delete('/knowledge-bases/:id', async (req, res) => {
    if (!(await store.deleteBase(deps.db, req.params.id!))) throw new HttpError(404, `no knowledge base "${req.params.id}"`);
    await audit('knowledge.base.delete', req.params.id!, {});
    res.status(204).end();
  });

  router.post('/knowledge-bases/:id/documents', upload, async (req, res) => {
    const base = await findBase(req.params.id!);
    const file = uploaded(req);
    const doc = await store.createDocument(deps.db, { baseId: base.id, ...file });
    indexer.enqueue(doc.id);
    await audit('knowledge.document.upload', doc.id, { baseId: base.id, name: doc.name, bytes: doc.bytes });
    res.status(202).json(doc);
  });

  router.get('/knowledge-bases/:id/documents', async (req, res) => {
    const base = await findBase(req.params.id!);
    const page = pageSchema.safeParse(req.query);
    if (!page.success) throw new HttpError(400, `invalid request: ${String(page.error.issues[0]!.path[0])}: ${page.error.issues[0]!.message}`);
    res.json({ documents: await store.listDocuments(deps.db, base.id, page.data.limit, page.data.offset) });
  });

  router.get('/knowledge-bases/:id/documents/:docId', async (req, res) => {
    res.json(await findDocument(req.params.id!, req.params.docId!));
  });

  router.put('/knowledge-bases/:id/documents/:docId', upload, async (req, res) => {
    await findDocument(req.params.id!, req.params.docId!);
    const file = uploaded(req);
    const doc = await store.replaceDocument(deps.db, req.params.docId!, file);
    if (!doc) throw new HttpError(404, `no document "${req.params.docId}"`);
    indexer.enqueue(doc.id);
    await audit('knowledge.document.replace', doc.id, { baseId: doc.baseId, name: doc.name, bytes: doc.bytes });
    res.status(202).json(doc);
  });

  router.delete('/knowledge-bases/:id/documents/:docId', async (req, res) => {
    if (!(await store.deleteDocument(deps.db, req.params.id!, req.params.docId!))) {
      throw new HttpError(404, `no document "${req.params.docId}" in knowledge base "${req.params.id}"`);
    }
    await audit('knowledge.document.delete', req.params.docId!, { baseId: req.params.id });
    res.status(204).end();
  });

  router.post('/knowledge-bases/:id/search', async (req, res) => {
    const base = await findBase(req.params.id!);
    const { query, ...opts } = parseBody(searchSchema, req);
    const { hits, texts, mode, note } = await searchKnowledge(deps, [base.id], query, opts);
    res.json({ mode, note, hits: hits.map((h, i) => ({ ...h, text: texts[i] })) });
  });

  return router;
}

/** The raw upload, whatever its type (the type is checked against the file name below). */
const upload = express.raw({ type: () => true, limit: MAX_UPLOAD });

/** Name, canonical content type and bytes of an upload, or a 4xx naming what is wrong. */
function uploaded(req: Request): { name: string; contentType: string; source: Uint8Array } {
  const raw = typeof req.query.name === 'string' ? req.query.name : '';
  const name = path.basename(raw.replace(/\\/g, '/')).trim();
  if (!name || name.length > 255) throw new HttpError(400, 'invalid request: name: give the file name as ?name= (1-255 characters, e.g. ?name=faq.md)');
  let kind;
  try {
    kind = documentKind(name, req.get('content-type'));
  } catch (err) {
    if (err instanceof UnsupportedDocumentType) throw new HttpError(415, err.message);
    throw err;
  }
  // a JSON body was already taken by the API's JSON parser: not a document type we read
  if (!Buffer.isBuffer(req.body)) throw new HttpError(415, `unsupported document type (${req.get('content-type')}): upload .md, .txt, .pdf, .docx or .html`);
  if (!req.body.length) throw new HttpError(400, 'invalid request: body: the upload is empty');
  return { name, contentType: DOCUMENT_TYPES[kind], source: req.body };
}
