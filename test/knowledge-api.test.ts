// /api/knowledge-bases end to end: CRUD, uploads indexed asynchronously with visible progress, replace
// and delete, and a sandbox message whose answer request carries the retrieved context.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyAuditChain } from '../runtime/audit.js';
import { startStack, uniq, waitFor, type Stack } from './helpers/stack.js';

let stack: Stack;
beforeAll(async () => {
  // each embeddings response takes a moment, so a document's progress can be seen between queued and ready
  stack = await startStack({ namespace: 'it-knowledge', fake: { embeddingDelayMs: 60 } });
  const emb = await stack.api('PUT', '/api/models/providers/emb', { baseUrl: stack.fake.baseURL, models: [{ id: 'bge-m3' }] });
  expect(emb.status).toBe(201);
});
afterAll(() => stack?.stop());

const query = (sql: string, params: unknown[] = []) => stack.imflow.db.pool.query(sql, params).then((r) => r.rows);
const upload = (base: string, name: string, body: string | Buffer, type = 'text/markdown', method = 'POST', docId = '') =>
  fetch(`${stack.url}/api/knowledge-bases/${base}/documents${docId && `/${docId}`}?name=${encodeURIComponent(name)}`, {
    method,
    headers: { authorization: `Bearer ${stack.token}`, 'content-type': type },
    body: typeof body === 'string' ? body : new Uint8Array(body),
  }).then(async (r) => ({ status: r.status, body: (await r.json()) as any }));
const doc = (base: string, id: string) => stack.api('GET', `/api/knowledge-bases/${base}/documents/${id}`).then((r) => r.body);
const ready = (base: string, id: string) => waitFor(`document ${id} indexed`, async () => ((await doc(base, id)).status === 'ready' ? doc(base, id) : undefined));
const chunkCount = async (docId: string) => (await query(`SELECT count(*)::int AS n FROM knowledge_chunks WHERE document_id = $1`, [docId]))[0].n;

const INVOICE = '# 电子发票 SOP\n\n客户可在订单详情页申请电子发票。电子发票开具时效：下单后24小时内。发票抬头填写错误可在七天内申请重开。';

