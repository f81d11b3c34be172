import type { KeyValueStore } from '../runtime/kv.js';

export interface IssuedToken {
  token: string;
  /** lifetime the platform gave it, seconds */
  expiresInSec: number;
}

/** Refresh this long before the platform's expiry, so a token never dies mid-request. */
const EARLY_MS = 5 * 60_000;

/**
 * An access token per channel, cached in Redis so every worker shares it (platforms rate-limit token
 * calls). `use` returns 'expired' when the platform says the token is no longer valid: the token is
 * dropped, fetched again, and `use` runs once more — exactly once.
 */
export async function withAccessToken<T>(
  kv: KeyValueStore,
  cacheKey: string,
  issue: () => Promise<IssuedToken>,
  use: (token: string) => Promise<T | 'expired'>,
): Promise<T> {
  const key = `imflow:token:${cacheKey}`;
  const fresh = async () => {
    const t = await issue();
    const ttl = Math.max(60_000, t.expiresInSec * 1000 - EARLY_MS);
    await kv.set(key, t.token, ttl).catch(() => {}); // Redis down: still usable, just not shared
    return t.token;
  };
  const cached = await kv.get(key).catch(() => null);
  const first = await use(cached ?? (await fresh()));
  if (first !== 'expired') return first;
  await kv.del(key).catch(() => {});
  const second = await use(await fresh());
  if (second === 'expired') throw new Error(`access token for ${cacheKey} rejected right after it was issued`);
  return second;
}
