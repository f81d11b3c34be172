import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { persistentSecret, safeEqual, SecretBox } from '../runtime/secrets.js';

describe('SecretBox', () => {
  const box = new SecretBox('correct horse battery staple');

  it('round-trips secrets, including Chinese and long values', () => {
    for (const plain of ['sk-abc123', '飞书应用密钥：秘密🙂', 'x'.repeat(5000), JSON.stringify({ appSecret: 's', token: '令牌' })]) {
      const sealed = box.seal(plain);
      expect(box.open(sealed)).toBe(plain);
    }
  });

  it('a new box with the same key opens what another sealed (the key is all that is needed)', () => {
    const sealed = box.seal('钉钉 appSecret');
    expect(new SecretBox('correct horse battery staple').open(sealed)).toBe('钉钉 appSecret');
  });

  it('the ciphertext differs each time and does not contain the plaintext', () => {
    const plain = 'my-very-recognisable-api-key-密钥';
    const a = box.seal(plain);
    const b = box.seal(plain);
    expect(a).not.toBe(b);
    for (const sealed of [a, b]) {
      expect(sealed).not.toContain(plain);
      expect(sealed).not.toContain('recognisable');
      expect(sealed).not.toContain(Buffer.from(plain).toString('base64'));
      expect(sealed).toMatch(/^v1:/);
    }
  });

  it('a wrong key fails with a clear error naming IMFLOW_SECRET_KEY', () => {
    const sealed = box.seal('secret');
    expect(() => new SecretBox('another key').open(sealed)).toThrow(/IMFLOW_SECRET_KEY/);
    // keys that differ only slightly are different keys
    expect(() => new SecretBox('correct horse battery staple ').open(sealed)).toThrow(/cannot decrypt/);
  });

  it('a tampered ciphertext, tag or IV is rejected', () => {
    const sealed = box.seal('do not change me');
    const [v, iv, tag, body] = sealed.split(':') as [string, string, string, string];
    const flip = (b64: string) => {
      const buf = Buffer.from(b64, 'base64');
      buf[0] = buf[0]! ^ 0x01;
      return buf.toString('base64');
    };
    expect(() => box.open([v, iv, tag, flip(body)].join(':'))).toThrow();
    expect(() => box.open([v, iv, flip(tag), body].join(':'))).toThrow();
    expect(() => box.open([v, flip(iv), tag, body].join(':'))).toThrow();
    // a truncated body
    expect(() => box.open([v, iv, tag, Buffer.from(body, 'base64').subarray(1).toString('base64')].join(':'))).toThrow();
    // the untouched value still opens
    expect(box.open(sealed)).toBe('do not change me');
  });

  it('rejects something that is not a sealed secret', () => {
    expect(() => box.open('plain-text-api-key')).toThrow(/not a sealed secret/);
    expect(() => box.open('v2:a:b:c')).toThrow(/not a sealed secret/);
    expect(() => box.open('v1:onlyiv')).toThrow(/not a sealed secret/);
  });
});

describe('persistentSecret', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imflow-secrets-test-'));
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('generates once into the data dir with mode 0600, then returns the same value', () => {
    const first = persistentSecret(undefined, dir, 'secret-key');
    expect(first.generated).toBe(true);
    expect(first.value.length).toBeGreaterThanOrEqual(24);
    const file = path.join(dir, 'secret-key');
    expect(fs.existsSync(file)).toBe(true);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(file, 'utf8').trim()).toBe(first.value);

    const second = persistentSecret(undefined, dir, 'secret-key');
    expect(second).toEqual({ value: first.value, generated: false });
    expect(persistentSecret('', dir, 'secret-key').value).toBe(first.value); // an empty env value counts as unset
  });

  it('different files get different random values', () => {
    const a = persistentSecret(undefined, dir, 'admin-token');
    const b = persistentSecret(undefined, dir, 'secret-key');
    expect(a.value).not.toBe(b.value);
    const otherDir = fs.mkdtempSync(path.join(os.tmpdir(), 'imflow-secrets-test-'));
    try {
      expect(persistentSecret(undefined, otherDir, 'admin-token').value).not.toBe(a.value);
    } finally {
      fs.rmSync(otherDir, { recursive: true, force: true });
    }
  });

  it('the env value wins over the file and writes nothing', () => {
    expect(persistentSecret('from-env', dir, 'admin-token')).toEqual({ value: 'from-env', generated: false });
    expect(fs.existsSync(path.join(dir, 'admin-token'))).toBe(false);

    const stored = persistentSecret(undefined, dir, 'admin-token');
    expect(persistentSecret('from-env', dir, 'admin-token')).toEqual({ value: 'from-env', generated: false });
    expect(fs.readFileSync(path.join(dir, 'admin-token'), 'utf8').trim()).toBe(stored.value);
  });

  it('reads a value an operator put in the file, without the trailing newline', () => {
    fs.writeFileSync(path.join(dir, 'admin-token'), 'operator-chosen-token\n');
    expect(persistentSecret(undefined, dir, 'admin-token')).toEqual({ value: 'operator-chosen-token', generated: false });
  });
});

describe('safeEqual', () => {
  it('is true only for identical strings', () => {
    expect(safeEqual('token-123', 'token-123')).toBe(true);
    expect(safeEqual('令牌', '令牌')).toBe(true);
    expect(safeEqual('', '')).toBe(true);
    expect(safeEqual('token-123', 'token-124')).toBe(false);
    expect(safeEqual('token-123', 'token-12')).toBe(false);
    expect(safeEqual('token-123', 'token-1234')).toBe(false);
    expect(safeEqual('token', '')).toBe(false);
    expect(safeEqual('', 'token')).toBe(false);
    expect(safeEqual('Token', 'token')).toBe(false);
  });
});
