// WeCom (企业微信) self-built app: encrypted XML callbacks in, `message/send` out (protocols.md §3.1).
import { withButtons } from './buttons.js';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { z } from 'zod';
import type { ChannelConfig } from '../runtime/config.js';
import { callPlatform } from './http.js';
import { checkSignature, openMessage } from './msg-crypto.js';
import { partProgress } from './parts.js';
import { splitByBytes } from './split.js';
import { withAccessToken, type IssuedToken } from './token-cache.js';
import { type ChannelAdapter, SendRejected, WebhookRejected } from './types.js';

/**
 * What verify() hands to receive(): the decrypted callback's top-level XML fields, or the decrypted
 * echostr of a URL verification. The sandbox may pass the same fields as JSON (numbers allowed).
 */
export type WecomPayload = { echostr: string } | Record<string, unknown>;

/** WeCom text messages carry at most 2048 bytes; longer answers go out as several text messages. */
export const TEXT_LIMIT_BYTES = 2048;
/** WeCom signs the timestamp; refusing old ones bounds how long a captured callback can be replayed. */
const MAX_CLOCK_SKEW_SEC = 3600;
/** Token codes that mean "get a new token and try again" (WxJava's ACCESS_TOKEN_ERROR_CODES): 42001 expired, 40014 invalid, 40001 invalid credential. */
const TOKEN_EXPIRED = new Set([40001, 40014, 42001]);
/** -1 system busy, 45009 call frequency limit, 45033 concurrency limit: worth retrying later. */
const RETRYABLE = new Set([-1, 45009, 45033]);

// CDATA is merged into the text; tag values stay strings (MsgId exceeds 2^53); only XML's five built-in
// entities are decoded, since a DOCTYPE (the only source of custom entities) is refused before parsing.
const xml = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  processEntities: true,
  htmlEntities: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
});

const id = z.union([z.string(), z.number().int()]).transform(String).pipe(z.string().regex(/^[^\s:]{1,128}$/, 'no spaces or ":" (max 128)'));
const messageFields = z.looseObject({
  MsgType: z.string().min(1).max(64),
  FromUserName: id.optional(),
  MsgId: id.optional(),
  AgentID: id.optional(),
  Content: z.string().max(16_000).optional(),
  Event: z.string().max(64).optional(),
});

function callbackKeys(channel: ChannelConfig) {
  if (channel.type !== 'wecom' || !channel.token || !channel.encodingAESKey || !channel.corpId) {
    throw new WebhookRejected(404, `channel "${channel.id}" has no WeCom callback configured (token, encodingAESKey and corpId)`);
  }
  return { token: channel.token, key: channel.encodingAESKey, corpId: channel.corpId, agentId: channel.agentId };
}

/** The `<xml>` root's fields. WeCom never sends a DOCTYPE, so one is refused rather than expanded. */
function parseXml(text: string, what: string): Record<string, unknown> {
  if (/<!DOCTYPE|<!ENTITY/i.test(text)) throw new WebhookRejected(400, `${what}: DOCTYPE and ENTITY declarations are not accepted`);
  const valid = XMLValidator.validate(text);
  if (valid !== true) throw new WebhookRejected(400, `${what} is not well-formed XML: ${valid.err.msg} (line ${valid.err.line})`);
  const root = xml.parse(text)?.xml;
  if (!root || typeof root !== 'object' || Array.isArray(root)) throw new WebhookRejected(400, `${what} has no <xml> root element`);
  return root;
}

function checkTimestamp(timestamp: string | undefined, now: number): string {
  if (!timestamp || !/^\d{1,12}$/.test(timestamp)) throw new WebhookRejected(400, 'timestamp query parameter missing or not a number');
  if (Math.abs(now / 1000 - Number(timestamp)) > MAX_CLOCK_SKEW_SEC) throw new WebhookRejected(401, 'timestamp is more than 1 hour away from now');
  return timestamp;
}

