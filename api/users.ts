// Console users and sessions: /api/login, /api/logout, /api/me (one's own password and API tokens),
// /api/users (admin: users, their roles and API tokens). Every change is audited, logins too.
import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import { appendAudit } from '../runtime/audit.js';
import type { Db } from '../runtime/db.js';
import type { KeyValueStore } from '../runtime/kv.js';
import { safeEqual } from '../runtime/secrets.js';
import * as users from '../runtime/users.js';
import { actorName, ROLES, SESSION_MAX_MS, type Principal } from '../runtime/users.js';
import { adminAudit, validated } from './admin.js';
import { allowed, CSRF_COOKIE, PERMISSIONS, principalOf, SESSION_COOKIE } from './auth.js';
import { HttpError } from './http-errors.js';

const userId = z.string().regex(/^[a-z0-9][a-z0-9._-]{1,63}$/, 'lower-case letters, digits, ".", "_" or "-", 2 to 64 characters');
const password = z.string().min(10, 'at least 10 characters').max(256);
const displayName = z.string().trim().min(1).max(100);

const loginBody = z.union([
  z.strictObject({ username: z.string().min(1).max(64), password: z.string().min(1).max(256) }),
  z.strictObject({ token: z.string().min(1).max(512) }),
]);
const createBody = z.strictObject({ id: userId, displayName: displayName.optional(), role: z.enum(ROLES), password });
const updateBody = z.strictObject({
  displayName: displayName.nullable().optional(),
  role: z.enum(ROLES).optional(),
  password: password.optional(),
  disabled: z.boolean().optional(),
});
const tokenBody = z.strictObject({ name: z.string().trim().min(1).max(100), expiresInDays: z.number().int().min(1).max(3650).optional() });
const passwordBody = z.strictObject({ current: z.string().min(1).max(256), password });

/** Failed logins per client address and name before a quarter of an hour's pause. */
const MAX_FAILED_LOGINS = 10;
const LOGIN_WINDOW_MS = 15 * 60_000;

const userView = (u: users.ConsoleUser) => ({
  id: u.id,
  displayName: u.displayName,
  role: u.role,
  disabled: u.disabled,
  createdAt: u.createdAt,
  lastLoginAt: u.lastLoginAt,
});

const isHttps = (req: Request) => req.secure || req.get('x-forwarded-proto') === 'https';

function setSessionCookies(req: Request, res: Response, s: { sessionId: string; csrfToken: string }) {
  const common = { sameSite: 'strict' as const, secure: isHttps(req), path: '/', maxAge: SESSION_MAX_MS };
  res.cookie(SESSION_COOKIE, s.sessionId, { ...common, httpOnly: true });
  res.cookie(CSRF_COOKIE, s.csrfToken, common);
}

/** What the console needs to draw itself for this principal: who, and which routes it may use. */
function meView(p: Principal, user?: users.ConsoleUser) {
  return {
    user: p.user ? { id: p.user, displayName: user?.displayName ?? null } : null,
    role: p.role,
    via: p.via,
    csrfToken: p.csrfToken ?? null,
    can: Object.fromEntries(
      PERMISSIONS.map(({ prefix }) => [prefix.slice(1), { read: allowed(p.role, 'GET', prefix), write: allowed(p.role, 'POST', prefix) }]),
    ),
  };
}

