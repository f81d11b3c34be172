import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { logger } from './logger.js';

export type Db = pg.Pool;
/** A pool or a client inside a transaction: what store functions take so callers can group writes. */
export type Queryable = Pick<pg.ClientBase, 'query'>;

export interface Database {
  pool: Db;
  kind: 'postgres' | 'pglite';
  close(): Promise<void>;
}

/** DATABASE_URL → real Postgres; otherwise PGlite in `<dataDir>/pg` behind the same pg.Pool API. */
export async function openDatabase(opts: { url?: string; dataDir: string }): Promise<Database> {
  if (opts.url) {
    const pool = new pg.Pool({ connectionString: opts.url, max: 10, connectionTimeoutMillis: 5000 });
    pool.on('error', (err) => logger.warn({ err: err.message }, 'postgres connection error'));
    await migrate(pool);
    return { pool, kind: 'postgres', close: () => pool.end() };
  }
  const { PGlite } = await import('@electric-sql/pglite');
  const { createPgConfig } = await import('@electric-sql/pglite/node-postgres');
  const dir = path.join(opts.dataDir, 'pg');
  fs.mkdirSync(dir, { recursive: true });
  // pgvector ships as a PGlite extension; loading it makes `CREATE EXTENSION vector` (005_knowledge.sql) available
  const { vector } = await import('@electric-sql/pglite-pgvector');
  const pglite = await PGlite.create(dir, { extensions: { vector } });
  const pool = new pg.Pool(createPgConfig(pglite) as unknown as pg.PoolConfig);
  await migrate(pool);
  return {
    pool,
    kind: 'pglite',
    close: async () => {
      await pool.end();
      await pglite.close();
    },
  };
}

const migrationsDir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'migrations');

/** Applies migrations/NNN_*.sql once each, in order, under an advisory lock (several processes may start at once). */
export async function migrate(pool: Db): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock(7411001)');
    await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())');
    const done = new Set((await client.query<{ name: string }>('SELECT name FROM schema_migrations')).rows.map((r) => r.name));
    for (const name of fs.readdirSync(migrationsDir).filter((f) => f.endsWith('.sql')).sort()) {
      if (done.has(name)) continue;
      await client.query('BEGIN');
      try {
        await client.query(fs.readFileSync(path.join(migrationsDir, name), 'utf8'));
        await client.query('INSERT INTO schema_migrations (name) VALUES ($1)', [name]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK');
        throw new Error(`migration ${name} failed: ${(err as Error).message}`);
      }
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock(7411001)').catch(() => {});
    client.release();
  }
}

/** Runs fn in a transaction on one pooled client. */
export async function inTransaction<T>(pool: Db, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const out = await fn(client);
    await client.query('COMMIT');
    return out;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}
