import { Router } from 'express';
import { z } from 'zod';
import type { Db } from '../runtime/db.js';
import {
  addMembers,
  deleteDepartment,
  departmentSchema,
  listDepartments,
  listMembers,
  memberSchema,
  removeMember,
  replaceMembers,
  saveDepartment,
} from '../runtime/departments.js';
import { adminAudit, validated } from './admin.js';
import { HttpError, parseBody } from './http-errors.js';

const grantsShape = departmentSchema.omit({ members: true });
const membersBody = z.strictObject({ members: z.array(memberSchema).max(10_000) });

/**
 * /api/departments: departments, what they are granted (knowledge bases, tools, pipelines) and their
 * members. Sender ids are what the platform sends (DingTalk staffId/senderId, Feishu open_id, WeCom
 * UserID); a later directory sync writes members with source "sync".
 */
export function departmentsRouter(deps: { db: Db }): Router {
  const router = Router();
  const audit = adminAudit(deps.db);
  const find = async (id: string) => {
    const d = (await listDepartments(deps.db)).find((x) => x.id === id);
    if (!d) throw new HttpError(404, `no department "${id}"`);
    return d;
  };

  router.get('/departments', async (_req, res) => {
    res.json(await listDepartments(deps.db));
  });

  router.get('/departments/:id', async (req, res) => {
    const d = await find(req.params.id!);
    res.json({ ...d, memberList: await listMembers(deps.db, d.id) });
  });

  router.post('/departments', async (req, res) => {
    const { members, ...d } = validated(departmentSchema, req.body, 'department');
    if ((await listDepartments(deps.db)).some((x) => x.id === d.id)) throw new HttpError(409, `department "${d.id}" already exists`);
    await saveDepartment(deps.db, d, 'api');
    await addMembers(deps.db, d.id, members, 'api');
    await audit('department.create', d.id, { ...d, members: members.length });
    res.status(201).json(await find(d.id));
  });

  router.put('/departments/:id', async (req, res) => {
    const before = await find(req.params.id!);
    const d = validated(grantsShape, { ...(req.body as object), id: before.id }, 'department');
    await saveDepartment(deps.db, d, 'api');
    await audit('department.update', d.id, { before: { ...before, members: undefined }, after: d });
    res.json(await find(d.id));
  });

  router.delete('/departments/:id', async (req, res) => {
    if (!(await deleteDepartment(deps.db, req.params.id!))) throw new HttpError(404, `no department "${req.params.id}"`);
    await audit('department.delete', req.params.id!, {});
    res.status(204).end();
  });

  router.get('/departments/:id/members', async (req, res) => {
    const d = await find(req.params.id!);
    res.json(await listMembers(deps.db, d.id));
  });

  /** Adds members (or changes their role); others stay. */
  router.post('/departments/:id/members', async (req, res) => {
    const d = await find(req.params.id!);
    const { members } = parseBody(membersBody, req);
    await addMembers(deps.db, d.id, members, 'api');
    await audit('department.members.add', d.id, { members: members.map((m) => `${m.channelId}:${m.senderId}`) });
    res.json(await listMembers(deps.db, d.id));
  });

  /** Replaces the members added through the API (config and sync members stay). */
  router.put('/departments/:id/members', async (req, res) => {
    const d = await find(req.params.id!);
    const { members } = parseBody(membersBody, req);
    await replaceMembers(deps.db, d.id, members, 'api');
    await audit('department.members.replace', d.id, { members: members.map((m) => `${m.channelId}:${m.senderId}`) });
    res.json(await listMembers(deps.db, d.id));
  });

  router.delete('/departments/:id/members/:channelId/:senderId', async (req, res) => {
    const { id, channelId, senderId } = req.params as { id: string; channelId: string; senderId: string };
    if (!(await removeMember(deps.db, id, channelId, senderId))) throw new HttpError(404, `"${senderId}" on "${channelId}" is not a member of "${id}"`);
    await audit('department.members.remove', id, { member: `${channelId}:${senderId}` });
    res.status(204).end();
  });

  return router;
}