export function usersRouter(deps: { db: Db; kv: KeyValueStore; adminToken: string }): Router {
  const router = Router();
  const audit = adminAudit(deps.db);
  const me = (res: Response) => principalOf(res)!;

  router.post('/login', async (req, res) => {
    const body = validated(loginBody, req.body, 'login');
    const name = 'token' in body ? '(admin token)' : body.username;
    const throttleKey = `imflow:login-failed:${req.ip}:${name}`;
    if (Number(await deps.kv.get(throttleKey)) >= MAX_FAILED_LOGINS) throw new HttpError(429, 'too many failed logins: try again in 15 minutes');

    let user: users.ConsoleUser | undefined;
    let ok: boolean;
    if ('token' in body) ok = safeEqual(body.token, deps.adminToken);
    else ok = !!(user = await users.checkPassword(deps.db, body.username, body.password));
    if (!ok) {
      await deps.kv.incr(throttleKey, 1, LOGIN_WINDOW_MS).catch(() => 0);
      await appendAudit(deps.db, { actor: 'anonymous', action: 'auth.login.failed', subject: name, detail: { ip: req.ip } });
      throw new HttpError(401, 'token' in body ? 'wrong admin token' : 'wrong user name or password');
    }
    const session = await users.createSession(deps.db, user?.id ?? null);
    setSessionCookies(req, res, session);
    const principal: Principal = { role: user?.role ?? 'admin', user: user?.id, via: 'session', csrfToken: session.csrfToken };
    await appendAudit(deps.db, { actor: actorName(principal), action: 'auth.login', subject: user?.id ?? 'admin', detail: { ip: req.ip, with: user ? 'password' : 'admin token' } });
    res.json(meView(principal, user));
  });

  router.post('/logout', async (req, res) => {
    const p = me(res);
    if (p.sessionHash) await users.endSession(deps.db, p.sessionHash);
    res.clearCookie(SESSION_COOKIE, { path: '/' });
    res.clearCookie(CSRF_COOKIE, { path: '/' });
    res.status(204).end();
  });

  router.get('/me', async (_req, res) => {
    const p = me(res);
    res.json(meView(p, p.user ? await users.getUser(deps.db, p.user) : undefined));
  });

  router.put('/me/password', async (req, res) => {
    const p = me(res);
    if (!p.user) throw new HttpError(400, 'the admin token has no password: set ADMIN_TOKEN to change it');
    const body = validated(passwordBody, req.body, 'password change');
    if (!(await users.checkPassword(deps.db, p.user, body.current))) throw new HttpError(403, 'current: wrong password');
    await users.updateUser(deps.db, p.user, { password: body.password });
    await audit('user.password.change', p.user, {});
    res.status(204).end();
  });

  /** One's own tokens (/me/tokens) and, for admins, anyone's (/users/:id/tokens). */
  const tokenOwner = (req: Request, res: Response) => {
    const id = req.params.id === undefined ? me(res).user : String(req.params.id);
    if (!id) throw new HttpError(400, 'the admin token cannot own API tokens: create a user first');
    return id;
  };
  const listTokens = async (req: Request, res: Response) => {
    const id = tokenOwner(req, res);
    if (!(await users.getUser(deps.db, id))) throw new HttpError(404, `no user "${id}"`);
    res.json({ tokens: await users.listApiTokens(deps.db, id) });
  };
  const createToken = async (req: Request, res: Response) => {
    const id = tokenOwner(req, res);
    const body = validated(tokenBody, req.body, 'token');
    if (!(await users.getUser(deps.db, id))) throw new HttpError(404, `no user "${id}"`);
    const expiresAt = body.expiresInDays ? new Date(Date.now() + body.expiresInDays * 86_400_000) : undefined;
    const created = await users.createApiToken(deps.db, id, body.name, expiresAt);
    await audit('user.token.create', id, { tokenId: created.id, name: body.name, prefix: created.prefix, expiresAt });
    res.status(201).json(created); // the only time the token itself is shown
  };
  const deleteToken = async (req: Request, res: Response) => {
    const id = tokenOwner(req, res);
    if (!(await users.deleteApiToken(deps.db, id, String(req.params.tokenId)))) throw new HttpError(404, `no such token of "${id}"`);
    await audit('user.token.delete', id, { tokenId: req.params.tokenId });
    res.status(204).end();
  };
  router.get('/me/tokens', listTokens);
  router.post('/me/tokens', createToken);
  router.delete('/me/tokens/:tokenId', deleteToken);
  router.get('/users/:id/tokens', listTokens);
  router.post('/users/:id/tokens', createToken);
  router.delete('/users/:id/tokens/:tokenId', deleteToken);

  router.get('/users', async (_req, res) => {
    res.json({ users: (await users.listUsers(deps.db)).map(userView), roles: ROLES });
  });

  router.post('/users', async (req, res) => {
    const body = validated(createBody, req.body, 'user');
    if (!(await users.createUser(deps.db, body))) throw new HttpError(409, `user "${body.id}" already exists`);
    await audit('user.create', body.id, { role: body.role, displayName: body.displayName });
    res.status(201).json(userView((await users.getUser(deps.db, body.id))!));
  });

  router.put('/users/:id', async (req, res) => {
    const body = validated(updateBody, req.body, 'user');
    const before = await users.getUser(deps.db, req.params.id!);
    if (!before) throw new HttpError(404, `no user "${req.params.id}"`);
    const after = (await users.updateUser(deps.db, before.id, body))!;
    await audit('user.update', before.id, {
      ...(body.role && body.role !== before.role && { role: { from: before.role, to: body.role } }),
      ...(body.disabled !== undefined && { disabled: body.disabled }),
      ...(body.displayName !== undefined && { displayName: body.displayName }),
      ...(body.password && { password: 'changed' }),
    });
    res.json(userView(after));
  });

  router.delete('/users/:id', async (req, res) => {
    if (!(await users.deleteUser(deps.db, req.params.id!))) throw new HttpError(404, `no user "${req.params.id}"`);
    await audit('user.delete', req.params.id!, {});
    res.status(204).end();
  });

  return router;
}
