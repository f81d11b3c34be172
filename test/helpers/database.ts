import crypto from 'node:crypto';
import pg from 'pg';

/**
 * A fresh, empty Postgres database when DATABASE_URL is set (CI), dropped again by `drop`;
 * otherwise no URL, and the caller's openDatabase() uses PGlite in its data dir.
 */
export async function freshDatabase(prefix = 'imflow_t'): Promise<{ url?: string; drop(): Promise<void> }> {
  const base = process.env.DATABASE_URL;
  if (!base) return { drop: async () => {} };
  const name = `${prefix}_${crypto.randomBytes(5).toString('hex')}`;
  const run = async (sql: string) => {
    const c = new pg.Client({ connectionString: base });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };
  await run(`CREATE DATABASE ${name}`);
  const url = new URL(base);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => run(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}