describe('/api/knowledge-bases', () => {
  it('creates, reads, lists, updates and deletes bases, auditing each change', async () => {
    const created = await stack.api('POST', '/api/knowledge-bases', { id: 'crud', name: '  测试库 ', embeddingModel: null });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ id: 'crud', name: '测试库', description: '', attachToDefaultPipeline: true, embeddingModel: null, chunkSize: 800, chunkOverlap: 120 });
    expect((await stack.api('POST', '/api/knowledge-bases', { id: 'crud', name: 'again' })).status).toBe(409);
    expect((await stack.api('GET', '/api/knowledge-bases/crud')).body.name).toBe('测试库');
    expect((await stack.api('GET', '/api/knowledge-bases')).body.knowledgeBases.map((b: any) => b.id)).toContain('crud');

    const patched = await stack.api('PATCH', '/api/knowledge-bases/crud', { description: 'FAQ', attachToDefaultPipeline: false });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ description: 'FAQ', attachToDefaultPipeline: false, requeued: 0 });

    expect((await stack.api('DELETE', '/api/knowledge-bases/crud')).status).toBe(204);
    expect((await stack.api('GET', '/api/knowledge-bases/crud')).status).toBe(404);
    const actions = (await query(`SELECT action FROM audit_log WHERE subject = 'crud' ORDER BY id`)).map((r) => r.action);
    expect(actions).toEqual(['knowledge.base.create', 'knowledge.base.update', 'knowledge.base.delete']);
    expect((await verifyAuditChain(stack.imflow.db.pool)).ok).toBe(true);
  });

  it('refuses bad input with a 4xx naming the field or the type', async () => {
    const bad = async (method: string, p: string, body: unknown) => (await stack.api(method, p, body)).body.error;
    expect(await bad('POST', '/api/knowledge-bases', { name: '' })).toMatch(/^invalid request: name:/);
    expect(await bad('POST', '/api/knowledge-bases', { name: 'x', id: 'Bad Id' })).toMatch(/^invalid request: id:/);
    expect(await bad('POST', '/api/knowledge-bases', { name: 'x', embeddingModel: 'emb/nope' })).toMatch(/embeddingModel: model "emb\/nope" is not configured/);
    expect(await bad('POST', '/api/knowledge-bases', { name: 'x', chunkSize: 200, chunkOverlap: 200 })).toMatch(/chunkOverlap: must be less than chunkSize/);
    expect(await bad('POST', '/api/knowledge-bases', { name: 'x', colour: 'red' })).toMatch(/invalid request/);

    await stack.api('POST', '/api/knowledge-bases', { id: 'limits', name: 'limits', attachToDefaultPipeline: false });
    const xlsx = await upload('limits', 'sheet.xlsx', 'x', 'application/vnd.ms-excel');
    expect(xlsx.status).toBe(415);
    expect(xlsx.body.error).toMatch(/unsupported document type \(\.xlsx, application\/vnd\.ms-excel\)/);
    expect((await upload('limits', '', 'x')).body.error).toMatch(/^invalid request: name:/);
    expect((await upload('limits', 'empty.md', '')).body.error).toMatch(/body: the upload is empty/);
    expect((await upload('nope', 'a.md', 'x')).status).toBe(404);
    const huge = await upload('limits', 'huge.txt', Buffer.alloc(21 * 1024 * 1024, 0x61), 'text/plain');
    expect(huge.status).toBe(413);
    expect((await query(`SELECT count(*)::int AS n FROM knowledge_documents WHERE base_id = 'limits'`))[0].n).toBe(0);
  });

  it('indexes an upload asynchronously: queued, indexing with progress, then ready', async () => {
    await stack.api('POST', '/api/knowledge-bases', { id: 'big', name: 'big', embeddingModel: 'emb/bge-m3', chunkSize: 100, chunkOverlap: 0, attachToDefaultPipeline: false });
    // 40 chunks → 3 embedding batches of 60 ms each
    const text = Array.from({ length: 80 }, (_, i) => `第${i}号仓库的盘点规则要求每周清点一次库存并上报差异，差异超过百分之${i}需复核。`).join('\n');
    const res = await upload('big', 'stock.txt', text, 'text/plain');
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ status: 'queued', progress: 0, name: 'stock.txt', contentType: 'text/plain', bytes: Buffer.byteLength(text) });
    const seen = new Set<string>();
    const midway = await waitFor('progress between 0 and 1', async () => {
      const d = await doc('big', res.body.id);
      seen.add(d.status);
      return d.status === 'indexing' && d.progress > 0.1 && d.progress < 1 ? d : undefined;
    });
    expect(midway.chunks).toBe(0);
    const done = await ready('big', res.body.id);
    expect(done).toMatchObject({ progress: 1, error: null });
    expect(done.chunks).toBe(40); // two 40-character sentences per 100-character chunk
    expect(await chunkCount(res.body.id)).toBe(done.chunks);
    const listed = (await stack.api('GET', '/api/knowledge-bases/big/documents?limit=10')).body.documents;
    expect(listed.map((d: any) => d.id)).toEqual([res.body.id]);
    expect((await stack.api('GET', '/api/knowledge-bases/big/documents?limit=1000')).body.error).toMatch(/^invalid request: limit:/);
  });

  it('reports a document it cannot read as failed, with the reason', async () => {
    const res = await upload('limits', 'broken.pdf', 'not really a pdf', 'application/pdf');
    expect(res.status).toBe(202);
    const failed = await waitFor('failed', async () => ((await doc('limits', res.body.id)).status === 'failed' ? doc('limits', res.body.id) : undefined));
    expect(failed.error).toMatch(/cannot read this pdf file/);
  });

  it('parses .docx, .pdf and .html uploads', async () => {
    const fs = await import('node:fs');
    const file = (n: string) => fs.readFileSync(new URL(`./fixtures/knowledge/${n}`, import.meta.url));
    const docx = await upload('limits', 'returns.docx', file('returns.docx'), 'application/octet-stream');
    const pdf = await upload('limits', 'warehouse.pdf', file('warehouse.pdf'), 'application/pdf');
    const html = await upload('limits', 'page.html', '<h1>VPN</h1><p>密码每九十天更换一次。</p>', 'text/html');
    for (const r of [docx, pdf, html]) expect((await ready('limits', r.body.id)).chunks).toBe(1);
    const search = async (q: string) => (await stack.api('POST', '/api/knowledge-bases/limits/search', { query: q })).body;
    expect((await search('无理由退货')).hits[0]).toMatchObject({ documentId: docx.body.id, text: expect.stringContaining('签收后七天内') });
    expect((await search('pallets dock')).hits[0].documentId).toBe(pdf.body.id);
    expect((await search('密码更换')).hits[0].documentId).toBe(html.body.id);
    expect((await search('密码更换')).note).toBe('no embedding model configured: lexical only');
  });

  it('replace re-indexes (old chunks serve until then), delete removes the chunks', async () => {
    await stack.api('POST', '/api/knowledge-bases', { id: 'policy', name: 'policy', attachToDefaultPipeline: false });
    const first = await upload('policy', 'travel.md', '出差住宿标准：一线城市每晚六百元。');
    await ready('policy', first.body.id);
    const search = async (q: string) => (await stack.api('POST', '/api/knowledge-bases/policy/search', { query: q })).body.hits;
    expect((await search('住宿标准'))[0].text).toContain('六百元');

    const replaced = await upload('policy', 'travel.md', '出差住宿标准：一线城市每晚八百元。餐补每天一百元。', 'text/markdown', 'PUT', first.body.id);
    expect(replaced.status).toBe(202);
    expect(replaced.body).toMatchObject({ id: first.body.id, status: 'queued' });
    await ready('policy', first.body.id);
    const hits = await search('住宿标准');
    expect(hits).toHaveLength(1);
    expect(hits[0].text).toContain('八百元');

    expect((await stack.api('DELETE', `/api/knowledge-bases/policy/documents/${first.body.id}`)).status).toBe(204);
    expect(await chunkCount(first.body.id)).toBe(0);
    expect(await search('住宿标准')).toEqual([]);
    expect((await stack.api('GET', `/api/knowledge-bases/policy/documents/${first.body.id}`)).status).toBe(404);
    const actions = (await query(`SELECT action FROM audit_log WHERE subject = $1 ORDER BY id`, [first.body.id])).map((r) => r.action);
    expect(actions).toEqual(['knowledge.document.upload', 'knowledge.document.replace', 'knowledge.document.delete']);
  });

  it('re-indexes every document when a base gets an embedding model', async () => {
    const before = stack.fake.embeddingRequests.length;
    const patched = await stack.api('PATCH', '/api/knowledge-bases/limits', { embeddingModel: 'emb/bge-m3' });
    expect(patched.body.requeued).toBe(4);
    await waitFor('re-indexed', async () => (await query(`SELECT count(*)::int AS n FROM knowledge_documents WHERE base_id = 'limits' AND status IN ('queued', 'indexing')`))[0].n === 0);
    expect(stack.fake.embeddingRequests.length).toBeGreaterThan(before);
    const res = (await stack.api('POST', '/api/knowledge-bases/limits/search', { query: '密码更换' })).body;
    expect(res.mode).toBe('hybrid');
    expect(res.hits[0].via).toEqual(['lexical', 'dense']);
  });
});

