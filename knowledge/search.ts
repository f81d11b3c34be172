import type { Catalog } from '../runtime/catalog.js';
import type { Db } from '../runtime/db.js';
import { logger } from '../runtime/logger.js';
import type { Retrieval, RetrievalHit } from '../workflows/types.js';
import { embedderFor } from './embed.js';
import { segment } from './segment.js';
import { hasVectorColumn, knowledgeSettings } from './store.js';

// Hybrid retrieval: a lexical ranking (jieba tokens in Postgres full-text search, ts_rank) and a dense
// one (cosine similarity of embeddings), fused by reciprocal rank. Only what the model needs leaves here.

/** the usual reciprocal-rank-fusion constant: damps the difference between the first few ranks */
export const RRF_K = 60;
/** the prompt gets at most this much reference text */
export const MAX_CONTEXT_CHARS = 6000;
/** question tokens used for the lexical query */
const MAX_QUERY_TOKENS = 32;
const MAX_QUESTION_CHARS = 2000;

export interface SearchOptions {
  topK?: number;
  minScore?: number;
}

type Via = RetrievalHit['via'][number];
type Ranked = { documentId: string; ordinal: number }[];
const key = (h: { documentId: string; ordinal: number }) => `${h.documentId}#${h.ordinal}`;

/** Searches the given bases for a question: numbered hits, and the context text citing them by number. */
export async function searchKnowledge(deps: { db: Db; catalog: Catalog }, baseIds: string[], question: string, opts: SearchOptions = {}): Promise<Retrieval & { texts: string[] }> {
  const { db } = deps;
  const settings = await knowledgeSettings(db);
  const topK = opts.topK ?? settings.topK;
  const minScore = opts.minScore ?? settings.minScore;
  const q = question.slice(0, MAX_QUESTION_CHARS);
  const candidates = Math.max(topK * 4, 20);

  const lists: { via: Via; ranked: Ranked }[] = [{ via: 'lexical', ranked: await lexicalSearch(db, baseIds, q, candidates) }];
  const notes: string[] = [];
  const { rows: bases } = await db.query<{ id: string; model: string | null }>(`SELECT id, embedding_model AS model FROM knowledge_bases WHERE id = ANY($1)`, [baseIds]);
  const byModel = new Map<string, string[]>();
  for (const b of bases) if (b.model) byModel.set(b.model, [...(byModel.get(b.model) ?? []), b.id]);
  if (!byModel.size) notes.push('no embedding model configured: lexical only');
  for (const [model, ids] of byModel) {
    try {
      lists.push({ via: 'dense', ranked: await denseSearch(deps, model, ids, q, candidates) });
    } catch (err) {
      // a down embedding server costs the dense half of retrieval, not the answer
      logger.warn({ model, err: (err as Error).message }, 'knowledge: dense retrieval failed');
      notes.push(`embedding model "${model}" failed (${(err as Error).message.slice(0, 200)}): lexical only for its bases`);
    }
  }
  const fused = fuse(lists, lists.length).filter((h) => h.score >= minScore).slice(0, topK);
  const hits = await withText(db, fused);
  return { ...formatContext(hits), mode: lists.some((l) => l.via === 'dense') ? 'hybrid' : 'lexical', ...(notes.length && { note: notes.join('; ') }) };
}

/** Chunks sharing any word with the question (OR of its tokens), best ts_rank first. */
async function lexicalSearch(db: Db, baseIds: string[], question: string, limit: number): Promise<Ranked> {
  const tokens = [...new Set(segment(question))].slice(0, MAX_QUERY_TOKENS);
  if (!tokens.length) return [];
  // each token a quoted lexeme, so nothing in the question is read as tsquery syntax
  const query = tokens.map((t) => `'${t.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`).join(' | ');
  const { rows } = await db.query<{ documentId: string; ordinal: number }>(
    `SELECT document_id AS "documentId", ordinal FROM knowledge_chunks, to_tsquery('simple', $2) AS q
     WHERE base_id = ANY($1) AND tsv @@ q ORDER BY ts_rank(tsv, q) DESC, document_id, ordinal LIMIT $3`,
    [baseIds, query, limit],
  );
  return rows;
}

