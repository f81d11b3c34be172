// Calls to /api with the session cookie. Writes carry the session's CSRF token (from the readable
// imflow_csrf cookie, as the server requires of cookie-authenticated writes).

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

export function csrfToken(): string {
  return /(?:^|;\s*)imflow_csrf=([^;]*)/.exec(document.cookie)?.[1] ?? '';
}

let onUnauthorized: () => void = () => {};
/** What to do when the session is gone (expired, logged out elsewhere): the shell shows the login. */
export const whenUnauthorized = (fn: () => void) => {
  onUnauthorized = fn;
};

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const write = method !== 'GET' && method !== 'HEAD';
  const res = await fetch(`/api${path}`, {
    method,
    credentials: 'same-origin',
    headers: {
      accept: 'application/json',
      ...(body !== undefined && { 'content-type': 'application/json' }),
      ...(write && { 'x-csrf-token': decodeURIComponent(csrfToken()) }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status === 204) return undefined as T;
  const parsed: unknown = await res.json().catch(() => undefined);
  if (!res.ok) {
    if (res.status === 401 && path !== '/login') onUnauthorized();
    const err = parsed as { error?: string; details?: unknown } | undefined;
    throw new ApiError(res.status, err?.error ?? `HTTP ${res.status}`, err?.details);
  }
  return parsed as T;
}

export const get = <T>(path: string) => api<T>('GET', path);

/** A query string from the set values only. */
export function query(params: Record<string, string | number | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}
