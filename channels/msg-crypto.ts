// The message crypto WeCom and DingTalk share (AES-256-CBC, 32-byte PKCS#7 blocks, sha1 signature over
// the sorted token/timestamp/nonce/ciphertext). @wecom/crypto does the cipher work; this adds the
// checks a gateway needs before trusting a payload: constant-time signature comparison, strict
// padding and length checks, and the receiver id.
import crypto from 'node:crypto';
import { decrypt, encrypt, getSignature } from '@wecom/crypto';
import { WebhookRejected } from './types.js';

export { getSignature };

/** Constant-time check of a hex sha1 signature; a missing or malformed one is a forgery. */
export function checkSignature(token: string, timestamp: string, nonce: string, ciphertext: string, signature: string | undefined): void {
  const expected = getSignature(token, timestamp, nonce, ciphertext);
  if (!signature || !/^[0-9a-f]{40}$/i.test(signature) || !crypto.timingSafeEqual(Buffer.from(expected), Buffer.from(signature.toLowerCase()))) {
    throw new WebhookRejected(401, 'signature does not match');
  }
}

/**
 * Decrypts and checks the layout random(16) ‖ len ‖ msg ‖ receiverId. A ciphertext that is not valid
 * base64 AES output, or whose padding or length field is inconsistent, is malformed (400); one made for
 * another receiver (wrong CorpID / appKey) is a forgery (401).
 */
export function openMessage(encodingAESKey: string, ciphertext: string, expectedReceiverId: string | undefined): string {
  const raw = Buffer.from(ciphertext, 'base64');
  if (!raw.length || raw.length % 32 !== 0 || raw.toString('base64') !== ciphertext.replace(/\s/g, '')) {
    throw new WebhookRejected(400, 'encrypted payload is not valid base64 AES-CBC output');
  }
  let out: { message: string; id: string };
  try {
    const plain = rawDecrypt(encodingAESKey, raw);
    out = { message: plain.message, id: plain.id };
  } catch (err) {
    throw new WebhookRejected(400, `cannot decrypt payload: ${(err as Error).message}`);
  }
  if (expectedReceiverId !== undefined && out.id !== expectedReceiverId) {
    throw new WebhookRejected(401, 'payload was encrypted for another receiver id');
  }
  return out.message;
}

function rawDecrypt(encodingAESKey: string, raw: Buffer): { message: string; id: string } {
  // re-check what @wecom/crypto's decrypt tolerates: padding bytes and the length field
  const key = Buffer.from(`${encodingAESKey}=`, 'base64');
  if (key.length !== 32) throw new Error('the AES key is not 43 base64 characters');
  const decipher = crypto.createDecipheriv('aes-256-cbc', key, key.subarray(0, 16));
  decipher.setAutoPadding(false);
  const padded = Buffer.concat([decipher.update(raw), decipher.final()]);
  const pad = padded[padded.length - 1]!;
  if (pad < 1 || pad > 32 || !padded.subarray(padded.length - pad).every((b) => b === pad)) throw new Error('bad padding');
  const body = padded.subarray(0, padded.length - pad);
  if (body.length < 20 || body.readUInt32BE(16) > body.length - 20) throw new Error('bad length field');
  const { message, id } = decrypt(encodingAESKey, raw.toString('base64'));
  return { message, id };
}

/** Encrypts a reply for the platform and signs it; `random` only for deterministic tests. */
export function sealMessage(
  token: string,
  encodingAESKey: string,
  receiverId: string,
  message: string,
  timestamp: string,
  nonce: string,
  random?: Buffer,
): { encrypt: string; signature: string } {
  const ciphertext = encrypt(encodingAESKey, message, receiverId, random);
  return { encrypt: ciphertext, signature: getSignature(token, timestamp, nonce, ciphertext) };
}