/** Chunks closest to the question's embedding: pgvector's cosine distance where it exists, else an exact dot-product scan. */
async function denseSearch(deps: { db: Db; catalog: Catalog }, model: string, baseIds: string[], question: string, limit: number): Promise<Ranked> {
  const [vector] = await (await embedderFor(deps.catalog, model, undefined, 15_000))([question]);
  const sql = (await hasVectorColumn(deps.db))
    ? `SELECT document_id AS "documentId", ordinal FROM knowledge_chunks
       WHERE base_id = ANY($1) AND embedding_vec IS NOT NULL AND vector_dims(embedding_vec) = $4
       ORDER BY embedding_vec <=> $2::vector LIMIT $3`
    : `SELECT document_id AS "documentId", ordinal FROM knowledge_chunks c,
         LATERAL (SELECT sum(a * b) AS sim FROM unnest(c.embedding, $2::real[]) AS t(a, b)) s
       WHERE base_id = ANY($1) AND c.embedding IS NOT NULL AND cardinality(c.embedding) = $4
       ORDER BY s.sim DESC, document_id, ordinal LIMIT $3`;
  const param = (await hasVectorColumn(deps.db)) ? JSON.stringify(vector) : vector;
  return (await deps.db.query<{ documentId: string; ordinal: number }>(sql, [baseIds, param, limit, vector!.length])).rows;
}

/**
 * Reciprocal rank fusion: each list adds 1/(k + rank). Scores are scaled so that 1 means ranked first
 * by every retriever that ran; that makes minScore mean the same with one retriever or two.
 */
export function fuse(lists: { via: Via; ranked: Ranked }[], retrievers: number): { documentId: string; ordinal: number; score: number; via: Via[] }[] {
  const all = new Map<string, { documentId: string; ordinal: number; score: number; via: Via[] }>();
  for (const { via, ranked } of lists) {
    ranked.forEach((h, i) => {
      const hit = all.get(key(h)) ?? { documentId: h.documentId, ordinal: h.ordinal, score: 0, via: [] };
      hit.score += 1 / (RRF_K + i + 1);
      if (!hit.via.includes(via)) hit.via.push(via);
      all.set(key(h), hit);
    });
  }
  const best = retrievers / (RRF_K + 1);
  return [...all.values()].map((h) => ({ ...h, score: Math.round((h.score / best) * 1e4) / 1e4 })).sort((a, b) => b.score - a.score);
}

async function withText(db: Db, fused: ReturnType<typeof fuse>) {
  if (!fused.length) return [];
  const { rows } = await db.query<{ documentId: string; ordinal: number; start: number; end: number; text: string; documentName: string }>(
    `SELECT c.document_id AS "documentId", c.ordinal, c.start_offset AS start, c.end_offset AS "end", c.text, d.name AS "documentName"
     FROM knowledge_chunks c JOIN knowledge_documents d ON d.id = c.document_id
     JOIN unnest($1::text[], $2::int[]) AS w(document_id, ordinal) ON w.document_id = c.document_id AND w.ordinal = c.ordinal`,
    [fused.map((h) => h.documentId), fused.map((h) => h.ordinal)],
  );
  const text = new Map(rows.map((r) => [key(r), r]));
  // a chunk deleted between the two queries simply drops out
  return fused.flatMap((h) => {
    const r = text.get(key(h));
    return r ? [{ ...h, ...r }] : [];
  });
}

/**
 * "[1] name (part n)\ntext" blocks, best first, within MAX_CONTEXT_CHARS; a hit that no longer fits is
 * cut at the limit, and those after it are left out, so every returned hit is cited in the context.
 */
export function formatContext(hits: Awaited<ReturnType<typeof withText>>): Retrieval & { texts: string[] } {
  const out: RetrievalHit[] = [];
  const texts: string[] = [];
  const blocks: string[] = [];
  let used = 0;
  for (const h of hits) {
    const header = `[${out.length + 1}] ${h.documentName} (part ${h.ordinal + 1})\n`;
    const room = MAX_CONTEXT_CHARS - used - header.length - 2;
    if (room < 100) break;
    const body = h.text.length > room ? `${h.text.slice(0, room - 1)}…` : h.text;
    blocks.push(header + body);
    used += header.length + body.length + 2;
    texts.push(h.text);
    out.push({ source: out.length + 1, documentId: h.documentId, documentName: h.documentName, position: h.ordinal, start: h.start, end: h.end, score: h.score, via: h.via });
  }
  return { hits: out, context: blocks.join('\n\n'), texts };
}
