// Feishu / Lark custom app bot: event subscription v2.0 over HTTP (`im.message.receive_v1`), answered
// through the reply API with a tenant access token; proactive sends (alerts) go through the send API.
// Wire formats: docs protocols.md §2.
import { withButtons } from './buttons.js';
import crypto from 'node:crypto';
import { z } from 'zod';
import type { ChannelConfig } from '../runtime/config.js';
import type { InboundMessage } from '../workflows/types.js';
import { callPlatform, type JsonResponse } from './http.js';
import { splitByBytes } from './split.js';
import { withAccessToken } from './token-cache.js';
import { type ChannelAdapter, SendRejected, WebhookRejected } from './types.js';

type FeishuConfig = Extract<ChannelConfig, { type: 'feishu' }>;

/** Feishu re-delivers for about 7 hours, but a signed request older or newer than this is a replay. */
const MAX_SKEW_MS = 60 * 60_000;
/**
 * A text reply's request body may be at most 150 KB. The text is JSON-escaped twice (once into
 * `content`, once into the body), so a byte can grow to 7 (a control character as \\u0001): 20 000 bytes
 * of text always fit.
 */
const MAX_PART_BYTES = 20_000;
// Answers that mean the token is no longer valid (tenant token invalid, token missing, access token
// invalid), and the rate limits (the general frequency limit, IM's per-chat send limit).
const TOKEN_INVALID = new Set([99991663, 99991661, 99991668]);
const RATE_LIMITED = new Set([99991400, 230020]);

function feishuConfig(channel: ChannelConfig): FeishuConfig {
  if (channel.type !== 'feishu') throw new Error(`channel "${channel.id}" is not a feishu channel`);
  return channel;
}

/** X-Lark-Signature: plain SHA-256 (not HMAC) over timestamp ‖ nonce ‖ Encrypt Key ‖ the raw body bytes. */
export function larkSignature(timestamp: string, nonce: string, encryptKey: string, rawBody: Buffer | string): string {
  return crypto.createHash('sha256').update(timestamp + nonce + encryptKey).update(rawBody).digest('hex');
}

/** `{"encrypt"}` → plaintext: AES-256-CBC, key SHA-256(Encrypt Key), IV the first 16 bytes, standard PKCS#7. */
export function decryptEvent(encryptKey: string, encrypt: string): string {
  const raw = Buffer.from(encrypt, 'base64');
  // Buffer.from ignores what is not base64: re-encoding tells a clean ciphertext from garbage
  if (raw.length < 32 || raw.length % 16 !== 0 || raw.toString('base64') !== encrypt.replace(/\s/g, '')) {
    throw new WebhookRejected(400, 'encrypt is not valid base64 AES-CBC output');
  }
  const key = crypto.createHash('sha256').update(encryptKey).digest();
  try {
    const decipher = crypto.createDecipheriv('aes-256-cbc', key, raw.subarray(0, 16));
    return Buffer.concat([decipher.update(raw.subarray(16)), decipher.final()]).toString('utf8');
  } catch {
    throw new WebhookRejected(400, 'cannot decrypt the payload (wrong Encrypt Key?)');
  }
}

function parseJsonObject(text: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new WebhookRejected(400, `${what} is not JSON`);
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new WebhookRejected(400, `${what} is not a JSON object`);
  return value as Record<string, unknown>;
}

function sameSecret(expected: string, given: unknown): boolean {
  // hashing first gives equal lengths, so the comparison takes the same time whatever was sent
  const digest = (s: string) => crypto.createHash('sha256').update(s).digest();
  return typeof given === 'string' && crypto.timingSafeEqual(digest(expected), digest(given));
}

