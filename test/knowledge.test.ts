// Knowledge bases below the HTTP layer: chunking, segmentation, parsing, and hybrid retrieval against a
// real database (PGlite with pgvector without DATABASE_URL, the exact scan on plain Postgres with it).
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chunkText, sentenceSpans } from '../knowledge/chunk.js';
import { Indexer } from '../knowledge/indexer.js';
import { documentKind, parseDocument, UnsupportedDocumentType } from '../knowledge/parse.js';
import { fuse, MAX_CONTEXT_CHARS, searchKnowledge } from '../knowledge/search.js';
import { segment } from '../knowledge/segment.js';
import * as store from '../knowledge/store.js';
import { makeRetrieve } from '../activities/retrieve.js';
import { Catalog } from '../runtime/catalog.js';
import { parseConfig } from '../runtime/config.js';
import { openDatabase, type Database } from '../runtime/db.js';
import { SecretBox } from '../runtime/secrets.js';
import type { InboundMessage, RuleMatch } from '../workflows/types.js';
import { fakeEmbedding, startFakeModelServer, type FakeModelServer } from './fakes/model-server.js';
import { freshDatabase } from './helpers/database.js';
import { waitFor } from './helpers/stack.js';

const fixture = (name: string) => fs.readFileSync(path.join(import.meta.dirname, 'fixtures', 'knowledge', name));

describe('chunking', () => {
  it('ends chunks at Chinese and Western sentence ends and keeps each chunk within size', () => {
    const text = '第一句很短。第二句也不长！第三句是问题吗？第四句；Fifth sentence here. Sixth one! Seventh?';
    expect(sentenceSpans(text).map(([s, e]) => text.slice(s, e))).toEqual([
      '第一句很短。', '第二句也不长！', '第三句是问题吗？', '第四句；', 'Fifth sentence here.', 'Sixth one!', 'Seventh?',
    ]);
    const chunks = chunkText(text, { size: 20, overlap: 0 });
    for (const c of chunks) {
      expect(c.text.length).toBeLessThanOrEqual(20);
      expect(c.text).toMatch(/[。！？；.!?]$/);
      expect(text.slice(c.start, c.end)).toBe(c.text);
    }
    expect(chunks.map((c) => c.ordinal)).toEqual(chunks.map((_, i) => i));
    // without overlap the chunks tile the sentences exactly once
    expect(chunks.map((c) => c.text).join('').replace(/\s/g, '')).toBe(text.replace(/\s/g, ''));
  });

  it('repeats whole trailing sentences of a chunk at the start of the next (the overlap)', () => {
    const sentences = Array.from({ length: 12 }, (_, i) => `这是第${i}条规定的内容。`); // 10 characters each
    const text = sentences.join('');
    const chunks = chunkText(text, { size: 40, overlap: 12 });
    expect(chunks.length).toBeGreaterThan(3);
    for (let i = 1; i < chunks.length; i++) {
      const prev = chunks[i - 1]!;
      const cur = chunks[i]!;
      expect(cur.start).toBeLessThan(prev.end); // overlapping…
      expect(cur.start).toBeGreaterThan(prev.start); // …but always moving on
      expect(prev.text.endsWith(text.slice(cur.start, prev.end))).toBe(true);
      expect(text.slice(cur.start, prev.end)).toMatch(/^这是第\d+条规定的内容。$/); // one whole sentence
    }
    expect(chunks.at(-1)!.end).toBe(text.length);
  });

  it('cuts a sentence longer than the chunk size, and refuses an overlap not below the size', () => {
    const long = '无标点'.repeat(100);
    const chunks = chunkText(long, { size: 120, overlap: 0 });
    expect(chunks.map((c) => c.text.length)).toEqual([120, 120, 60]);
    expect(() => chunkText(long, { size: 100, overlap: 100 })).toThrow(RangeError);
  });
});

describe('segmentation and parsing', () => {
  it('cuts Chinese into words with the bundled dictionary, and keeps English words and numbers', () => {
    expect(segment('电子发票开具时效：下单后24小时内')).toEqual(expect.arrayContaining(['发票', '开具', '时效', '下单', '24', '小时']));
    expect(segment('Return Policy, v2!')).toEqual(['return', 'policy', 'v2']);
  });

  it('parses each supported type with its library', async () => {
    expect(await parseDocument('docx', fixture('returns.docx'))).toBe('退货政策\n\n签收后七天内可申请无理由退货。');
    expect(await parseDocument('pdf', fixture('warehouse.pdf'))).toContain('pallets are scanned at the dock');
    const html = await parseDocument('html', Buffer.from('<h2>发票</h2><script>alert(1)</script><p>下单后<b>24小时</b>内开具。<a href="http://x.example">详情</a></p>'));
    expect(html).toBe('发票\n\n下单后24小时内开具。详情');
    expect(await parseDocument('md', Buffer.from('\uFEFF# 标题\r\n正文'))).toBe('# 标题\n正文');
    expect(await parseDocument('txt', Buffer.from('plain\u0000 text'))).toBe('plain text');
    await expect(parseDocument('docx', Buffer.from('not a zip'))).rejects.toThrow(/cannot read this docx file/);
  });

  it('tells the type by extension, else by Content-Type, and names what it refuses', () => {
    expect(documentKind('a.HTM', undefined)).toBe('html');
    expect(documentKind('noext', 'text/markdown; charset=utf-8')).toBe('md');
    expect(documentKind('x.docx', 'application/octet-stream')).toBe('docx');
    expect(() => documentKind('sheet.xlsx', 'application/vnd.ms-excel')).toThrow(UnsupportedDocumentType);
    expect(() => documentKind('sheet.xlsx', 'application/vnd.ms-excel')).toThrow(/\.xlsx, application\/vnd\.ms-excel/);
  });
});

