import { z } from 'zod';
import type { Db, Queryable } from './db.js';

// Departments: who a sender is (departments, roles) and what that lets them reach. A knowledge base,
// tool or pipeline granted to some departments belongs to them alone; one granted to none is open to
// all. Checked inside the activities (retrieve, callModel, callTool, matchRule), so no prompt and no
// UI shortcut gets around it.

const id = z.string().regex(/^[A-Za-z0-9][\w.-]{0,63}$/, 'letters, digits, "_", "." or "-" (max 64)');
const ids = z.array(id).max(500).default([]);

export const memberSchema = z.strictObject({
  senderId: z.string().min(1).max(128),
  /** the channel the sender id belongs to; "*" (default) = that id on every channel */
  channelId: z.string().min(1).max(64).default('*'),
  /** free text used by trigger conditions, e.g. "manager" */
  role: z.string().min(1).max(64).optional(),
});

export const departmentSchema = z.strictObject({
  id,
  name: z.string().trim().min(1).max(200),
  knowledgeBases: ids,
  tools: ids,
  pipelines: ids,
  members: z.array(memberSchema).max(10_000).default([]),
});

export type DepartmentConfig = z.infer<typeof departmentSchema>;
export type Member = z.infer<typeof memberSchema>;
export type Department = Omit<DepartmentConfig, 'members'> & { source: string; members: number };

/** What the sender may see and do: their departments and roles. */
export interface SenderProfile {
  departments: string[];
  roles: string[];
}

type Grant = 'knowledge_bases' | 'tools' | 'pipelines';

const GRANTS_TTL_MS = 2000;
let grantsCache: { at: number; db: Db; rows: Promise<GrantRow[]> } | undefined;
interface GrantRow {
  id: string;
  knowledge_bases: string[];
  tools: string[];
  pipelines: string[];
}

/** Every department's grants, cached briefly: the check runs on every retrieval and tool call. */
function grants(db: Db): Promise<GrantRow[]> {
  if (!grantsCache || grantsCache.db !== db || Date.now() - grantsCache.at > GRANTS_TTL_MS) {
    const rows = db.query<GrantRow>('SELECT id, knowledge_bases, tools, pipelines FROM departments').then((r) => r.rows);
    grantsCache = { at: Date.now(), db, rows };
    rows.catch(() => (grantsCache = undefined));
  }
  return grantsCache.rows;
}

/** Changes take effect at once in this process (other processes within the cache's two seconds). */
function invalidateGrants(): void {
  grantsCache = undefined;
}

/** The sender's departments and roles, from the members on this channel and on every channel ("*"). */
export async function senderProfile(db: Db, channelId: string, senderId: string): Promise<SenderProfile> {
  // without departments (the common start) every message skips the lookup
  if (!(await grants(db)).length) return { departments: [], roles: [] };
  const { rows } = await db.query<{ department_id: string; role: string | null }>(
    `SELECT department_id, role FROM department_members WHERE sender_id = $1 AND channel_id IN ($2, '*') ORDER BY department_id`,
    [senderId, channelId],
  );
  return {
    departments: [...new Set(rows.map((r) => r.department_id))],
    roles: [...new Set(rows.flatMap((r) => (r.role ? [r.role] : [])))],
  };
}

/**
 * Splits the requested resources into those the sender may use and those they may not. A resource
 * granted to no department is open; one granted to some is open to their members only.
 */
export async function permitted(db: Db, kind: 'knowledgeBases' | 'tools' | 'pipelines', requested: string[], profile: SenderProfile) {
  const column: Grant = kind === 'knowledgeBases' ? 'knowledge_bases' : kind;
  const owners = new Map<string, string[]>();
  for (const d of await grants(db)) for (const r of d[column]) owners.set(r, [...(owners.get(r) ?? []), d.id]);
  const allowed: string[] = [];
  const denied: string[] = [];
  for (const r of requested) {
    const o = owners.get(r);
    (!o || o.some((d) => profile.departments.includes(d)) ? allowed : denied).push(r);
  }
  return { allowed, denied };
}

export async function listDepartments(db: Queryable): Promise<Department[]> {
  const { rows } = await db.query<GrantRow & { name: string; source: string; members: string }>(
    `SELECT d.id, d.name, d.knowledge_bases, d.tools, d.pipelines, d.source,
            (SELECT count(*) FROM department_members m WHERE m.department_id = d.id) AS members
       FROM departments d ORDER BY d.id`,
  );
  return rows.map((r) => ({
    id: r.id,
    name: r.name,
    knowledgeBases: r.knowledge_bases,
    tools: r.tools,
    pipelines: r.pipelines,
    source: r.source,
    members: Number(r.members),
  }));
}

/** Creates or replaces a department's name and grants; members are left as they are. */
export async function saveDepartment(c: Queryable, d: Omit<DepartmentConfig, 'members'>, source: 'config' | 'api'): Promise<void> {
  await c.query(
    `INSERT INTO departments (id, name, knowledge_bases, tools, pipelines, source) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (id) DO UPDATE SET name = $2, knowledge_bases = $3, tools = $4, pipelines = $5, source = $6, updated_at = now()`,
    [d.id, d.name, d.knowledgeBases, d.tools, d.pipelines, source],
  );
  invalidateGrants();
}

export async function deleteDepartment(db: Db, departmentId: string): Promise<boolean> {
  const res = await db.query('DELETE FROM departments WHERE id = $1', [departmentId]);
  invalidateGrants();
  return !!res.rowCount;
}

export async function listMembers(db: Queryable, departmentId: string): Promise<Member[]> {
  const { rows } = await db.query<{ sender_id: string; channel_id: string; role: string | null }>(
    'SELECT sender_id, channel_id, role FROM department_members WHERE department_id = $1 ORDER BY channel_id, sender_id',
    [departmentId],
  );
  return rows.map((r) => ({ senderId: r.sender_id, channelId: r.channel_id, ...(r.role && { role: r.role }) }));
}

/** Adds members or changes their role. */
export async function addMembers(c: Queryable, departmentId: string, members: Member[], source: 'config' | 'api' | 'sync'): Promise<void> {
  for (const m of members) {
    await c.query(
      `INSERT INTO department_members (department_id, channel_id, sender_id, role, source) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (department_id, channel_id, sender_id) DO UPDATE SET role = $4, source = $5`,
      [departmentId, m.channelId, m.senderId, m.role ?? null, source],
    );
  }
}

/** Makes the department's members from `source` exactly these (others' rows stay): config re-applied, or a sync. */
export async function replaceMembers(c: Queryable, departmentId: string, members: Member[], source: 'config' | 'api' | 'sync'): Promise<void> {
  await c.query('DELETE FROM department_members WHERE department_id = $1 AND source = $2', [departmentId, source]);
  await addMembers(c, departmentId, members, source);
}

export async function removeMember(db: Db, departmentId: string, channelId: string, senderId: string): Promise<boolean> {
  const res = await db.query('DELETE FROM department_members WHERE department_id = $1 AND channel_id = $2 AND sender_id = $3', [
    departmentId,
    channelId,
    senderId,
  ]);
  return !!res.rowCount;
}

/** Config-as-code: each listed department and its config members, as written. */
export async function upsertDepartments(c: Queryable, departments: DepartmentConfig[]): Promise<void> {
  for (const { members, ...d } of departments) {
    await saveDepartment(c, d, 'config');
    await replaceMembers(c, d.id, members, 'config');
  }
}
