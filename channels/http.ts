import { SendRejected } from './types.js';

export interface JsonResponse<T = any> {
  status: number;
  body: T;
}

/**
 * One JSON call to a platform API with a timeout. Network errors, timeouts, 429 and 5xx throw a plain
 * Error (Temporal retries the step); other 4xx throw SendRejected (retrying the same request cannot help).
 * Platforms that answer 200 with an error code leave that check to the caller; so do platforms that put
 * their error code in a 4xx JSON body (Feishu: an expired token or a rate limit is HTTP 400 with a code):
 * with `returnClientErrors` such a 4xx is returned for the caller to classify instead of thrown.
 */
export async function callPlatform<T = any>(
  url: string,
  init: {
    method?: 'GET' | 'POST' | 'PUT' | 'PATCH';
    body?: unknown;
    headers?: Record<string, string>;
    timeoutMs?: number;
    returnClientErrors?: boolean;
  } = {},
): Promise<JsonResponse<T>> {
  const res = await fetch(url, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers: { ...(init.body !== undefined ? { 'content-type': 'application/json; charset=utf-8' } : {}), ...init.headers },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
    signal: AbortSignal.timeout(init.timeoutMs ?? 10_000),
  });
  const text = await res.text();
  let body: any = text;
  try {
    body = text ? JSON.parse(text) : {};
  } catch {
    /* not JSON: keep the text for the error */
  }
  const where = new URL(url).pathname;
  if (res.status >= 500 || res.status === 429) throw new Error(`${where}: HTTP ${res.status}`);
  if (res.status >= 400 && !(init.returnClientErrors && typeof body === 'object')) throw new SendRejected(`${where}: HTTP ${res.status}: ${typeof body === 'string' ? body.slice(0, 200) : JSON.stringify(body).slice(0, 200)}`, res.status);
  return { status: res.status, body };
}