describe('fusion and fake embeddings', () => {
  it('ranks by reciprocal rank, 1 meaning first in every list, and records which lists found a hit', () => {
    const a = { documentId: 'd', ordinal: 0 };
    const b = { documentId: 'd', ordinal: 1 };
    const fused = fuse([{ via: 'lexical', ranked: [a, b] }, { via: 'dense', ranked: [a] }], 2);
    expect(fused[0]).toEqual({ ...a, score: 1, via: ['lexical', 'dense'] });
    expect(fused[1]!.via).toEqual(['lexical']);
    expect(fused[1]!.score).toBeCloseTo(61 / 62 / 2, 3);
  });

  it('gives texts sharing words closer vectors than unrelated ones', () => {
    const dot = (x: number[], y: number[]) => x.reduce((s, v, i) => s + v * y[i]!, 0);
    const q = fakeEmbedding('开票时效是多久');
    expect(dot(q, fakeEmbedding('电子发票开具时效：下单后24小时内'))).toBeGreaterThan(dot(q, fakeEmbedding('Pallets are scanned at the dock.')));
    expect(fakeEmbedding('x', 8)).toHaveLength(8);
  });
});

// A mixed corpus of SOPs: one answers 开票时效; the others are unrelated, in Chinese and English.
const CORPUS: Record<string, string> = {
  'invoice-sop.md': '# 电子发票 SOP\n\n客户可在订单详情页申请电子发票。电子发票开具时效：下单后24小时内。发票抬头填写错误可在七天内申请重开。',
  'returns.md': '# 退货流程\n\n签收后七天内可申请无理由退货。退货运费由买家承担，质量问题除外。',
  'warehouse.txt': 'Warehouse SOP. Pallets are scanned at the dock before storage. Damaged goods go to quarantine.',
  'vpn.md': '# VPN 使用说明\n\n员工在外网访问内网系统需先连接 VPN。账号与邮箱相同，密码每九十天更换一次。',
  'onboarding.md': 'Onboarding: new hires receive a laptop on day one. IT sets up email accounts within one business day.',
};

