import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/**
 * Reads a secret from the environment, else from `<dataDir>/<file>`, else generates one there (mode 0600).
 * Used for ADMIN_TOKEN and IMFLOW_SECRET_KEY.
 */
export function persistentSecret(envValue: string | undefined, dataDir: string, file: string): { value: string; generated: boolean } {
  if (envValue) return { value: envValue, generated: false };
  const p = path.join(dataDir, file);
  if (fs.existsSync(p)) return { value: fs.readFileSync(p, 'utf8').trim(), generated: false };
  const value = crypto.randomBytes(24).toString('base64url');
  fs.writeFileSync(p, value + '\n', { mode: 0o600 });
  return { value, generated: true };
}

/** AES-256-GCM for platform secrets at rest. The key is derived from IMFLOW_SECRET_KEY of any length. */
export class SecretBox {
  private readonly key: Buffer;
  constructor(secretKey: string) {
    this.key = crypto.createHash('sha256').update(`imflow-secrets:${secretKey}`).digest();
  }
  seal(plain: string): string {
    const iv = crypto.randomBytes(12);
    const cipher = crypto.createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return ['v1', iv.toString('base64'), cipher.getAuthTag().toString('base64'), body.toString('base64')].join(':');
  }
  open(sealed: string): string {
    const [v, iv, tag, body] = sealed.split(':');
    if (v !== 'v1' || !iv || !tag || !body) throw new Error('not a sealed secret');
    const decipher = crypto.createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64'));
    decipher.setAuthTag(Buffer.from(tag, 'base64'));
    try {
      return Buffer.concat([decipher.update(Buffer.from(body, 'base64')), decipher.final()]).toString('utf8');
    } catch {
      throw new Error('cannot decrypt a stored secret: IMFLOW_SECRET_KEY differs from the one it was stored with');
    }
  }
}

/** Constant-time comparison of two strings (lengths leak, contents do not). */
export function safeEqual(a: string, b: string): boolean {
  const x = crypto.createHash('sha256').update(a).digest();
  const y = crypto.createHash('sha256').update(b).digest();
  return crypto.timingSafeEqual(x, y) && a.length === b.length;
}
