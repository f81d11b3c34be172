// Console users, their sessions and API tokens. Passwords are scrypt-hashed; session ids and API tokens
// are random 256-bit values stored as SHA-256 hashes, so a database dump lets nobody in.
import crypto from 'node:crypto';
import { promisify } from 'node:util';
import type { Db, Queryable } from './db.js';

export const ROLES = ['admin', 'analyst', 'viewer', 'auditor'] as const;
export type Role = (typeof ROLES)[number];

export interface ConsoleUser {
  id: string;
  displayName: string | null;
  role: Role;
  disabled: boolean;
  createdAt: Date;
  updatedAt: Date;
  lastLoginAt: Date | null;
}

/** Who a request acts as. `user` is absent for the ADMIN_TOKEN, which is the built-in admin. */
export interface Principal {
  role: Role;
  user?: string;
  /** how the request proved it: a session cookie (needs CSRF checks) or a bearer token */
  via: 'session' | 'bearer';
  /** the session's CSRF token, for via = session */
  csrfToken?: string;
  sessionHash?: string;
}

/** The name audit rows carry for a principal. */
export const actorName = (p: Pick<Principal, 'user'>) => (p.user ? `user:${p.user}` : 'admin');

const scrypt = promisify(crypto.scrypt) as (pw: string, salt: Buffer, len: number, opts: crypto.ScryptOptions) => Promise<Buffer>;
const SCRYPT = { N: 16384, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };
const KEY_LEN = 32;

export async function hashPassword(password: string): Promise<string> {
  const salt = crypto.randomBytes(16);
  const key = await scrypt(password, salt, KEY_LEN, SCRYPT);
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, key] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !key) return false;
  const expected = Buffer.from(key, 'base64url');
  const actual = await scrypt(password, Buffer.from(salt, 'base64url'), expected.length, { N: Number(n), r: Number(r), p: Number(p), maxmem: SCRYPT.maxmem });
  return crypto.timingSafeEqual(actual, expected);
}

/** Checked against when the user does not exist, so "no such user" takes as long as "wrong password". */
const DUMMY_HASH = hashPassword(crypto.randomBytes(16).toString('hex'));

const sha256 = (s: string) => crypto.createHash('sha256').update(s).digest('hex');
const randomToken = () => crypto.randomBytes(32).toString('base64url');

const toUser = (r: any): ConsoleUser => ({
  id: r.id,
  displayName: r.display_name,
  role: r.role,
  disabled: r.disabled,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  lastLoginAt: r.last_login_at,
});

export async function listUsers(db: Queryable): Promise<ConsoleUser[]> {
  return (await db.query('SELECT * FROM console_users ORDER BY id')).rows.map(toUser);
}

export async function getUser(db: Queryable, id: string): Promise<ConsoleUser | undefined> {
  const row = (await db.query('SELECT * FROM console_users WHERE id = $1', [id])).rows[0];
  return row && toUser(row);
}

/** false if the id is taken */
export async function createUser(db: Queryable, u: { id: string; displayName?: string; role: Role; password: string }): Promise<boolean> {
  const res = await db.query(
    `INSERT INTO console_users (id, display_name, role, password_hash) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING`,
    [u.id, u.displayName ?? null, u.role, await hashPassword(u.password)],
  );
  return !!res.rowCount;
}

/**
 * Changes what is given. A new password or disabling the user ends their sessions; a new role takes
 * effect on their next request (sessions read the role from the user row).
 */
export async function updateUser(
  db: Db,
  id: string,
  change: { displayName?: string | null; role?: Role; password?: string; disabled?: boolean },
): Promise<ConsoleUser | undefined> {
  const hash = change.password === undefined ? null : await hashPassword(change.password);
  const row = (
    await db.query(
      `UPDATE console_users SET
         display_name = CASE WHEN $2 THEN $3 ELSE display_name END,
         role = COALESCE($4, role),
         password_hash = COALESCE($5, password_hash),
         disabled = COALESCE($6, disabled),
         updated_at = now()
       WHERE id = $1 RETURNING *`,
      [id, change.displayName !== undefined, change.displayName ?? null, change.role ?? null, hash, change.disabled ?? null],
    )
  ).rows[0];
  if (!row) return undefined;
  if (hash || change.disabled) await db.query('DELETE FROM console_sessions WHERE user_id = $1', [id]);
  return toUser(row);
}

export async function deleteUser(db: Queryable, id: string): Promise<boolean> {
  return !!(await db.query('DELETE FROM console_users WHERE id = $1', [id])).rowCount;
}

/** The user if the password is theirs and they are not disabled. Constant work whether or not they exist. */
export async function checkPassword(db: Queryable, id: string, password: string): Promise<ConsoleUser | undefined> {
  const row = (await db.query('SELECT * FROM console_users WHERE id = $1', [id])).rows[0];
  const ok = await verifyPassword(password, row?.password_hash ?? (await DUMMY_HASH));
  if (!row || !ok || row.disabled) return undefined;
  await db.query('UPDATE console_users SET last_login_at = now() WHERE id = $1', [id]);
  return toUser(row);
}