function checkSignature(encryptKey: string, headers: Record<string, string | undefined>, rawBody: Buffer, now: number): void {
  const timestamp = headers['x-lark-request-timestamp'];
  const nonce = headers['x-lark-request-nonce'];
  const signature = headers['x-lark-signature'];
  if (!timestamp || !nonce || !signature) throw new WebhookRejected(401, 'missing X-Lark-Request-Timestamp, X-Lark-Request-Nonce or X-Lark-Signature');
  if (!/^\d{1,12}$/.test(timestamp)) throw new WebhookRejected(401, 'X-Lark-Request-Timestamp is not a time in seconds');
  if (Math.abs(now - Number(timestamp) * 1000) > MAX_SKEW_MS) throw new WebhookRejected(401, 'stale request: timestamp is more than 1 hour from now');
  const expected = larkSignature(timestamp, nonce, encryptKey, rawBody);
  if (!/^[0-9a-f]{64}$/i.test(signature) || !crypto.timingSafeEqual(Buffer.from(expected), Buffer.from(signature.toLowerCase()))) {
    throw new WebhookRejected(401, 'X-Lark-Signature does not match');
  }
}

// The slice of an im.message.receive_v1 event imflow reads; bounded so a hostile body cannot blow up.
const id = z.string().min(1).max(256);
const mentionSchema = z.object({
  key: z.string().min(1).max(64),
  name: z.string().max(256).default(''),
  id: z.object({ open_id: z.string().max(256).optional() }).loose().default({}),
});
const messageEventSchema = z.object({
  header: z.object({ event_id: id, event_type: z.literal('im.message.receive_v1') }).loose(),
  event: z
    .object({
      sender: z.object({ sender_id: z.object({ open_id: id }).loose() }).loose(),
      message: z
        .object({
          message_id: id,
          chat_id: id,
          chat_type: z.string().max(32),
          message_type: z.string().max(32),
          content: z.string().max(200_000),
          mentions: z.array(mentionSchema).max(100).optional(),
        })
        .loose(),
    })
    .loose(),
});
type Mention = z.infer<typeof mentionSchema>;

// A post's content: paragraphs of elements, at the top level (as received) or under a language key.
const postElement = z.object({ tag: z.string(), text: z.string().optional(), user_id: z.string().optional(), user_name: z.string().optional() }).loose();
const postBody = z.object({ title: z.string().optional(), content: z.array(z.array(postElement)) }).loose();

