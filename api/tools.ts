import { Router } from 'express';
import { z } from 'zod';
import type { Catalog } from '../runtime/catalog.js';
import type { Db } from '../runtime/db.js';
import { allowedHostsSchema, toolSchema, type ToolConfig } from '../tools/definition.js';
import { executeTool } from '../tools/execute.js';
import { isIdempotent } from '../tools/retry.js';
import { allowedHosts, deleteTool, saveAllowedHosts, ToolNameTaken, type StoredTool } from '../tools/store.js';
import { scanPlaceholders } from '../tools/template.js';
import { adminAudit, validated } from './admin.js';
import { HttpError, parseBody } from './http-errors.js';

/** What the API shows of a tool: everything but secret values; each secret (stored or used by a header) as set or not. */
export function toolView({ tool, source, updatedAt }: StoredTool) {
  const { secrets = {}, ...rest } = tool;
  const used = Object.values(rest.headers).flatMap((h) => scanPlaceholders(h).placeholders.filter((p) => p.kind === 'secrets').map((p) => p.name));
  const names = [...new Set([...Object.keys(secrets), ...used])].sort();
  return { ...rest, idempotent: isIdempotent(rest), secrets: Object.fromEntries(names.map((n) => [n, Object.hasOwn(secrets, n)])), source, updatedAt };
}

const validate = (candidate: unknown): ToolConfig => validated(toolSchema, candidate, 'tool');

/** The server a URL template points at (placeholders filled with a dummy): secrets must not follow a tool elsewhere. */
const originOf = (url: string) => new URL(url.replace(/\{\{[^{}]*\}\}/g, 'x')).origin;

const patchShape = z.record(z.string(), z.unknown());
const secretsPatch = z.record(z.string(), z.string().nullable());
const hostsBody = z.strictObject({ allowedHosts: allowedHostsSchema });
const testBody = z.strictObject({ arguments: z.union([z.record(z.string(), z.unknown()), z.string().max(64 * 1024)]).default({}) });

/**
 * /api/tools: HTTP tools (list, read, create, update — PATCH merges; a field or secret set to null is
 * cleared, an absent one kept — delete, and a test call), and the allowlist of hosts they may reach.
 * Secrets are write-only: no response or audit row ever contains one.
 */
export function toolsRouter(deps: { db: Db; catalog: Catalog }): Router {
  const router = Router();
  const audit = adminAudit(deps.db);
  const find = async (id: string) => {
    const stored = await deps.catalog.tool(id);
    if (!stored) throw new HttpError(404, `no tool "${id}"`);
    return stored;
  };
  const save = async (tool: ToolConfig) => {
    try {
      await deps.catalog.saveTool(tool, 'api');
    } catch (err) {
      if (err instanceof ToolNameTaken) throw new HttpError(409, `invalid tool: name: ${err.message}`);
      throw err;
    }
  };

  router.get('/tools', async (_req, res) => {
    res.json({ tools: (await deps.catalog.listTools()).map(toolView), allowedHosts: await allowedHosts(deps.db) });
  });

  router.get('/tools/allowed-hosts', async (_req, res) => {
    res.json({ allowedHosts: await allowedHosts(deps.db) });
  });

  router.put('/tools/allowed-hosts', async (req, res) => {
    const { allowedHosts: next } = parseBody(hostsBody, req);
    const before = await allowedHosts(deps.db);
    await saveAllowedHosts(deps.db, next);
    await audit('tools.allowedHosts.update', 'tools', { allowedHosts: next, added: next.filter((h) => !before.includes(h)), removed: before.filter((h) => !next.includes(h)) });
    res.json({ allowedHosts: next });
  });

  router.get('/tools/:id', async (req, res) => {
    res.json(toolView(await find(req.params.id!)));
  });

  router.post('/tools', async (req, res) => {
    const tool = validate(req.body);
    if (tool.id === 'allowed-hosts' || (await deps.catalog.tool(tool.id))) throw new HttpError(409, `tool "${tool.id}" already exists`);
    await save(tool);
    await audit('tool.create', tool.id, { name: tool.name, method: tool.method, origin: originOf(tool.url), secretsSet: Object.keys(tool.secrets ?? {}) });
    res.status(201).json(toolView((await deps.catalog.tool(tool.id))!));
  });

  router.patch('/tools/:id', async (req, res) => {
    const patch = patchShape.safeParse(req.body);
    if (!patch.success) throw new HttpError(400, 'invalid request: (body): expected an object of fields to change');
    const { tool: current } = await find(req.params.id!);
    if ('id' in patch.data && patch.data.id !== current.id) throw new HttpError(400, 'invalid request: id: a tool id cannot change');
    const merged: Record<string, unknown> = { ...current, ...patch.data };
    for (const [k, v] of Object.entries(patch.data)) if (v === null) delete merged[k];
    let secretsSet: string[] = [];
    let secretsCleared: string[] = [];
    if (patch.data.secrets !== undefined && patch.data.secrets !== null) {
      const sp = secretsPatch.safeParse(patch.data.secrets);
      if (!sp.success) throw new HttpError(400, 'invalid request: secrets: an object of secret names to values (null clears one)');
      const secrets: Record<string, unknown> = { ...current.secrets, ...sp.data };
      for (const [k, v] of Object.entries(sp.data)) if (v === null) delete secrets[k];
      merged.secrets = Object.keys(secrets).length ? secrets : undefined;
      secretsSet = Object.keys(sp.data).filter((k) => sp.data[k] !== null);
      secretsCleared = Object.keys(sp.data).filter((k) => sp.data[k] === null);
    }
    const tool = validate(merged);
    // whoever holds the admin token could otherwise point the URL at their own host and collect the ERP token
    if (current.secrets && patch.data.secrets === undefined && originOf(tool.url) !== originOf(current.url)) {
      throw new HttpError(400, `invalid request: url: points at another server: give secrets (${Object.keys(current.secrets).join(', ')}) again, or null to drop them`);
    }
    await save(tool);
    const changed = Object.keys(patch.data).filter((k) => k !== 'secrets');
    if (patch.data.secrets === null) secretsCleared = Object.keys(current.secrets ?? {});
    await audit('tool.update', tool.id, { changed, secretsSet, secretsCleared });
    res.json(toolView((await deps.catalog.tool(tool.id))!));
  });

  router.delete('/tools/:id', async (req, res) => {
    if (!(await deleteTool(deps.db, req.params.id!))) throw new HttpError(404, `no tool "${req.params.id}"`);
    await audit('tool.delete', req.params.id!, {});
    res.status(204).end();
  });

  // An admin tries a tool with given arguments: the same checks and the same answer the model would get.
  router.post('/tools/:id/test', async (req, res) => {
    const { tool } = await find(req.params.id!);
    const body = parseBody(testBody, req);
    const args = typeof body.arguments === 'string' ? body.arguments : JSON.stringify(body.arguments);
    const outcome = await executeTool(tool, args, { allowedHosts: await allowedHosts(deps.db) });
    await audit('tool.test', tool.id, { ok: outcome.ok });
    res.json(outcome);
  });

  return router;
}
