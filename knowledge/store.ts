import crypto from 'node:crypto';
import { knowledgeSchema, type KnowledgeSettings } from '../runtime/config.js';
import { inTransaction, type Db } from '../runtime/db.js';
import type { Chunk } from './chunk.js';
import { lexicalText } from './segment.js';

// Knowledge bases, documents and chunks in Postgres. The HTTP layer (api/knowledge.ts), the indexing
// jobs (indexer.ts) and retrieval (search.ts) all go through here.

export interface KnowledgeBase {
  id: string;
  name: string;
  description: string;
  attachToDefaultPipeline: boolean;
  embeddingModel: string | null;
  embeddingDimensions: number | null;
  chunkSize: number;
  chunkOverlap: number;
  createdAt: Date;
  updatedAt: Date;
}

export type DocumentStatus = 'queued' | 'indexing' | 'ready' | 'failed';

export interface KnowledgeDocument {
  id: string;
  baseId: string;
  name: string;
  contentType: string;
  bytes: number;
  status: DocumentStatus;
  progress: number;
  error: string | null;
  chunks: number;
  createdAt: Date;
  updatedAt: Date;
  indexedAt: Date | null;
}

const BASE_COLUMNS = `id, name, description, attach_to_default AS "attachToDefaultPipeline", embedding_model AS "embeddingModel",
  embedding_dimensions AS "embeddingDimensions", chunk_size AS "chunkSize", chunk_overlap AS "chunkOverlap",
  created_at AS "createdAt", updated_at AS "updatedAt"`;
const DOC_COLUMNS = `id, base_id AS "baseId", name, content_type AS "contentType", bytes, status, progress, error, chunks,
  created_at AS "createdAt", updated_at AS "updatedAt", indexed_at AS "indexedAt"`;

export const newId = (prefix: string) => `${prefix}_${crypto.randomBytes(8).toString('hex')}`;

/**
 * Knowledge defaults: the `knowledge` settings row when config-as-code stored one, else the schema's
 * defaults. Read through the schema so defaults added later apply to old rows.
 */
export async function knowledgeSettings(db: Db): Promise<KnowledgeSettings> {
  const { rows } = await db.query<{ value: unknown }>(`SELECT value FROM settings WHERE key = 'knowledge'`);
  const parsed = knowledgeSchema.safeParse(rows[0]?.value ?? {});
  return parsed.success ? parsed.data : knowledgeSchema.parse({});
}

const vectorColumn = new WeakMap<Db, Promise<boolean>>();
/** Whether chunks have a pgvector column (005_knowledge.sql adds it only where the extension exists). */
export function hasVectorColumn(db: Db): Promise<boolean> {
  let known = vectorColumn.get(db);
  if (!known) {
    known = db
      .query(`SELECT 1 FROM information_schema.columns WHERE table_name = 'knowledge_chunks' AND column_name = 'embedding_vec'`)
      .then((r) => r.rowCount === 1);
    known.catch(() => vectorColumn.delete(db));
    vectorColumn.set(db, known);
  }
  return known;
}

// ---- bases

export async function listBases(db: Db): Promise<KnowledgeBase[]> {
  return (await db.query<KnowledgeBase>(`SELECT ${BASE_COLUMNS} FROM knowledge_bases ORDER BY created_at, id`)).rows;
}

export async function getBase(db: Db, id: string): Promise<KnowledgeBase | undefined> {
  return (await db.query<KnowledgeBase>(`SELECT ${BASE_COLUMNS} FROM knowledge_bases WHERE id = $1`, [id])).rows[0];
}

export type BaseFields = Pick<KnowledgeBase, 'name' | 'description' | 'attachToDefaultPipeline' | 'embeddingModel' | 'chunkSize' | 'chunkOverlap'>;

/** false when the id is taken */
export async function createBase(db: Db, id: string, f: BaseFields): Promise<KnowledgeBase | undefined> {
  const { rows } = await db.query<KnowledgeBase>(
    `INSERT INTO knowledge_bases (id, name, description, attach_to_default, embedding_model, chunk_size, chunk_overlap)
     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING RETURNING ${BASE_COLUMNS}`,
    [id, f.name, f.description, f.attachToDefaultPipeline, f.embeddingModel, f.chunkSize, f.chunkOverlap],
  );
  return rows[0];
}

/**
 * Updates a base. A new embedding model or chunking invalidates every chunk, so each document is
 * queued again (its current chunks stay searchable until the new ones replace them). Returns how many.
 */
