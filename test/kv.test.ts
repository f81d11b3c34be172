import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { memoryStore, openKeyValueStore, type KeyValueStore } from '../runtime/kv.js';

const REDIS_URL = process.env.REDIS_URL;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Behaviour both stores share. `prefix` keeps a shared Redis clean; `wait` lets time pass for TTLs. */
function sharedBehaviour(open: () => KeyValueStore, opts: { prefix: string; wait: (ms: number) => Promise<void> }) {
  let store: KeyValueStore;
  const k = (name: string) => `${opts.prefix}${name}`;
  const used = new Set<string>();
  const key = (name: string) => {
    used.add(k(name));
    return k(name);
  };

  beforeAll(async () => {
    store = open();
    // Redis: commands fail fast (no offline queue) until the connection is up, so wait for it first
    const deadline = Date.now() + 5000;
    while (!(await store.ping())) {
      if (Date.now() > deadline) throw new Error(`${store.kind} store did not become ready`);
      await sleep(20);
    }
  });
  afterAll(async () => {
    for (const name of used) await store.del(name).catch(() => {});
    await store.close();
  });

  it('get of a missing key is null', async () => {
    expect(await store.get(key('missing'))).toBeNull();
  });

  it('set then get returns the value, including Chinese text and JSON', async () => {
    await store.set(key('a'), 'hello');
    expect(await store.get(key('a'))).toBe('hello');
    const json = JSON.stringify([{ role: 'user', content: '你好，世界 🙂' }]);
    await store.set(key('session'), json);
    expect(await store.get(key('session'))).toBe(json);
    expect(await store.get(key('a'))).toBe('hello'); // keys are independent
  });

  it('set overwrites', async () => {
    await store.set(key('over'), 'one');
    await store.set(key('over'), 'two');
    expect(await store.get(key('over'))).toBe('two');
  });

  it('del removes a key, and deleting a missing key is fine', async () => {
    await store.set(key('gone'), 'x');
    await store.del(key('gone'));
    expect(await store.get(key('gone'))).toBeNull();
    await expect(store.del(key('never-set'))).resolves.toBeUndefined();
  });

  it('an empty string is a value, not a miss', async () => {
    await store.set(key('empty'), '');
    expect(await store.get(key('empty'))).toBe('');
  });

  it('a key with a TTL is there before it expires and gone after', async () => {
    await store.set(key('ttl'), 'short-lived', 300);
    await store.set(key('no-ttl'), 'stays');
    expect(await store.get(key('ttl'))).toBe('short-lived');
    await opts.wait(150);
    expect(await store.get(key('ttl'))).toBe('short-lived');
    await opts.wait(300);
    expect(await store.get(key('ttl'))).toBeNull();
    expect(await store.get(key('no-ttl'))).toBe('stays');
  });

  it('setting a key again without a TTL makes it permanent', async () => {
    await store.set(key('renew'), 'v1', 200);
    await store.set(key('renew'), 'v2');
    await opts.wait(350);
    expect(await store.get(key('renew'))).toBe('v2');
  });

  it('setting a key again with a new TTL extends it', async () => {
    await store.set(key('extend'), 'v1', 200);
    await opts.wait(120);
    await store.set(key('extend'), 'v2', 400);
    await opts.wait(200); // past the first TTL, within the second
    expect(await store.get(key('extend'))).toBe('v2');
  });

  it('ping is true while the store is up', async () => {
    expect(await store.ping()).toBe(true);
  });
}

describe('memory store', () => {
  it('openKeyValueStore without a URL gives the memory store', async () => {
    const s = openKeyValueStore(undefined);
    expect(s.kind).toBe('memory');
    await s.close();
  });

  describe('with fake timers', () => {
    beforeAll(() => {
      vi.useFakeTimers({ toFake: ['Date'] });
    });
    afterAll(() => {
      vi.useRealTimers();
    });
    sharedBehaviour(memoryStore, { prefix: '', wait: async (ms) => void vi.advanceTimersByTime(ms) });

    it('expires exactly at the TTL, not a millisecond early', async () => {
      vi.setSystemTime(new Date('2024-05-01T00:00:00Z'));
      const s = memoryStore();
      await s.set('k', 'v', 1000);
      vi.setSystemTime(new Date('2024-05-01T00:00:00.999Z'));
      expect(await s.get('k')).toBe('v');
      vi.setSystemTime(new Date('2024-05-01T00:00:01Z'));
      expect(await s.get('k')).toBeNull();
    });
  });

  it('stores are separate, and close() empties one', async () => {
    const a = memoryStore();
    const b = memoryStore();
    await a.set('k', 'a');
    expect(await b.get('k')).toBeNull();
    await a.close();
    expect(await a.get('k')).toBeNull();
  });
});

describe.skipIf(!REDIS_URL)('redis store (REDIS_URL)', () => {
  it('openKeyValueStore with a URL gives the redis store', async () => {
    const s = openKeyValueStore(REDIS_URL);
    expect(s.kind).toBe('redis');
    await s.close();
  });

  describe('shared behaviour', () => {
    sharedBehaviour(() => openKeyValueStore(REDIS_URL), { prefix: `imflow-test:kv:${crypto.randomBytes(6).toString('hex')}:`, wait: sleep });
  });

  describe('a store pointed at a closed port', () => {
    let down: KeyValueStore;
    beforeAll(() => {
      down = openKeyValueStore('redis://127.0.0.1:1');
    });
    afterAll(async () => {
      await down.close();
    });

    it('rejects get within about a second instead of hanging', async () => {
      const started = Date.now();
      const outcome = await Promise.race([
        down.get('anything').then(
          () => 'resolved',
          () => 'rejected',
        ),
        sleep(3000).then(() => 'hung'),
      ]);
      expect(outcome).toBe('rejected');
      expect(Date.now() - started).toBeLessThan(1200);
    });

    it('still rejects fast after failed connection attempts (while it keeps reconnecting)', async () => {
      await sleep(700);
      for (let i = 0; i < 3; i++) {
        const started = Date.now();
        await expect(down.get('anything')).rejects.toThrow();
        expect(Date.now() - started).toBeLessThan(1200);
      }
    });

    it('rejects set and del too', async () => {
      const started = Date.now();
      await expect(down.set('k', 'v', 1000)).rejects.toThrow();
      await expect(down.del('k')).rejects.toThrow();
      expect(Date.now() - started).toBeLessThan(2400);
    });

    it('ping resolves false', async () => {
      const started = Date.now();
      await expect(down.ping()).resolves.toBe(false);
      expect(Date.now() - started).toBeLessThan(1200);
    });
  });
});