describe.each([
  ['lexical only', false],
  ['hybrid (fake embeddings)', true],
])('retrieval on %s', (_label, dense) => {
  let db: Database;
  let fake: FakeModelServer;
  let catalog: Catalog;
  let drop: () => Promise<void>;
  let dataDir: string;
  const baseId = `kb-${dense ? 'hybrid' : 'lexical'}`;
  const docs: Record<string, string> = {};

  beforeAll(async () => {
    fake = await startFakeModelServer();
    const fresh = await freshDatabase();
    drop = fresh.drop;
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'imflow-knowledge-'));
    db = await openDatabase({ url: fresh.url, dataDir });
    catalog = new Catalog(db.pool, new SecretBox(crypto.randomBytes(16).toString('hex')), 0);
    await catalog.upsertFromConfig(parseConfig({ models: { providers: { emb: { baseUrl: fake.baseURL, models: [{ id: 'bge-m3' }] } } } }));
    await store.createBase(db.pool, baseId, {
      name: 'SOPs', description: '', attachToDefaultPipeline: true, embeddingModel: dense ? 'emb/bge-m3' : null, chunkSize: 200, chunkOverlap: 20,
    });
    const indexer = new Indexer({ db: db.pool, catalog });
    for (const [name, text] of Object.entries(CORPUS)) {
      const doc = await store.createDocument(db.pool, { baseId, name, contentType: 'text/plain', source: Buffer.from(text) });
      docs[name] = doc.id;
      indexer.enqueue(doc.id);
    }
    await indexer.idle();
  });
  afterAll(async () => {
    await db?.close();
    await fake?.close();
    await drop?.();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('indexes every document, with embeddings only when the base has a model', async () => {
    const rows = (await db.pool.query(`SELECT status, chunks FROM knowledge_documents WHERE base_id = $1`, [baseId])).rows;
    expect(rows).toHaveLength(5);
    expect(rows.every((r) => r.status === 'ready' && r.chunks >= 1)).toBe(true);
    expect(fake.embeddingRequests.length > 0).toBe(dense);
    // pgvector where the server has it (PGlite here), the real[] exact scan on Debian's Postgres 15
    const pgvector = await store.hasVectorColumn(db.pool);
    expect(pgvector).toBe(db.kind === 'pglite');
    const stored = (await db.pool.query(`SELECT count(*)::int AS n FROM knowledge_chunks WHERE base_id = $1 AND ${pgvector ? 'embedding_vec' : 'embedding'} IS NOT NULL`, [baseId])).rows[0].n;
    expect(stored > 0).toBe(dense);
  });

  it('answers 开票时效 with the chunk saying 下单后24小时内, citing its document and position', async () => {
    const res = await searchKnowledge({ db: db.pool, catalog }, [baseId], '开票时效是多久？');
    expect(res.mode).toBe(dense ? 'hybrid' : 'lexical');
    expect(res.note).toBe(dense ? undefined : 'no embedding model configured: lexical only');
    const top = res.hits[0]!;
    expect(top).toMatchObject({ source: 1, documentId: docs['invoice-sop.md'], documentName: 'invoice-sop.md', position: 0, score: 1 });
    expect(top.via).toEqual(dense ? ['lexical', 'dense'] : ['lexical']);
    expect(CORPUS['invoice-sop.md']!.slice(top.start, top.end)).toContain('下单后24小时内');
    expect(res.context.startsWith('[1] invoice-sop.md (part 1)\n')).toBe(true);
    expect(res.context).toContain('下单后24小时内');
    // lexical search finds only chunks sharing a word; dense ranks every chunk, the unrelated ones lower
    if (dense) expect(res.hits.map((h) => h.documentName)).toContain('vpn.md');
    else expect(res.context).not.toContain('VPN');
    expect(res.hits.slice(1).every((h) => h.score < top.score)).toBe(true);
  });

  it('finds English documents by English words', async () => {
    const res = await searchKnowledge({ db: db.pool, catalog }, [baseId], 'when are pallets scanned?');
    expect(res.hits[0]!.documentId).toBe(docs['warehouse.txt']);
  });

  it('honours topK and minScore, and returns nothing for a question sharing no word', async () => {
    expect((await searchKnowledge({ db: db.pool, catalog }, [baseId], '七天 退货 发票 VPN', { topK: 2 })).hits).toHaveLength(2);
    const strict = await searchKnowledge({ db: db.pool, catalog }, [baseId], '开票时效', { minScore: 0.99 });
    expect(strict.hits.map((h) => h.documentId)).toEqual([docs['invoice-sop.md']]);
    if (!dense) expect(await searchKnowledge({ db: db.pool, catalog }, [baseId], 'zzzz qqqq')).toMatchObject({ hits: [], context: '' });
  });

  it('the retrieve activity returns positions and the bounded context only, no chunk text fields', async () => {
    const retrieve = makeRetrieve({ db: db.pool, catalog });
    const msg = { text: '开票时效' } as InboundMessage;
    const rule = { knowledgeBases: [baseId] } as RuleMatch;
    const out = await retrieve({ message: msg, rule });
    expect(Object.keys(out).sort()).toEqual(dense ? ['context', 'hits', 'mode'] : ['context', 'hits', 'mode', 'note']);
    expect(Object.keys(out.hits[0]!).sort()).toEqual(['documentId', 'documentName', 'end', 'position', 'score', 'source', 'start', 'via']);
    expect(out.context.length).toBeLessThanOrEqual(MAX_CONTEXT_CHARS);
    expect(await retrieve({ message: msg, rule: { knowledgeBases: [] } as unknown as RuleMatch })).toEqual({ hits: [], context: '' });
  });

  it('deleting a document removes its chunks and its hits', async () => {
    const id = docs['returns.md']!;
    expect((await searchKnowledge({ db: db.pool, catalog }, [baseId], '无理由退货')).hits[0]!.documentId).toBe(id);
    expect(await store.deleteDocument(db.pool, baseId, id)).toBe(true);
    expect((await db.pool.query(`SELECT count(*)::int AS n FROM knowledge_chunks WHERE document_id = $1`, [id])).rows[0].n).toBe(0);
    expect((await searchKnowledge({ db: db.pool, catalog }, [baseId], '无理由退货')).hits.map((h) => h.documentId)).not.toContain(id);
  });

  it('picks up a document whose indexing was interrupted (status indexing, lease lapsed) when an indexer starts', async () => {
    const doc = await store.createDocument(db.pool, { baseId, name: 'late.md', contentType: 'text/markdown', source: Buffer.from('报销单据需在月底前提交。') });
    // what a process killed mid-job leaves behind
    await db.pool.query(`UPDATE knowledge_documents SET status = 'indexing', progress = 0.4, lease_until = now() - interval '1 second' WHERE id = $1`, [doc.id]);
    const restarted = new Indexer({ db: db.pool, catalog }, { sweepMs: 60_000 }).start();
    try {
      const ready = await waitFor('resumed document', async () => (await store.getDocument(db.pool, baseId, doc.id))?.status === 'ready');
      expect(ready).toBe(true);
      expect((await searchKnowledge({ db: db.pool, catalog }, [baseId], '报销')).hits[0]!.documentId).toBe(doc.id);
    } finally {
      await restarted.stop();
    }
  });
});