/** Text of a post: title and paragraphs, one per line, from its text, link and @ elements. */
function postText(content: unknown, mentionText: (key: string, fallbackName?: string) => string): string {
  const direct = postBody.safeParse(content);
  const byLanguage = direct.success ? undefined : Object.values((content ?? {}) as object).map((v) => postBody.safeParse(v)).find((r) => r.success);
  const post = direct.success ? direct.data : byLanguage?.data;
  if (!post) throw new WebhookRejected(400, 'post content has no paragraphs');
  const lines = post.content.map((paragraph) =>
    paragraph
      .map((el) => (el.tag === 'text' || el.tag === 'a' ? (el.text ?? '') : el.tag === 'at' ? mentionText(el.user_id ?? '', el.user_name) : ''))
      .join(''),
  );
  return [post.title ?? '', ...lines].filter((l) => l.trim()).join('\n');
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function toMessage(channel: FeishuConfig, event: z.infer<typeof messageEventSchema>, now: number): InboundMessage | string {
  const { message, sender } = event.event;
  if (message.message_type !== 'text' && message.message_type !== 'post') return `message type "${message.message_type}" is not handled`;
  const chatType = message.chat_type === 'p2p' ? 'direct' : 'group';
  const mentions = message.mentions ?? [];
  const isBot = (m: Mention) => channel.botOpenId !== undefined && m.id.open_id === channel.botOpenId;
  const byKey = new Map(mentions.map((m) => [m.key, m]));
  // The bot's own @ is dropped; anyone else's reads as "@Name", as the sender saw it.
  const mentionText = (key: string, fallbackName?: string) => {
    const m = byKey.get(key);
    if (m && isBot(m)) return '';
    const name = m?.name || fallbackName;
    return name ? `@${name}` : key;
  };

  const content = parseJsonObject(message.content, 'message.content');
  let text: string;
  if (message.message_type === 'text') {
    if (typeof content.text !== 'string') throw new WebhookRejected(400, 'text message content has no "text"');
    text = content.text;
    if (byKey.size) {
      // longest first, so @_user_1 does not eat the start of @_user_10
      const keys = [...byKey.keys()].sort((a, b) => b.length - a.length).map(escapeRegExp);
      text = text.replace(new RegExp(`(${keys.join('|')})( ?)`, 'g'), (_all, key: string, space: string) => {
        const replaced = mentionText(key);
        return replaced ? replaced + space : '';
      });
    }
  } else {
    text = postText(content, mentionText);
  }

  // Without botOpenId the bot cannot be told from other people: Feishu only pushes group messages that
  // @ the bot (unless the app may read all group messages), so any @ counts as addressing it.
  const mentioned = chatType === 'direct' || (channel.botOpenId !== undefined ? mentions.some(isBot) : mentions.length > 0);
  return {
    channelId: channel.id,
    channelType: 'feishu',
    platformMessageId: event.header.event_id,
    conversationId: message.chat_id,
    chatType,
    senderId: sender.sender_id.open_id,
    text: text.trim(),
    mentioned,
    receivedAt: now,
    replyTarget: { messageId: message.message_id },
  };
}

/**
 * The reply `uuid` (Feishu sends at most one message per uuid within 1 hour) for part `part` of a run's
 * answer. The run's key can be long and Feishu takes at most 50 characters, so it is hashed: the same run
 * always sends the same 36-character uuids.
 */
export function replyUuid(idempotencyKey: string, part: number): string {
  const h = crypto.createHash('sha256').update(`${idempotencyKey}#${part}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

interface FeishuAnswer {
  code?: unknown;
  msg?: unknown;
  [k: string]: unknown;
}

/**
 * Feishu answers errors as a code in the JSON body, usually with HTTP 400: an invalid token asks for one
 * refresh, a rate limit is transient (Temporal retries), anything else is a refusal.
 */
function classify(where: string, res: JsonResponse<FeishuAnswer>, tokenMayExpire: boolean): FeishuAnswer | 'expired' {
  const code = typeof res.body?.code === 'number' ? res.body.code : undefined;
  const msg = typeof res.body?.msg === 'string' ? res.body.msg.slice(0, 200) : '';
  if (code === 0 && res.status < 400) return res.body;
  if (code !== undefined && tokenMayExpire && TOKEN_INVALID.has(code)) return 'expired';
  if (res.status === 429 || (code !== undefined && RATE_LIMITED.has(code))) throw new Error(`${where}: rate limited (code ${code ?? '-'}) ${msg}`.trim());
  if (code === undefined && res.status < 400) throw new Error(`${where}: unexpected answer without a code (HTTP ${res.status})`);
  throw new SendRejected(`${where}: code ${code ?? '-'} ${msg}`.trim(), res.status);
}

async function issueToken(channel: FeishuConfig) {
  if (!channel.appId || !channel.appSecret) throw new SendRejected(`channel "${channel.id}" has no appId/appSecret to send with`);
  const res = await callPlatform<FeishuAnswer>(`${channel.apiBase}/open-apis/auth/v3/tenant_access_token/internal`, {
    body: { app_id: channel.appId, app_secret: channel.appSecret },
    returnClientErrors: true,
  });
  const body = classify('tenant_access_token', res, false) as FeishuAnswer;
  if (typeof body.tenant_access_token !== 'string' || typeof body.expire !== 'number') throw new Error('tenant_access_token: answer without token or expire');
  return { token: body.tenant_access_token, expiresInSec: body.expire };
}

export const feishuChannel: ChannelAdapter<Record<string, unknown>> = {
  type: 'feishu',

  verify(channel, req, now) {
    const cfg = feishuConfig(channel);
    const body = parseJsonObject(req.rawBody.toString('utf8'), 'body');
    let payload = body;
    if (cfg.encryptKey) {
      if (typeof body.encrypt !== 'string') throw new WebhookRejected(401, 'plain body, but this channel has an Encrypt Key: Feishu would have encrypted it');
      // Feishu sends its URL-verification challenge encrypted but unsigned; every event is signed.
      const signed = ['x-lark-request-timestamp', 'x-lark-request-nonce', 'x-lark-signature'].some((h) => req.headers[h] !== undefined);
      if (signed) checkSignature(cfg.encryptKey, req.headers, req.rawBody, now);
      payload = parseJsonObject(decryptEvent(cfg.encryptKey, body.encrypt), 'decrypted payload');
      if (!signed && payload.type !== 'url_verification') throw new WebhookRejected(401, 'missing X-Lark-Request-Timestamp, X-Lark-Request-Nonce or X-Lark-Signature');
    } else if (typeof body.encrypt === 'string') {
      throw new WebhookRejected(400, 'encrypted body, but this channel has no encryptKey configured');
    }
    if (cfg.verificationToken) {
      const header = payload.header as Record<string, unknown> | undefined;
      const token = payload.schema === '2.0' ? header?.token : payload.token;
      if (!sameSecret(cfg.verificationToken, token)) throw new WebhookRejected(401, 'verification token does not match');
    }
    return payload;
  },

  receive(channel, payload, now) {
    const cfg = feishuConfig(channel);
    if (payload.type === 'url_verification') {
      if (typeof payload.challenge !== 'string' || payload.challenge.length > 1024) throw new WebhookRejected(400, 'url_verification without a challenge');
      return { messages: [], response: { status: 200, body: { challenge: payload.challenge } } };
    }
    const ack = { status: 200, body: {} };
    const header = payload.header as Record<string, unknown> | undefined;
    const eventType = payload.schema === '2.0' ? header?.event_type : (payload.event as Record<string, unknown> | undefined)?.type;
    if (typeof eventType !== 'string') throw new WebhookRejected(400, 'not a Feishu event: no schema 2.0 header.event_type or v1 event.type');
    if (payload.schema !== '2.0' || eventType !== 'im.message.receive_v1') {
      return { messages: [], response: ack, unhandled: `event type "${eventType.slice(0, 100)}" is not handled` };
    }
    const event = messageEventSchema.safeParse(payload);
    if (!event.success) throw new WebhookRejected(400, `im.message.receive_v1: ${event.error.issues[0]!.path.join('.')}: ${event.error.issues[0]!.message}`);
    const msg = toMessage(cfg, event.data, now);
    return typeof msg === 'string' ? { messages: [], response: ack, unhandled: msg } : { messages: [msg], response: ack };
  },

  async send(channel, to, reply, { kv }) {
    const cfg = feishuConfig(channel);
    const messageId = to.replyTarget?.messageId;
    // An answer replies to its message. Without one (an alert to a configured chat) the message goes to the
    // chat itself: a group by chat_id, a person by open_id.
    const [where, url, receiver] = messageId
      ? ['im/v1/messages/reply', `${cfg.apiBase}/open-apis/im/v1/messages/${encodeURIComponent(messageId)}/reply`, {}]
      : to.chatType === 'group'
        ? ['im/v1/messages', `${cfg.apiBase}/open-apis/im/v1/messages?receive_id_type=chat_id`, { receive_id: to.conversationId }]
        : ['im/v1/messages', `${cfg.apiBase}/open-apis/im/v1/messages?receive_id_type=open_id`, { receive_id: to.senderId }];
    // In a group the answer @-mentions the asker, so they are notified among everyone else's messages.
    const mention = messageId && to.chatType === 'group' && /^[\w-]{1,128}$/.test(to.senderId) ? `<at user_id="${to.senderId}"></at> ` : '';
    const text = withButtons(reply.text, reply.buttons, 'plain');
    const parts = splitByBytes(text, MAX_PART_BYTES);
    let platformMessageId: string | undefined;
    for (const [i, part] of parts.entries()) {
      const body = {
        ...receiver,
        msg_type: 'text',
        content: JSON.stringify({ text: i === 0 ? mention + part : part }),
        // per part, so a retry after a partial send re-sends nothing Feishu already has
        uuid: replyUuid(reply.idempotencyKey, i),
      };
      platformMessageId = await withAccessToken(kv, `feishu:${cfg.id}`, () => issueToken(cfg), async (token) => {
        const res = await callPlatform<FeishuAnswer>(url, {
          body,
          headers: { authorization: `Bearer ${token}` },
          returnClientErrors: true,
        });
        const answer = classify(where, res, true);
        if (answer === 'expired') return 'expired';
        const data = answer.data as { message_id?: unknown } | undefined;
        return typeof data?.message_id === 'string' ? data.message_id : undefined;
      });
    }
    return { platformMessageId };
  },
};
