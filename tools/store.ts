import type { Db, Queryable } from '../runtime/db.js';
import type { SecretBox } from '../runtime/secrets.js';
import { allowedHostsSchema, toolSchema, type ToolConfig } from './definition.js';

// Tools and the allowlist in Postgres. Config-as-code (runtime/catalog.ts) and /api/tools write
// through the same functions; the callTool activity reads through them.


export interface StoredTool {
  tool: ToolConfig;
  source: 'config' | 'api';
  updatedAt: Date;
}

export class ToolNameTaken extends Error {}

/**
 * Creates or replaces a tool; its secrets are sealed before they reach the table. A config file tool
 * without `secrets` keeps the stored ones, so secrets can be set through the API and stay out of the file.
 */
export async function saveTool(c: Queryable, box: SecretBox, tool: ToolConfig, source: 'config' | 'api'): Promise<void> {
  const { id, name, secrets, ...definition } = tool;
  const keepStored = source === 'config' && secrets === undefined;
  try {
    await c.query(
      `INSERT INTO tools (id, name, definition, secrets_enc, source, updated_at) VALUES ($1, $2, $3, $4, $5, now())
       ON CONFLICT (id) DO UPDATE SET name = $2, definition = $3, secrets_enc = CASE WHEN $6 THEN tools.secrets_enc ELSE $4 END, source = $5, updated_at = now()`,
      [id, name, JSON.stringify(definition), secrets && Object.keys(secrets).length ? box.seal(JSON.stringify(secrets)) : null, source, keepStored],
    );
  } catch (err) {
    if ((err as { code?: string }).code === '23505') throw new ToolNameTaken(`another tool is already named "${name}"`);
    throw err;
  }
}

export async function deleteTool(db: Db, id: string): Promise<boolean> {
  return !!(await db.query('DELETE FROM tools WHERE id = $1', [id])).rowCount;
}

const COLUMNS = 'id, name, definition, secrets_enc, source, updated_at';

function fromRow(box: SecretBox, r: any): StoredTool {
  // re-read through the schema, so defaults added later apply to old rows
  const tool = toolSchema.parse({ ...r.definition, id: r.id, name: r.name, ...(r.secrets_enc && { secrets: JSON.parse(box.open(r.secrets_enc)) }) });
  return { tool, source: r.source, updatedAt: r.updated_at };
}

export async function listTools(db: Db, box: SecretBox): Promise<StoredTool[]> {
  const { rows } = await db.query(`SELECT ${COLUMNS} FROM tools ORDER BY id`);
  return rows.map((r) => fromRow(box, r));
}

export async function getTool(db: Db, box: SecretBox, id: string): Promise<StoredTool | undefined> {
  const { rows } = await db.query(`SELECT ${COLUMNS} FROM tools WHERE id = $1`, [id]);
  return rows[0] ? fromRow(box, rows[0]) : undefined;
}

export async function allowedHosts(db: Queryable): Promise<string[]> {
  const { rows } = await db.query<{ value: { allowedHosts?: unknown } }>(`SELECT value FROM settings WHERE key = 'tools'`);
  const parsed = allowedHostsSchema.safeParse(rows[0]?.value?.allowedHosts ?? []);
  return parsed.success ? parsed.data : [];
}

export async function saveAllowedHosts(c: Queryable, hosts: string[]): Promise<void> {
  await c.query(
    `INSERT INTO settings (key, value, updated_at) VALUES ('tools', $1, now()) ON CONFLICT (key) DO UPDATE SET value = $1, updated_at = now()`,
    [JSON.stringify({ allowedHosts: hosts })],
  );
}
