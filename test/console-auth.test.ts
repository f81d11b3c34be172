import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PERMISSIONS, permissionFor } from '../api/auth.js';
import { projectRoot } from '../runtime/imflow.js';
import { startStack, uniq, type Stack } from './helpers/stack.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ namespace: 'it-console-auth' });
});
afterAll(() => stack?.stop());

const PASSWORD = 'correct horse battery';

interface CallOptions {
  body?: unknown;
  token?: string;
  cookie?: string;
  csrf?: string;
  origin?: string | null;
}

/** A request as a browser (cookie, CSRF header, Origin) or an API client (bearer) would send it. */
async function call(method: string, p: string, o: CallOptions = {}) {
  const headers: Record<string, string> = {};
  if (o.body !== undefined) headers['content-type'] = 'application/json';
  if (o.token) headers.authorization = `Bearer ${o.token}`;
  if (o.cookie) headers.cookie = o.cookie;
  if (o.csrf) headers['x-csrf-token'] = o.csrf;
  if (o.origin !== null) headers.origin = o.origin ?? stack.url;
  const res = await fetch(stack.url + p, { method, headers, body: o.body === undefined ? undefined : JSON.stringify(o.body) });
  const text = await res.text();
  let body: any = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, body, setCookie: res.headers.getSetCookie() };
}

async function createUser(role: string) {
  const id = uniq(role).toLowerCase();
  const res = await stack.api('POST', '/api/users', { id, role, password: PASSWORD, displayName: `${role} 用户` });
  expect(res.status).toBe(201);
  return id;
}

async function login(username: string, password = PASSWORD) {
  const res = await call('POST', '/api/login', { body: { username, password } });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  const cookie = res.setCookie.map((c) => c.split(';')[0]).join('; ');
  return { cookie, csrf: res.body.csrfToken as string, setCookie: res.setCookie, me: res.body };
}

async function tokenFor(role: string) {
  const id = await createUser(role);
  const res = await stack.api('POST', `/api/users/${id}/tokens`, { name: 'ci' });
  expect(res.status).toBe(201);
  return res.body.token as string;
}