// ---------------------------------------------------------------------------------------------
// Sessions: idle for SESSION_IDLE_MS ends one; none lives longer than SESSION_MAX_MS.

export const SESSION_IDLE_MS = 12 * 3600_000;
export const SESSION_MAX_MS = 7 * 24 * 3600_000;
/** last_seen_at is written at most this often, so reading pages does not write on every request */
const TOUCH_EVERY_MS = 60_000;

export async function createSession(db: Queryable, userId: string | null): Promise<{ sessionId: string; csrfToken: string; expiresAt: Date }> {
  const sessionId = randomToken();
  const csrfToken = randomToken();
  const expiresAt = new Date(Date.now() + SESSION_IDLE_MS);
  await db.query('INSERT INTO console_sessions (id_hash, user_id, csrf_token, expires_at) VALUES ($1, $2, $3, $4)', [
    sha256(sessionId),
    userId,
    csrfToken,
    expiresAt,
  ]);
  // expired sessions of everyone go when someone logs in: no sweeper needed
  await db.query('DELETE FROM console_sessions WHERE expires_at < now()');
  return { sessionId, csrfToken, expiresAt };
}

export async function sessionPrincipal(db: Queryable, sessionId: string): Promise<Principal | undefined> {
  const idHash = sha256(sessionId);
  const row = (
    await db.query(
      `SELECT s.user_id, s.csrf_token, s.created_at, s.last_seen_at, u.role, u.disabled
         FROM console_sessions s LEFT JOIN console_users u ON u.id = s.user_id
        WHERE s.id_hash = $1 AND s.expires_at > now()`,
      [idHash],
    )
  ).rows[0];
  if (!row || (row.user_id && (!row.role || row.disabled))) return undefined;
  const now = Date.now();
  if (now - new Date(row.last_seen_at).getTime() > TOUCH_EVERY_MS) {
    const expires = Math.min(now + SESSION_IDLE_MS, new Date(row.created_at).getTime() + SESSION_MAX_MS);
    await db.query('UPDATE console_sessions SET last_seen_at = now(), expires_at = $2 WHERE id_hash = $1', [idHash, new Date(expires)]);
  }
  return { role: row.user_id ? row.role : 'admin', user: row.user_id ?? undefined, via: 'session', csrfToken: row.csrf_token, sessionHash: idHash };
}

export async function endSession(db: Queryable, sessionHash: string): Promise<void> {
  await db.query('DELETE FROM console_sessions WHERE id_hash = $1', [sessionHash]);
}

// ---------------------------------------------------------------------------------------------
// API tokens: "imf_<random>", shown once; act with their user's role.

export const API_TOKEN_PREFIX = 'imf_';

export interface ApiTokenInfo {
  id: string;
  name: string;
  prefix: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  expiresAt: Date | null;
}

const toToken = (r: any): ApiTokenInfo => ({
  id: r.id,
  name: r.name,
  prefix: r.prefix,
  createdAt: r.created_at,
  lastUsedAt: r.last_used_at,
  expiresAt: r.expires_at,
});

export async function createApiToken(db: Queryable, userId: string, name: string, expiresAt?: Date): Promise<ApiTokenInfo & { token: string }> {
  const token = API_TOKEN_PREFIX + randomToken();
  const row = (
    await db.query('INSERT INTO api_tokens (id, user_id, name, token_hash, prefix, expires_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING *', [
      crypto.randomUUID(),
      userId,
      name,
      sha256(token),
      token.slice(0, API_TOKEN_PREFIX.length + 6),
      expiresAt ?? null,
    ])
  ).rows[0];
  return { ...toToken(row), token };
}

export async function listApiTokens(db: Queryable, userId: string): Promise<ApiTokenInfo[]> {
  return (await db.query('SELECT * FROM api_tokens WHERE user_id = $1 ORDER BY created_at', [userId])).rows.map(toToken);
}

export async function deleteApiToken(db: Queryable, userId: string, tokenId: string): Promise<boolean> {
  return !!(await db.query('DELETE FROM api_tokens WHERE id = $1 AND user_id = $2', [tokenId, userId])).rowCount;
}

export async function apiTokenPrincipal(db: Queryable, token: string): Promise<Principal | undefined> {
  const hash = sha256(token);
  const row = (
    await db.query(
      `SELECT u.id, u.role, t.last_used_at FROM api_tokens t JOIN console_users u ON u.id = t.user_id
        WHERE t.token_hash = $1 AND NOT u.disabled AND (t.expires_at IS NULL OR t.expires_at > now())`,
      [hash],
    )
  ).rows[0];
  if (!row) return undefined;
  if (!row.last_used_at || Date.now() - new Date(row.last_used_at).getTime() > TOUCH_EVERY_MS) {
    await db.query('UPDATE api_tokens SET last_used_at = now() WHERE token_hash = $1', [hash]);
  }
  return { role: row.role, user: row.id, via: 'bearer' };
}