export async function updateBase(db: Db, id: string, f: BaseFields): Promise<{ base: KnowledgeBase; requeued: number }> {
  return inTransaction(db, async (c) => {
    const before = (await c.query<KnowledgeBase>(`SELECT ${BASE_COLUMNS} FROM knowledge_bases WHERE id = $1 FOR UPDATE`, [id])).rows[0]!;
    const reindex = before.embeddingModel !== f.embeddingModel || before.chunkSize !== f.chunkSize || before.chunkOverlap !== f.chunkOverlap;
    const { rows } = await c.query<KnowledgeBase>(
      `UPDATE knowledge_bases SET name = $2, description = $3, attach_to_default = $4, embedding_model = $5, chunk_size = $6,
         chunk_overlap = $7, embedding_dimensions = CASE WHEN $8 THEN NULL ELSE embedding_dimensions END, updated_at = now()
       WHERE id = $1 RETURNING ${BASE_COLUMNS}`,
      [id, f.name, f.description, f.attachToDefaultPipeline, f.embeddingModel, f.chunkSize, f.chunkOverlap, before.embeddingModel !== f.embeddingModel],
    );
    const requeued = reindex ? (await c.query(`${REQUEUE} WHERE base_id = $1`, [id])).rowCount ?? 0 : 0;
    return { base: rows[0]!, requeued };
  });
}

/** Deletes a base with its documents and chunks; false when there was none. */
export async function deleteBase(db: Db, id: string): Promise<boolean> {
  return inTransaction(db, async (c) => {
    await c.query(`DELETE FROM knowledge_chunks WHERE base_id = $1`, [id]);
    return ((await c.query(`DELETE FROM knowledge_bases WHERE id = $1`, [id])).rowCount ?? 0) > 0;
  });
}

/** Ids of the bases the default pipeline retrieves from. */
export async function defaultPipelineBases(db: Db): Promise<string[]> {
  return (await db.query<{ id: string }>(`SELECT id FROM knowledge_bases WHERE attach_to_default ORDER BY id`)).rows.map((r) => r.id);
}

// ---- documents

const REQUEUE = `UPDATE knowledge_documents SET status = 'queued', progress = 0, error = NULL, generation = generation + 1,
  lease_until = NULL, updated_at = now()`;

export async function createDocument(db: Db, d: { baseId: string; name: string; contentType: string; source: Uint8Array }): Promise<KnowledgeDocument> {
  const { rows } = await db.query<KnowledgeDocument>(
    `INSERT INTO knowledge_documents (id, base_id, name, content_type, bytes, source, status)
     VALUES ($1, $2, $3, $4, $5, $6, 'queued') RETURNING ${DOC_COLUMNS}`,
    [newId('doc'), d.baseId, d.name, d.contentType, d.source.byteLength, Buffer.from(d.source)],
  );
  return rows[0]!;
}

/** A new upload for an existing document: queued for indexing; its old chunks serve until the new ones are in. */
export async function replaceDocument(db: Db, id: string, d: { name: string; contentType: string; source: Uint8Array }): Promise<KnowledgeDocument | undefined> {
  const { rows } = await db.query<KnowledgeDocument>(
    `${REQUEUE}, name = $2, content_type = $3, bytes = $4, source = $5 WHERE id = $1 RETURNING ${DOC_COLUMNS}`,
    [id, d.name, d.contentType, d.source.byteLength, Buffer.from(d.source)],
  );
  return rows[0];
}

export async function listDocuments(db: Db, baseId: string, limit: number, offset: number): Promise<KnowledgeDocument[]> {
  return (
    await db.query<KnowledgeDocument>(`SELECT ${DOC_COLUMNS} FROM knowledge_documents WHERE base_id = $1 ORDER BY created_at, id LIMIT $2 OFFSET $3`, [
      baseId,
      limit,
      offset,
    ])
  ).rows;
}

export async function getDocument(db: Db, baseId: string, id: string): Promise<KnowledgeDocument | undefined> {
  return (await db.query<KnowledgeDocument>(`SELECT ${DOC_COLUMNS} FROM knowledge_documents WHERE base_id = $1 AND id = $2`, [baseId, id])).rows[0];
}

/** Deletes a document and its chunks (the foreign key cascades); false when there was none. */
export async function deleteDocument(db: Db, baseId: string, id: string): Promise<boolean> {
  return ((await db.query(`DELETE FROM knowledge_documents WHERE base_id = $1 AND id = $2`, [baseId, id])).rowCount ?? 0) > 0;
}

// ---- indexing jobs (see indexer.ts)

export interface Claimed {
  id: string;
  generation: number;
  name: string;
  contentType: string;
  source: Buffer;
  base: KnowledgeBase;
}