describe('credentials', () => {
  it('refuses /api without credentials or with a wrong bearer, even with a valid session cookie beside it', async () => {
    for (const p of ['/api/runs', '/api/users', '/api/me', '/api/audit/verify', '/api/models']) {
      expect((await call('GET', p)).status, p).toBe(401);
      expect((await call('GET', p, { token: 'nope' })).status, p).toBe(401);
    }
    const u = await login(await createUser('admin'));
    expect((await call('GET', '/api/me', { cookie: u.cookie, token: 'wrong' })).status).toBe(401);
  });

  it('keeps the ADMIN_TOKEN working as the built-in admin', async () => {
    const me = await stack.api('GET', '/api/me');
    expect(me.body).toMatchObject({ user: null, role: 'admin', via: 'bearer' });
    expect((await stack.api('GET', '/api/users')).status).toBe(200);
    expect((await stack.api('GET', '/api/audit/verify')).status).toBe(200);
  });

  it('logs in with a password: HttpOnly SameSite=Strict session cookie, readable CSRF cookie, hashed password', async () => {
    const id = await createUser('viewer');
    const row = (await stack.imflow.db.pool.query('SELECT password_hash FROM console_users WHERE id = $1', [id])).rows[0];
    expect(row.password_hash).toMatch(/^scrypt\$/);
    expect(row.password_hash).not.toContain(PASSWORD);

    expect((await call('POST', '/api/login', { body: { username: id, password: 'wrong password' } })).status).toBe(401);
    expect((await call('POST', '/api/login', { body: { username: 'nobody-here', password: PASSWORD } })).status).toBe(401);

    const s = await login(id);
    const session = s.setCookie.find((c) => c.startsWith('imflow_session='))!;
    const csrf = s.setCookie.find((c) => c.startsWith('imflow_csrf='))!;
    expect(session).toMatch(/HttpOnly/i);
    expect(session).toMatch(/SameSite=Strict/i);
    expect(session).not.toMatch(/Secure/i); // plain http here
    expect(csrf).not.toMatch(/HttpOnly/i);
    expect(csrf).toMatch(/SameSite=Strict/i);
    // the session id is stored only hashed
    const sid = decodeURIComponent(session.split(';')[0]!.split('=')[1]!);
    const stored = (await stack.imflow.db.pool.query('SELECT id_hash FROM console_sessions')).rows.map((r) => r.id_hash);
    expect(stored).not.toContain(sid);

    const me = await call('GET', '/api/me', { cookie: s.cookie });
    expect(me.body).toMatchObject({ user: { id, displayName: 'viewer 用户' }, role: 'viewer', via: 'session' });
    expect(me.body.can).toMatchObject({ runs: { read: true, write: false }, audit: { read: false }, users: { read: false } });

    // Secure behind an https proxy
    const secure = await fetch(`${stack.url}/api/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-proto': 'https' },
      body: JSON.stringify({ username: id, password: PASSWORD }),
    });
    expect(secure.headers.getSetCookie().every((c) => /;\s*Secure/i.test(c))).toBe(true);

    // logout ends the session on the server, not just in the browser
    expect((await call('POST', '/api/logout', { cookie: s.cookie, csrf: s.csrf })).status).toBe(204);
    expect((await call('GET', '/api/me', { cookie: s.cookie })).status).toBe(401);
  });

  it('opens a session with the admin token (?token=… in the console)', async () => {
    expect((await call('POST', '/api/login', { body: { token: 'not-it' } })).status).toBe(401);
    const res = await call('POST', '/api/login', { body: { token: stack.token } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ role: 'admin', user: null, via: 'session' });
    const cookie = res.setCookie.map((c) => c.split(';')[0]).join('; ');
    expect((await call('GET', '/api/users', { cookie })).status).toBe(200);
  });

  it('refuses a login posted from another site', async () => {
    const id = await createUser('viewer');
    const res = await call('POST', '/api/login', { body: { username: id, password: PASSWORD }, origin: 'https://evil.example' });
    expect(res.status).toBe(403);
  });

  it('pauses logins after repeated failures', async () => {
    const id = await createUser('viewer');
    for (let i = 0; i < 10; i++) expect((await call('POST', '/api/login', { body: { username: id, password: `wrong-${i}-password` } })).status).toBe(401);
    expect((await call('POST', '/api/login', { body: { username: id, password: PASSWORD } })).status).toBe(429);
  });

  it('ends the sessions of a disabled user, and of one whose password changed', async () => {
    const id = await createUser('analyst');
    const s = await login(id);
    expect((await stack.api('PUT', `/api/users/${id}`, { disabled: true })).status).toBe(200);
    expect((await call('GET', '/api/me', { cookie: s.cookie })).status).toBe(401);
    expect((await call('POST', '/api/login', { body: { username: id, password: PASSWORD } })).status).toBe(401);

    await stack.api('PUT', `/api/users/${id}`, { disabled: false });
    const s2 = await login(id);
    expect((await stack.api('PUT', `/api/users/${id}`, { password: 'another long password' })).status).toBe(200);
    expect((await call('GET', '/api/me', { cookie: s2.cookie })).status).toBe(401);
    await login(id, 'another long password');
  });
});

describe('CSRF', () => {
  it('refuses cookie-authenticated writes without the CSRF token or from another origin; bearer writes need neither', async () => {
    const s = await login(await createUser('analyst'));
    const body = { text: 'csrf?', conversationId: uniq('c') };
    const noToken = await call('POST', '/api/sandbox/messages', { cookie: s.cookie, body });
    expect(noToken.status).toBe(403);
    expect(noToken.body.error).toMatch(/CSRF/);
    expect((await call('POST', '/api/sandbox/messages', { cookie: s.cookie, csrf: 'forged', body })).status).toBe(403);
    expect((await call('POST', '/api/sandbox/messages', { cookie: s.cookie, csrf: s.csrf, origin: 'https://evil.example', body })).status).toBe(403);
    expect((await call('POST', '/api/sandbox/messages', { cookie: s.cookie, csrf: s.csrf, origin: null, body })).status).toBe(403);
    // another user's CSRF token does not fit this session
    const other = await login(await createUser('analyst'));
    expect((await call('POST', '/api/sandbox/messages', { cookie: s.cookie, csrf: other.csrf, body })).status).toBe(403);

    const ok = await call('POST', '/api/sandbox/messages', { cookie: s.cookie, csrf: s.csrf, body });
    expect(ok.status).toBe(200);
    expect(ok.body.status).toBe('replied');
    // reads need no CSRF token
    expect((await call('GET', `/api/runs/${encodeURIComponent(ok.body.workflowId)}`, { cookie: s.cookie })).status).toBe(200);
    // bearer: no cookie, so nothing to forge
    expect((await stack.api('POST', '/api/sandbox/messages', body)).status).toBe(200);
  });
});

describe('roles on the API', () => {
  // [method, path, body] and which roles may: every other role gets 403
  const matrix: [string, string, unknown, string[]][] = [
    ['GET', '/api/runs', undefined, ['admin', 'analyst', 'viewer', 'auditor']],
    ['GET', '/api/models', undefined, ['admin', 'analyst', 'viewer', 'auditor']],
    ['GET', '/api/channels', undefined, ['admin', 'analyst', 'viewer', 'auditor']],
    ['GET', '/api/audit', undefined, ['admin', 'auditor']],
    ['GET', '/api/audit/verify', undefined, ['admin', 'auditor']],
    ['GET', '/api/audit/export.csv', undefined, ['admin', 'auditor']],
    ['GET', '/api/users', undefined, ['admin']],
    ['POST', '/api/users', { id: 'x', role: 'viewer', password: 'short' }, ['admin']],
    ['POST', '/api/sandbox/messages', { text: 'role check' }, ['admin', 'analyst']],
    ['POST', '/api/channels', { id: 'role-check', type: 'wecom', colour: 'red' }, ['admin']],
    ['PUT', '/api/models/defaults', { fallbacks: ['nope/none'] }, ['admin']],
    ['DELETE', '/api/models/providers/none-such', undefined, ['admin']],
    ['POST', '/api/tools', { nope: true }, ['admin', 'analyst']],
    ['PUT', '/api/tools/allowed-hosts', { nope: true }, ['admin']],
    ['POST', '/api/pipelines', { nope: true }, ['admin', 'analyst']],
    ['POST', '/api/knowledge-bases', { nope: true }, ['admin', 'analyst']],
    ['POST', '/api/departments', { nope: true }, ['admin']],
    ['POST', '/api/runs/msg:none:none/retry', undefined, ['admin', 'analyst']],
    ['GET', '/api/some-future-route', undefined, ['admin']],
  ];

  it('allows and refuses each role by path and method (API tokens act with their user’s role)', async () => {
    const tokens: Record<string, string> = {};
    for (const role of ['admin', 'analyst', 'viewer', 'auditor']) tokens[role] = await tokenFor(role);
    for (const [method, p, body, roles] of matrix) {
      for (const [role, token] of Object.entries(tokens)) {
        const res = await call(method, p, { token, body });
        const where = `${role} ${method} ${p}`;
        if (roles.includes(role)) {
          expect([401, 403], `${where}: ${JSON.stringify(res.body)}`).not.toContain(res.status);
        } else {
          expect(res.status, where).toBe(403);
          expect(res.body.error, where).toMatch(new RegExp(`${role} role may not`));
        }
      }
    }
  });

  it('checks roles for cookie sessions the same way', async () => {
    const viewer = await login(await createUser('viewer'));
    expect((await call('GET', '/api/runs', { cookie: viewer.cookie })).status).toBe(200);
    expect((await call('POST', '/api/sandbox/messages', { cookie: viewer.cookie, csrf: viewer.csrf, body: { text: 'x' } })).status).toBe(403);
    expect((await call('GET', '/api/audit', { cookie: viewer.cookie })).status).toBe(403);
    const auditor = await login(await createUser('auditor'));
    expect((await call('GET', '/api/audit', { cookie: auditor.cookie })).status).toBe(200);
    expect((await call('POST', '/api/channels', { cookie: auditor.cookie, csrf: auditor.csrf, body: { id: 'a', type: 'wecom' } })).status).toBe(403);
  });

  it('has a permission line for every /api route any router declares', () => {
    const routes = new Set<string>();
    for (const file of fs.readdirSync(path.join(projectRoot, 'api')).filter((f) => f.endsWith('.ts'))) {
      const src = fs.readFileSync(path.join(projectRoot, 'api', file), 'utf8');
      for (const m of src.matchAll(/router\.(?:get|post|put|patch|delete)\(\s*['`](\/[^'`]*)['`]/g)) routes.add(m[1]!);
    }
    const apiRoutes = [...routes].filter((r) => r !== '/healthz' && r !== '/metrics' && !r.startsWith('/webhooks/') && r !== '/login');
    expect(apiRoutes.length).toBeGreaterThan(30);
    const uncovered = apiRoutes.filter((r) => permissionFor(r).prefix === '');
    expect(uncovered).toEqual([]);
    expect(PERMISSIONS.find((p) => p.prefix === '/users')!.read).toEqual(['admin']);
  });
});

describe('API tokens', () => {
  it('shows a token once, stores it hashed, acts with the user’s role, and stops working when deleted', async () => {
    const id = await createUser('analyst');
    const created = await stack.api('POST', `/api/users/${id}/tokens`, { name: 'deploy script' });
    expect(created.status).toBe(201);
    const token: string = created.body.token;
    expect(token).toMatch(/^imf_/);
    const list = await stack.api('GET', `/api/users/${id}/tokens`);
    expect(list.body.tokens).toEqual([expect.objectContaining({ id: created.body.id, name: 'deploy script', prefix: token.slice(0, 10) })]);
    expect(JSON.stringify(list.body)).not.toContain(token);
    const rows = (await stack.imflow.db.pool.query('SELECT token_hash FROM api_tokens')).rows.map((r) => r.token_hash);
    expect(rows.join()).not.toContain(token.slice(4));

    expect((await call('GET', '/api/me', { token })).body).toMatchObject({ role: 'analyst', user: { id }, via: 'bearer' });
    expect((await call('POST', '/api/sandbox/messages', { token, body: { text: 'via token', conversationId: uniq('c') } })).status).toBe(200);
    expect((await call('POST', '/api/channels', { token, body: { id: 'x', type: 'wecom' } })).status).toBe(403);

    // a changed role applies at once
    await stack.api('PUT', `/api/users/${id}`, { role: 'viewer' });
    expect((await call('POST', '/api/sandbox/messages', { token, body: { text: 'now viewer' } })).status).toBe(403);

    expect((await stack.api('DELETE', `/api/users/${id}/tokens/${created.body.id}`)).status).toBe(204);
    expect((await call('GET', '/api/me', { token })).status).toBe(401);
  });

  it('lets users manage their own tokens and password; a deleted user’s tokens die with them', async () => {
    const id = await createUser('viewer');
    const s = await login(id);
    const mine = await call('POST', '/api/me/tokens', { cookie: s.cookie, csrf: s.csrf, body: { name: 'laptop' } });
    expect(mine.status).toBe(201);
    expect((await call('GET', '/api/me', { token: mine.body.token })).body.role).toBe('viewer');
    expect((await call('PUT', '/api/me/password', { cookie: s.cookie, csrf: s.csrf, body: { current: 'not it at all', password: 'a new long password' } })).status).toBe(403);
    expect((await call('PUT', '/api/me/password', { cookie: s.cookie, csrf: s.csrf, body: { current: PASSWORD, password: 'a new long password' } })).status).toBe(204);
    await login(id, 'a new long password');

    expect((await stack.api('DELETE', `/api/users/${id}`)).status).toBe(204);
    expect((await call('GET', '/api/me', { token: mine.body.token })).status).toBe(401);
  });
});

describe('users and the audit', () => {
  it('validates users, refuses duplicates, and audits every change with who made it', async () => {
    expect((await stack.api('POST', '/api/users', { id: 'Bad Name', role: 'viewer', password: PASSWORD })).status).toBe(400);
    expect((await stack.api('POST', '/api/users', { id: 'weak-pw', role: 'viewer', password: 'short' })).status).toBe(400);
    expect((await stack.api('POST', '/api/users', { id: 'no-role', role: 'root', password: PASSWORD })).status).toBe(400);
    const id = await createUser('viewer');
    expect((await stack.api('POST', '/api/users', { id, role: 'viewer', password: PASSWORD })).status).toBe(409);
    expect((await stack.api('PUT', '/api/users/nobody', { role: 'viewer' })).status).toBe(404);

    const list = await stack.api('GET', '/api/users');
    expect(list.body.users.find((u: any) => u.id === id)).toMatchObject({ role: 'viewer', disabled: false });
    expect(JSON.stringify(list.body)).not.toMatch(/scrypt|password/i);

    // an admin user's change to a channel is audited under their name
    const admin = await login(await createUser('admin'));
    const channel = uniq('ch').toLowerCase();
    const created = await call('POST', '/api/channels', { cookie: admin.cookie, csrf: admin.csrf, body: { id: channel, type: 'sandbox' } });
    expect(created.status).toBe(201);
    const rows = (await stack.imflow.db.pool.query('SELECT actor, action FROM audit_log WHERE subject = $1', [channel])).rows;
    expect(rows).toEqual([{ actor: `user:${admin.me.user.id}`, action: 'channel.create' }]);
    const userRows = (await stack.imflow.db.pool.query(`SELECT actor, action FROM audit_log WHERE subject = $1 ORDER BY id`, [id])).rows;
    expect(userRows[0]).toEqual({ actor: 'admin', action: 'user.create' });
    const logins = (await stack.imflow.db.pool.query(`SELECT actor FROM audit_log WHERE action = 'auth.login' AND subject = $1`, [admin.me.user.id])).rows;
    expect(logins).toEqual([{ actor: `user:${admin.me.user.id}` }]);
  });
});
