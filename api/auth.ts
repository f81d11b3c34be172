// Who may call which /api route. Every request proves who it is with `Authorization: Bearer` (the
// ADMIN_TOKEN or a user's API token) or the console's session cookie; then the permission table below
// decides by path and method. Cookie-authenticated writes must also carry the session's CSRF token and
// come from this origin; bearer requests cannot be forged by another site, so they need neither.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Request, RequestHandler, Response } from 'express';
import type { Db } from '../runtime/db.js';
import { safeEqual } from '../runtime/secrets.js';
import { actorName, API_TOKEN_PREFIX, apiTokenPrincipal, sessionPrincipal, type Principal, type Role } from '../runtime/users.js';
import { HttpError } from './http-errors.js';

export const SESSION_COOKIE = 'imflow_session';
/** readable by the page (not HttpOnly): the console copies it into the X-CSRF-Token header */
export const CSRF_COOKIE = 'imflow_csrf';

const ALL: readonly Role[] = ['admin', 'analyst', 'viewer', 'auditor'];
const ADMIN: readonly Role[] = ['admin'];
const ANALYST: readonly Role[] = ['admin', 'analyst'];
const AUDIT: readonly Role[] = ['admin', 'auditor'];

export interface Permission {
  /** a path under /api; matches itself and everything below it */
  prefix: string;
  /** GET and HEAD */
  read: readonly Role[];
  /** every other method */
  write: readonly Role[];
}

/**
 * The longest matching prefix wins; a route in none of them is admin-only, so a route added without a
 * line here is safe by default. Viewers read everything but the audit log and users; auditors read
 * everything including the audit log; analysts also build pipelines, knowledge bases and tools and use
 * the sandbox; admins do everything.
 */
export const PERMISSIONS: readonly Permission[] = [
  { prefix: '/me', read: ALL, write: ALL }, // one's own password and API tokens
  { prefix: '/logout', read: ALL, write: ALL },
  { prefix: '/events', read: ALL, write: ADMIN },
  { prefix: '/users', read: ADMIN, write: ADMIN },
  { prefix: '/audit', read: AUDIT, write: ADMIN },
  { prefix: '/runs', read: ALL, write: ANALYST }, // retry
  { prefix: '/sandbox', read: ANALYST, write: ANALYST },
  { prefix: '/pipelines', read: ALL, write: ANALYST },
  { prefix: '/knowledge-bases', read: ALL, write: ANALYST },
  { prefix: '/tools', read: ALL, write: ANALYST },
  // which hosts tools may call is the SSRF guard: not the tool authors' to widen
  { prefix: '/tools/allowed-hosts', read: ALL, write: ADMIN },
  { prefix: '/departments', read: ALL, write: ADMIN },
  { prefix: '/channels', read: ALL, write: ADMIN },
  { prefix: '/models', read: ALL, write: ADMIN },
  { prefix: '/settings', read: ALL, write: ADMIN },
];

const ADMIN_ONLY: Permission = { prefix: '', read: ADMIN, write: ADMIN };
const isRead = (method: string) => method === 'GET' || method === 'HEAD';

export function permissionFor(path: string): Permission {
  let best = ADMIN_ONLY;
  for (const p of PERMISSIONS) {
    if ((path === p.prefix || path.startsWith(`${p.prefix}/`)) && p.prefix.length > best.prefix.length) best = p;
  }
  return best;
}

export const allowed = (role: Role, method: string, path: string) => {
  const p = permissionFor(path);
  return (isRead(method) ? p.read : p.write).includes(role);
};

/** Routes that answer without credentials. */
const PUBLIC = new Set(['POST /login']);

const principals = new AsyncLocalStorage<Principal>();

/** The principal of the request being handled (audit rows name it), outside a request undefined. */
export const currentPrincipal = () => principals.getStore();
export const currentActor = () => {
  const p = currentPrincipal();
  return p ? actorName(p) : 'admin';
};

export const principalOf = (res: Response): Principal | undefined => res.locals.principal;

export function readCookie(req: Request, name: string): string | undefined {
  for (const part of (req.get('cookie') ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return decodeURIComponent(part.slice(i + 1).trim());
  }
  return undefined;
}

/** Resolves the caller, then checks CSRF and the permission table. Mounted on /api before any body is parsed. */
export function authenticate(deps: { db: Db; adminToken: string }): RequestHandler {
  return async (req, res, next) => {
    try {
      if (PUBLIC.has(`${req.method} ${req.path}`)) {
        // a browser's Origin must be ours, so no other site can log a visitor in (curl sends none)
        const origin = req.get('origin');
        if (origin !== undefined && !fromThisOrigin(req)) throw new HttpError(403, 'the request does not come from this origin');
        return next();
      }
      const principal = await identify(deps, req);
      if (!principal) {
        throw new HttpError(401, 'missing or invalid credentials: log in, or send Authorization: Bearer <admin token or API token>');
      }
      if (principal.via === 'session' && !isRead(req.method)) checkCsrf(req, principal);
      if (!allowed(principal.role, req.method, req.path)) {
        throw new HttpError(403, `the ${principal.role} role may not ${req.method} /api${req.path}`);
      }
      res.locals.principal = principal;
      next();
    } catch (err) {
      next(err);
    }
  };
}

/** Runs the rest of the request with its principal in async context (after the body parser, which loses it). */
export const withPrincipal: RequestHandler = (_req, res, next) => {
  const p = principalOf(res);
  if (p) principals.run(p, next);
  else next();
};

async function identify(deps: { db: Db; adminToken: string }, req: Request): Promise<Principal | undefined> {
  const header = req.get('authorization');
  if (header !== undefined && header !== '') {
    // a bearer credential that is wrong is refused, never silently replaced by a cookie
    const token = header.startsWith('Bearer ') ? header.slice(7).trim() : '';
    if (token && safeEqual(token, deps.adminToken)) return { role: 'admin', via: 'bearer' };
    if (token.startsWith(API_TOKEN_PREFIX)) return apiTokenPrincipal(deps.db, token);
    return undefined;
  }
  const session = readCookie(req, SESSION_COOKIE);
  return session ? sessionPrincipal(deps.db, session) : undefined;
}

function checkCsrf(req: Request, p: Principal) {
  const sent = req.get('x-csrf-token') ?? '';
  if (!sent || !p.csrfToken || !safeEqual(sent, p.csrfToken)) throw new HttpError(403, 'CSRF check failed: send the X-CSRF-Token header');
  if (!fromThisOrigin(req)) throw new HttpError(403, 'CSRF check failed: the request does not come from this origin');
}

/** Origin (or, without one, Referer) names this server, or IMFLOW_PUBLIC_URL's host. */
function fromThisOrigin(req: Request): boolean {
  const from = req.get('origin') ?? req.get('referer');
  if (!from || !URL.canParse(from)) return false;
  const host = new URL(from).host;
  if (host === req.get('host') || host === req.get('x-forwarded-host')) return true;
  const publicUrl = process.env.IMFLOW_PUBLIC_URL;
  return !!publicUrl && URL.canParse(publicUrl) && new URL(publicUrl).host === host;
}