/**
 * Takes an unfinished document for indexing unless another live job holds it: marks it `indexing`
 * with a lease this process renews. Undefined when it is finished, gone, or leased elsewhere.
 */
export async function claimDocument(db: Db, id: string, leaseSeconds: number): Promise<Claimed | undefined> {
  const { rows } = await db.query<Omit<Claimed, 'base'> & { baseId: string }>(
    `UPDATE knowledge_documents SET status = 'indexing', lease_until = now() + make_interval(secs => $2), updated_at = now()
     WHERE id = $1 AND status IN ('queued', 'indexing') AND (lease_until IS NULL OR lease_until < now())
     RETURNING id, generation, name, content_type AS "contentType", source, base_id AS "baseId"`,
    [id, leaseSeconds],
  );
  const doc = rows[0];
  if (!doc) return undefined;
  const base = await getBase(db, doc.baseId);
  return base && { id: doc.id, generation: doc.generation, name: doc.name, contentType: doc.contentType, source: doc.source, base };
}

/** Records progress and renews the lease; false when the job is stale (replaced or deleted meanwhile). */
export async function reportProgress(db: Db, job: Pick<Claimed, 'id' | 'generation'>, progress: number, leaseSeconds: number): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE knowledge_documents SET progress = $3, lease_until = now() + make_interval(secs => $4), updated_at = now()
     WHERE id = $1 AND generation = $2 AND status = 'indexing'`,
    [job.id, job.generation, Math.min(Math.max(progress, 0), 1), leaseSeconds],
  );
  return rowCount === 1;
}

export async function failDocument(db: Db, job: Pick<Claimed, 'id' | 'generation'>, error: string): Promise<void> {
  await db.query(
    `UPDATE knowledge_documents SET status = 'failed', error = $3, lease_until = NULL, updated_at = now() WHERE id = $1 AND generation = $2`,
    [job.id, job.generation, error.slice(0, 2000)],
  );
}

/**
 * Swaps a document's chunks for new ones in one transaction, so retrieval sees the old set or the new
 * one, never a mix. Nothing is written when the job is stale. Returns whether it was written.
 */
export async function storeChunks(
  db: Db,
  job: Pick<Claimed, 'id' | 'generation' | 'base'>,
  chunks: Chunk[],
  embeddings: number[][] | undefined,
): Promise<boolean> {
  const vec = embeddings && (await hasVectorColumn(db));
  return inTransaction(db, async (c) => {
    const current = await c.query(`SELECT 1 FROM knowledge_documents WHERE id = $1 AND generation = $2 FOR UPDATE`, [job.id, job.generation]);
    if (current.rowCount !== 1) return false;
    await c.query(`DELETE FROM knowledge_chunks WHERE document_id = $1`, [job.id]);
    // one statement per batch of rows: a large document is thousands of chunks
    for (let i = 0; i < chunks.length; i += 200) {
      const batch = chunks.slice(i, i + 200);
      const params: unknown[] = [];
      const values = batch.map((ch, j) => {
        const e = embeddings?.[i + j];
        params.push(job.id, job.base.id, ch.ordinal, ch.start, ch.end, ch.text, lexicalText(ch.text), e ? (vec ? JSON.stringify(e) : e) : null);
        const n = params.length - 8;
        return `($${n + 1}, $${n + 2}, $${n + 3}, $${n + 4}, $${n + 5}, $${n + 6}, to_tsvector('simple', $${n + 7}), $${n + 8}::${vec ? 'vector' : 'real[]'})`;
      });
      const cols = `document_id, base_id, ordinal, start_offset, end_offset, text, tsv, ${vec ? 'embedding_vec' : 'embedding'}`;
      await c.query(`INSERT INTO knowledge_chunks (${cols}) VALUES ${values.join(', ')}`, params);
    }
    if (embeddings?.[0]) await c.query(`UPDATE knowledge_bases SET embedding_dimensions = $2 WHERE id = $1 AND embedding_dimensions IS NULL`, [job.base.id, embeddings[0].length]);
    await c.query(
      `UPDATE knowledge_documents SET status = 'ready', progress = 1, error = NULL, chunks = $2, lease_until = NULL, indexed_at = now(), updated_at = now() WHERE id = $1`,
      [job.id, chunks.length],
    );
    return true;
  });
}

/** Unfinished documents nobody holds: new uploads, and jobs that died with their process. */
export async function orphanedDocuments(db: Db, limit = 100): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT id FROM knowledge_documents WHERE status IN ('queued', 'indexing') AND (lease_until IS NULL OR lease_until < now())
     ORDER BY updated_at LIMIT $1`,
    [limit],
  );
  return rows.map((r) => r.id);
}
