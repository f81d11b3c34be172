// Ships imflow's audit log (Postgres table audit_log, append-only and hash-chained) to OpenSearch or
// Elasticsearch: the `audit-export` profile of docker-compose.yml runs it in the imflow image.
//
// Pull, not push: every AUDIT_EXPORT_INTERVAL_S it reads the rows after its checkpoint in id order and
// bulk-indexes them with _id = the row id, so sending a row twice overwrites one document (no duplicates).
// The checkpoint (last exported id) lives in OpenSearch (<index>-state) and only moves after a fully
// successful bulk request, so a failure retries the same rows. Rows commit in id order (appendAudit
// serialises appends under an advisory lock), so no row can appear behind the checkpoint.
// prev_hash and hash are exported too: the chain can be re-verified from the index.
//
//   node deploy/audit-export/export.mjs           run
//   node deploy/audit-export/export.mjs --check   health check: a round succeeded lately
import fs from 'node:fs';
import pg from 'pg';

const HEARTBEAT = '/tmp/imflow-audit-export.ok';
const BATCH = 500;
const intervalS = Number(process.env.AUDIT_EXPORT_INTERVAL_S || 10);
const base = (process.env.AUDIT_EXPORT_URL || 'http://opensearch:9200').replace(/\/$/, '');
const index = process.env.AUDIT_EXPORT_INDEX || 'imflow-audit';
const auth = process.env.AUDIT_EXPORT_USER
  ? { authorization: `Basic ${Buffer.from(`${process.env.AUDIT_EXPORT_USER}:${process.env.AUDIT_EXPORT_PASSWORD ?? ''}`).toString('base64')}` }
  : {};

if (process.argv[2] === '--check') {
  const age = Date.now() - (fs.statSync(HEARTBEAT, { throwIfNoEntry: false })?.mtimeMs ?? 0);
  process.exit(age < (2 * intervalS + 60) * 1000 ? 0 : 1);
}

async function search(method, path, body, contentType = 'application/json') {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...auth, ...(body === undefined ? {} : { 'content-type': contentType }) },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const json = await res.json().catch(() => ({}));
  return { status: res.status, json };
}

async function ensureIndex() {
  // detail differs per action: flat_object (OpenSearch ≥ 2.7) indexes its leaves without a mapping per key,
  // so two actions using one key with different types cannot make rows unindexable.
  const { status, json } = await search('PUT', `/${index}`, {
    mappings: {
      properties: {
        id: { type: 'long' },
        at: { type: 'date' },
        actor: { type: 'keyword' },
        action: { type: 'keyword' },
        subject: { type: 'keyword' },
        detail: { type: process.env.AUDIT_EXPORT_DETAIL_TYPE || 'flat_object' },
        prev_hash: { type: 'keyword' },
        hash: { type: 'keyword' },
      },
    },
  });
  if (status >= 300 && json?.error?.type !== 'resource_already_exists_exception') throw new Error(`creating index ${index}: HTTP ${status} ${JSON.stringify(json).slice(0, 300)}`);
}

async function checkpoint() {
  const { status, json } = await search('GET', `/${index}-state/_doc/checkpoint`);
  if (status === 404) return 0;
  if (status >= 300) throw new Error(`reading the checkpoint: HTTP ${status}`);
  return Number(json._source?.lastId ?? 0);
}

async function round(db, after) {
  const { rows } = await db.query('SELECT id, at, actor, action, subject, detail, prev_hash, hash FROM audit_log WHERE id > $1 ORDER BY id LIMIT $2', [after, BATCH]);
  if (!rows.length) return { after, more: false };
  const ndjson = rows.map((r) => `${JSON.stringify({ index: { _index: index, _id: String(r.id) } })}\n${JSON.stringify({ ...r, id: Number(r.id) })}\n`).join('');
  const bulk = await search('POST', '/_bulk', ndjson, 'application/x-ndjson');
  if (bulk.status >= 300 || bulk.json.errors) {
    const first = bulk.json.items?.find((i) => i.index?.error)?.index?.error;
    throw new Error(`bulk of ids ${rows[0].id}..${rows.at(-1).id}: HTTP ${bulk.status} ${JSON.stringify(first ?? bulk.json).slice(0, 300)}`);
  }
  const last = Number(rows.at(-1).id);
  const saved = await search('PUT', `/${index}-state/_doc/checkpoint`, { lastId: last, at: new Date().toISOString() });
  if (saved.status >= 300) throw new Error(`saving the checkpoint: HTTP ${saved.status}`);
  console.log(`exported audit rows ${rows[0].id}..${last}`);
  return { after: last, more: rows.length === BATCH };
}

const db = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 1 });
let after;
for (;;) {
  let more = false;
  try {
    if (after === undefined) {
      await ensureIndex();
      after = await checkpoint();
      console.log(`exporting audit_log to ${base}/${index} after id ${after}`);
    }
    ({ after, more } = await round(db, after));
    fs.writeFileSync(HEARTBEAT, String(after));
  } catch (err) {
    console.error(`audit export: ${err.message} (retrying in ${intervalS} s)`);
  }
  if (!more) await new Promise((r) => setTimeout(r, intervalS * 1000));
}