export const wecomChannel: ChannelAdapter<WecomPayload> = {
  type: 'wecom',

  verify(channel, req, now) {
    const { token, key, corpId, agentId } = callbackKeys(channel);
    const timestamp = checkTimestamp(req.query.timestamp, now);
    const nonce = req.query.nonce;
    if (!nonce || nonce.length > 128) throw new WebhookRejected(400, 'nonce query parameter missing or too long');

    if (req.method === 'GET') {
      // echostr is base64: a "+" sent unencoded arrives as a space after URL decoding; base64 has no spaces
      const echostr = req.query.echostr?.replaceAll(' ', '+');
      if (!echostr || echostr.length > 1024) throw new WebhookRejected(400, 'echostr query parameter missing or too long');
      checkSignature(token, timestamp, nonce, echostr, req.query.msg_signature);
      return { echostr: openMessage(key, echostr, corpId) };
    }

    const envelope = parseXml(req.rawBody.toString('utf8'), 'request body');
    if (typeof envelope.Encrypt !== 'string' || !envelope.Encrypt) throw new WebhookRejected(400, 'request body has no <Encrypt> element');
    checkSignature(token, timestamp, nonce, envelope.Encrypt, req.query.msg_signature);
    const inner = parseXml(openMessage(key, envelope.Encrypt, corpId), 'decrypted message');
    // one app's token and key normally differ from another's; this catches a copy-pasted configuration
    if (agentId !== undefined && inner.AgentID !== undefined && String(inner.AgentID) !== String(agentId)) {
      throw new WebhookRejected(401, `message is for AgentID ${String(inner.AgentID)}, not this channel's app`);
    }
    return inner;
  },

  receive(channel, payload, now) {
    const ack = { status: 200 }; // empty body: no passive reply, the answer follows through message/send
    if (typeof payload.echostr === 'string' && Object.keys(payload).length === 1) {
      return { messages: [], response: { status: 200, body: payload.echostr, contentType: 'text/plain' } };
    }
    const p = messageFields.safeParse(payload);
    if (!p.success) throw new WebhookRejected(400, `message ${p.error.issues[0]!.path.join('.')}: ${p.error.issues[0]!.message}`);
    const m = p.data;
    if (m.MsgType === 'event') return { messages: [], response: ack, unhandled: `event "${m.Event ?? '?'}"` };
    if (m.MsgType !== 'text') return { messages: [], response: ack, unhandled: `MsgType "${m.MsgType}"` };
    if (!m.FromUserName || !m.MsgId || m.Content === undefined) throw new WebhookRejected(400, 'text message without FromUserName, MsgId or Content');
    const agentId = m.AgentID ?? (channel.type === 'wecom' && channel.agentId !== undefined ? String(channel.agentId) : undefined);
    return {
      messages: [
        {
          channelId: channel.id,
          channelType: 'wecom',
          platformMessageId: m.MsgId,
          conversationId: m.FromUserName, // app messages are one-to-one: the user is the conversation
          chatType: 'direct',
          senderId: m.FromUserName,
          text: m.Content,
          mentioned: true,
          receivedAt: now,
          replyTarget: { toUser: m.FromUserName, ...(agentId ? { agentId } : {}) },
        },
      ],
      response: ack,
    };
  },

  async send(channel, to, reply, { kv }) {
    if (channel.type !== 'wecom' || !channel.corpId || !channel.secret) throw new SendRejected(`channel "${channel.id}" has no WeCom corpId and secret configured`);
    const agentId = Number(to.replyTarget?.agentId ?? channel.agentId);
    if (!Number.isSafeInteger(agentId)) throw new SendRejected(`channel "${channel.id}" has no WeCom agentId configured`);
    const touser = to.replyTarget?.toUser ?? to.senderId;
    // Plain text (not markdown): it renders everywhere, including WeChat for users of the WeChat plugin.
    const text = withButtons(reply.text, reply.buttons, 'plain');
    const parts = splitByBytes(text, TEXT_LIMIT_BYTES);
    if (!parts.length) throw new SendRejected('the answer is empty: nothing to send');
    const base = channel.apiBase.replace(/\/+$/, '');
    const progress = await partProgress(kv, reply.idempotencyKey, text, parts.length);

    const msgIds = await withAccessToken(kv, `wecom:${channel.id}`, () => issueToken(base, channel.corpId!, channel.secret!), async (token) => {
      for (let i = progress.sent.length; i < parts.length; i++) {
        const res = await callPlatform(`${base}/cgi-bin/message/send?access_token=${encodeURIComponent(token)}`, {
          body: { touser, msgtype: 'text', agentid: agentId, text: { content: parts[i] }, safe: 0 },
        });
        const errcode = errcodeOf(res.body, 'message/send');
        if (TOKEN_EXPIRED.has(errcode)) return 'expired';
        if (errcode !== 0) throw platformError('message/send', res.body);
        if (String(res.body.invaliduser ?? '').toLowerCase().split('|').includes(touser.toLowerCase())) {
          throw new SendRejected(`message/send: user "${touser}" does not exist or is outside the app's visible range`);
        }
        await progress.record(String(res.body.msgid ?? ''));
      }
      return progress.sent;
    });
    return { platformMessageId: msgIds.join(',') };
  },
};

/** The corpsecret travels in the query string, so errors name the path only (callPlatform does) and never the URL. */
async function issueToken(base: string, corpId: string, secret: string): Promise<IssuedToken> {
  const res = await callPlatform(`${base}/cgi-bin/gettoken?corpid=${encodeURIComponent(corpId)}&corpsecret=${encodeURIComponent(secret)}`);
  if (errcodeOf(res.body, 'gettoken') !== 0) throw platformError('gettoken', res.body);
  if (typeof res.body.access_token !== 'string' || !res.body.access_token) throw new Error('gettoken: answer without access_token');
  return { token: res.body.access_token, expiresInSec: Number(res.body.expires_in) || 7200 };
}

/** A 200 without a JSON errcode is not WeCom speaking (a proxy's page): transient. */
function errcodeOf(body: unknown, what: string): number {
  const errcode = (body as { errcode?: unknown } | null)?.errcode;
  if (typeof errcode !== 'number') throw new Error(`${what}: unexpected response without errcode`);
  return errcode;
}

function platformError(what: string, body: { errcode?: number; errmsg?: unknown }): Error {
  const message = `${what}: errcode ${body.errcode}${body.errmsg ? ` (${String(body.errmsg).slice(0, 200)})` : ''}`;
  return RETRYABLE.has(body.errcode!) ? new Error(message) : new SendRejected(message);
}