describe('a message answered from the knowledge base', () => {
  it('puts the retrieved chunk in the system message and cites its source in the trace', async () => {
    const kb = await stack.api('POST', '/api/knowledge-bases', { id: 'sop', name: 'SOPs', embeddingModel: 'emb/bge-m3' });
    expect(kb.status).toBe(201);
    const invoice = await upload('sop', 'invoice-sop.md', INVOICE);
    const other = await upload('sop', 'returns.md', '# 退货流程\n\n签收后七天内可申请无理由退货。退货运费由买家承担。');
    await ready('sop', invoice.body.id);
    await ready('sop', other.body.id);

    const { status, body } = await stack.sandbox({ text: '请问开票时效是多久？', conversationId: uniq('kb') });
    expect(status).toBe(200);
    expect(body.status).toBe('replied');
    const system = stack.fake.requests.at(-1)!.messages[0];
    expect(system.role).toBe('system');
    expect(system.content).toContain('下单后24小时内');
    expect(system.content).toContain('[1] invoice-sop.md (part 1)');

    const match = body.trace.find((s: any) => s.step === 'matchRule');
    expect(match.output.knowledgeBases).toContain('sop');
    expect(match.output.knowledgeBases).not.toContain('policy'); // not attached to the default pipeline
    const retrieve = body.trace.find((s: any) => s.step === 'retrieve');
    expect(retrieve.output.mode).toBe('hybrid');
    expect(retrieve.output.hits[0]).toMatchObject({ source: 1, documentId: invoice.body.id, documentName: 'invoice-sop.md', position: 0 });
  });
});
