// DingTalk (钉钉): enterprise robot HTTP callbacks (headers `timestamp` + `sign`) and the encrypted event
// subscription (query `msg_signature`, body `{"encrypt"}`), both on POST /webhooks/dingtalk/:channelId.
// Answers go through the message's sessionWebhook while it lives, else through the robot OpenAPI.
// Wire formats: /work/shared/docs/protocols.md §1; admin guide: docs/channels/dingtalk.md.
import { withButtons } from './buttons.js';
import crypto from 'node:crypto';
import { z } from 'zod';
import type { ChannelConfig } from '../runtime/config.js';
import type { KeyValueStore } from '../runtime/kv.js';
import type { InboundMessage } from '../workflows/types.js';
import { callPlatform } from './http.js';
import { checkSignature, openMessage, sealMessage } from './msg-crypto.js';
import { partProgress } from './parts.js';
import { splitByBytes } from './split.js';
import { withAccessToken } from './token-cache.js';
import { type ChannelAdapter, type Received, SendRejected, WebhookRejected } from './types.js';

type DingTalkChannel = Extract<ChannelConfig, { type: 'dingtalk' }>;

/** DingTalk's own window for robot callbacks: a request signed more than an hour away from now is refused. */
const MAX_SKEW_MS = 60 * 60_000;
/** A session webhook this close to its expiry is not used: the send could land after it died. */
const WEBHOOK_MARGIN_MS = 60_000;
/** Bytes of answer per message. OpenAPI caps msgParam at 15,000 bytes; JSON escaping can double a part. */
const PART_BYTES = 6000;
const MAX_TEXT = 16_000;
/** sendBySession errcodes worth retrying: system busy, global/app QPS limits, robot "send too fast". */
const RETRYABLE_ERRCODES = new Set([-1, 90002, 90018, 130101]);
/** sendBySession: "session 不存在" — the webhook died early; the OpenAPI can still deliver. */
const SESSION_GONE = 300001;

const id = (max: number) => z.string().min(1).max(max);
const robotBody = z.looseObject({
  msgtype: id(64),
  msgId: id(256),
  conversationId: id(256),
  conversationType: z.enum(['1', '2']),
  senderStaffId: id(128).optional(),
  senderId: id(256).optional(),
  senderNick: z.string().max(200).optional(),
  isInAtList: z.boolean().optional(),
  sessionWebhook: z.url({ protocol: /^https?$/ }).max(2048).optional(),
  sessionWebhookExpiredTime: z.number().int().nonnegative().optional(),
  robotCode: id(200).optional(),
  text: z.looseObject({ content: z.string().max(MAX_TEXT * 4) }).optional(),
  // picture, file, audio… carry other shapes under `content`; only richText's text parts matter here
  content: z.looseObject({ richText: z.array(z.looseObject({ text: z.string().max(MAX_TEXT * 4).optional() })).max(500).optional() }).optional(),
});
const eventBody = z.looseObject({ EventType: id(128) });
const encryptedBody = z.looseObject({ encrypt: z.string().min(1) });

/** A verified robot message body or decrypted event: what receive() accepts, also straight from the sandbox. */
export type DingTalkPayload = Record<string, unknown>;

export const dingtalkChannel: ChannelAdapter<DingTalkPayload> = {
  type: 'dingtalk',

  verify(channel, req, now) {
    const ch = asDingTalk(channel);
    if (req.method !== 'POST') throw new WebhookRejected(404, 'DingTalk calls back with POST only');
    const signature = req.query.msg_signature ?? req.query.signature;
    if (signature !== undefined) return verifyEvent(ch, req.query, signature, req.rawBody, now);
    const sign = req.headers.sign;
    if (sign !== undefined) return verifyRobot(ch, req.headers.timestamp, sign, req.rawBody, now);
    throw new WebhookRejected(401, 'unsigned request: expected a "sign" header (robot) or a "msg_signature" query parameter (events)');
  },

  receive(channel, payload, now) {
    const ch = asDingTalk(channel);
    if (payload && typeof payload === 'object' && 'EventType' in payload) return receiveEvent(ch, payload, now);
    return receiveRobot(ch, payload, now);
  },

  async send(channel, to, reply, { kv }) {
    const ch = asDingTalk(channel);
    const target = to.replyTarget ?? {};
    const text = withButtons(reply.text, reply.buttons, 'dingtalk');
    const parts = splitByBytes(text, PART_BYTES);
    const progress = await partProgress(kv, reply.idempotencyKey, text, parts.length);
    let webhookAlive = true;
    let platformMessageId: string | undefined;
    for (let i = progress.sent.length; i < parts.length; i++) {
      const msg = formatPart(parts[i]!);
      // @ the sender once, on the first part, so a long answer does not notify them repeatedly
      const at = to.chatType === 'group' && i === 0 ? target.senderStaffId : undefined;
      const sent = webhookAlive && usableWebhook(target) ? await sendBySession(target.sessionWebhook!, msg, at) : 'gone';
      if (sent === 'gone') {
        webhookAlive = false;
        platformMessageId = await sendByOpenApi(ch, to, msg, kv);
      }
      await progress.record(platformMessageId ?? '');
    }
    return { platformMessageId };
  },
};

function asDingTalk(channel: ChannelConfig): DingTalkChannel {
  if (channel.type !== 'dingtalk') throw new Error(`channel "${channel.id}" is not a DingTalk channel`);
  return channel;
}

function parseJson(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    throw new WebhookRejected(400, 'body is not valid JSON');
  }
}

function checkTimestamp(timestamp: string | undefined, now: number): void {
  if (!timestamp || !/^\d{10,16}$/.test(timestamp)) throw new WebhookRejected(401, 'missing or malformed timestamp (ms since epoch)');
  if (Math.abs(now - Number(timestamp)) > MAX_SKEW_MS) throw new WebhookRejected(401, 'stale timestamp');
}

/** Robot callback: sign = base64(HMAC-SHA256(appSecret, timestamp + "\n" + appSecret)), compared in constant time. */
function verifyRobot(ch: DingTalkChannel, timestamp: string | undefined, sign: string, rawBody: Buffer, now: number): DingTalkPayload {
  if (!ch.appSecret) throw new WebhookRejected(401, 'robot callbacks need the channel\'s appSecret, which is not configured');
  checkTimestamp(timestamp, now);
  const expected = Buffer.from(crypto.createHmac('sha256', ch.appSecret).update(`${timestamp}\n${ch.appSecret}`).digest('base64'));
  const given = Buffer.from(sign);
  if (given.length !== expected.length || !crypto.timingSafeEqual(given, expected)) throw new WebhookRejected(401, 'sign does not match');
  const body = parseJson(rawBody);
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new WebhookRejected(400, 'body is not a JSON object');
  return body as DingTalkPayload;
}

/** Event subscription: sha1 signature over token/timestamp/nonce/ciphertext, AES payload sealed for our appKey. */
function verifyEvent(
  ch: DingTalkChannel,
  query: Record<string, string | undefined>,
  signature: string,
  rawBody: Buffer,
  now: number,
): DingTalkPayload {
  if (!ch.token || !ch.aesKey || !ch.appKey) {
    throw new WebhookRejected(401, 'encrypted events need the channel\'s token, aesKey and appKey, which are not all configured');
  }
  const timestamp = query.timestamp ?? query.timeStamp;
  checkTimestamp(timestamp, now);
  const nonce = query.nonce;
  if (!nonce || nonce.length > 128) throw new WebhookRejected(401, 'missing or malformed nonce');
  const envelope = encryptedBody.safeParse(parseJson(rawBody));
  if (!envelope.success) throw new WebhookRejected(400, 'body has no "encrypt" string');
  checkSignature(ch.token, timestamp!, nonce, envelope.data.encrypt, signature);
  const plain = openMessage(ch.aesKey, envelope.data.encrypt, ch.appKey);
  try {
    return JSON.parse(plain) as DingTalkPayload;
  } catch {
    throw new WebhookRejected(400, 'decrypted payload is not JSON');
  }
}

function receiveEvent(ch: DingTalkChannel, payload: object, now: number): Received {
  const event = eventBody.safeParse(payload);
  if (!event.success) throw new WebhookRejected(400, `payload.${issuePath(event.error)}`);
  // A robot message never arrives as an event (robots call back with sign headers), so nothing here is a message.
  return {
    messages: [],
    response: { status: 200, body: successAck(ch, now) },
    ...(event.data.EventType === 'check_url' ? {} : { unhandled: `event "${event.data.EventType}" is not handled` }),
  };
}

/** The encrypted "success" DingTalk expects for every event, URL verification included. */
function successAck(ch: DingTalkChannel, now: number): Record<string, string> {
  // verify() only lets events through on channels with all three keys; a sandbox run may lack them
  if (!ch.token || !ch.aesKey || !ch.appKey) return {};
  const timeStamp = String(now);
  const nonce = crypto.randomBytes(8).toString('hex');
  const sealed = sealMessage(ch.token, ch.aesKey, ch.appKey, 'success', timeStamp, nonce);
  return { msg_signature: sealed.signature, timeStamp, nonce, encrypt: sealed.encrypt };
}

function receiveRobot(ch: DingTalkChannel, payload: unknown, now: number): Received {
  const parsed = robotBody.safeParse(payload);
  if (!parsed.success) throw new WebhookRejected(400, `payload.${issuePath(parsed.error)}`);
  const b = parsed.data;
  const ack = { status: 200, body: {} };
  const senderId = b.senderStaffId ?? b.senderId;
  if (!senderId) throw new WebhookRejected(400, 'payload: neither senderStaffId nor senderId');
  if (b.sessionWebhook && !isSessionWebhook(ch, b.sessionWebhook)) {
    // The robot sign covers only the timestamp, not the body: never POST answers to a URL a body names freely.
    throw new WebhookRejected(400, 'payload.sessionWebhook: not a sendBySession URL under the channel\'s oapiBase');
  }

  let text: string;
  if (b.msgtype === 'text' && b.text) text = b.text.content;
  else if (b.msgtype === 'richText' && b.content?.richText) text = b.content.richText.map((p) => p.text ?? '').join('');
  else return { messages: [], response: ack, unhandled: `msgtype "${b.msgtype}" is not handled (only text and richText)` };
  text = text.trim(); // group messages arrive with a leading space where the @mention was
  if (text.length > MAX_TEXT) return { messages: [], response: ack, unhandled: `text is longer than ${MAX_TEXT} characters` };

  const chatType = b.conversationType === '2' ? 'group' : 'direct';
  const replyTarget: Record<string, string> = { conversationType: b.conversationType };
  if (b.sessionWebhook) replyTarget.sessionWebhook = b.sessionWebhook;
  if (b.sessionWebhookExpiredTime !== undefined) replyTarget.sessionWebhookExpiredTime = String(b.sessionWebhookExpiredTime);
  if (b.senderStaffId) replyTarget.senderStaffId = b.senderStaffId;
  if (b.robotCode) replyTarget.robotCode = b.robotCode;
  const message: InboundMessage = {
    channelId: ch.id,
    channelType: 'dingtalk',
    platformMessageId: b.msgId,
    conversationId: b.conversationId,
    chatType,
    senderId,
    ...(b.senderNick ? { senderName: b.senderNick } : {}),
    text,
    mentioned: chatType === 'direct' || b.isInAtList === true,
    receivedAt: now,
    replyTarget,
  };
  return { messages: [message], response: ack };
}

function issuePath(err: z.ZodError): string {
  const issue = err.issues[0]!;
  return `${issue.path.join('.')}: ${issue.message}`;
}

function isSessionWebhook(ch: DingTalkChannel, url: string): boolean {
  const u = new URL(url);
  const base = new URL(ch.oapiBase);
  return u.origin === base.origin && u.pathname === `${base.pathname.replace(/\/$/, '')}/robot/sendBySession`;
}

function usableWebhook(target: Record<string, string>): boolean {
  const expires = Number(target.sessionWebhookExpiredTime);
  return !!target.sessionWebhook && Number.isFinite(expires) && expires - WEBHOOK_MARGIN_MS > Date.now();
}

interface OutboundPart {
  kind: 'text' | 'markdown';
  text: string;
  title: string;
}

// Headings, lists, quotes, code fences, tables, bold, links: an answer written in Markdown is sent as
// markdown (rendered); anything else as plain text, whose line breaks DingTalk keeps as written.
const MARKDOWN = /^(#{1,6} |\s*[-*+] |\s*\d+\. |> |```|\|.*\|\s*$)|\*\*[^*\n]+\*\*|\[[^\]\n]+\]\([^)\s]+\)/m;

function formatPart(text: string): OutboundPart {
  if (!MARKDOWN.test(text)) return { kind: 'text', text, title: '' };
  const firstLine = text.split('\n').find((l) => l.trim()) ?? '';
  const title = firstLine.replace(/^\s*(#{1,6}\s+|>\s*|[-*+]\s+|\d+\.\s+|```\w*)/, '').replace(/[*_`|]/g, '').trim().slice(0, 30) || '回复';
  return { kind: 'markdown', text, title };
}

/** Sends one part through the session webhook; 'gone' when DingTalk no longer knows the session. */
async function sendBySession(url: string, part: OutboundPart, atStaffId: string | undefined): Promise<'sent' | 'gone'> {
  const at = atStaffId ? { at: { atUserIds: [atStaffId], isAtAll: false } } : {};
  // markdown only notifies the @-ed user when "@staffId" also appears in the text
  const body =
    part.kind === 'text'
      ? { msgtype: 'text', text: { content: part.text }, ...at }
      : { msgtype: 'markdown', markdown: { title: part.title, text: atStaffId ? `@${atStaffId}\n\n${part.text}` : part.text }, ...at };
  const res = await callPlatform<{ errcode?: unknown; errmsg?: unknown }>(url, { body });
  const errcode = typeof res.body === 'object' && res.body ? res.body.errcode : undefined;
  if (errcode === 0) return 'sent';
  if (errcode === SESSION_GONE) return 'gone';
  const what = `sendBySession: errcode ${String(errcode)} ${String(res.body?.errmsg ?? '').slice(0, 200)}`;
  if (typeof errcode !== 'number' || RETRYABLE_ERRCODES.has(errcode)) throw new Error(what);
  throw new SendRejected(what);
}

/** Proactive send through the robot OpenAPI with an app access token (cached, refreshed once when rejected). */
async function sendByOpenApi(ch: DingTalkChannel, to: InboundMessage, part: OutboundPart, kv: KeyValueStore): Promise<string | undefined> {
  const target = to.replyTarget ?? {};
  const robotCode = ch.robotCode ?? target.robotCode ?? ch.appKey;
  if (!ch.appKey || !ch.appSecret || !robotCode) {
    throw new SendRejected('the session webhook has expired and the channel has no appKey/appSecret for proactive sends');
  }
  const msgKey = part.kind === 'text' ? 'sampleText' : 'sampleMarkdown';
  const msgParam = JSON.stringify(part.kind === 'text' ? { content: part.text } : { title: part.title, text: part.text });
  let path: string;
  let body: Record<string, unknown>;
  if (to.chatType === 'group') {
    path = '/v1.0/robot/groupMessages/send';
    body = { robotCode, openConversationId: to.conversationId, msgKey, msgParam };
  } else {
    path = '/v1.0/robot/oToMessages/batchSend';
    body = { robotCode, userIds: [staffIdOf(to)], msgKey, msgParam };
  }
  const url = new URL(path, ch.apiBase).toString();
  const appKey = ch.appKey;
  const appSecret = ch.appSecret;

  const res = await withAccessToken(
    kv,
    `dingtalk:${ch.id}`,
    async () => {
      const t = await callPlatform<{ accessToken?: unknown; expireIn?: unknown }>(new URL('/v1.0/oauth2/accessToken', ch.apiBase).toString(), {
        body: { appKey, appSecret },
      });
      if (typeof t.body?.accessToken !== 'string' || typeof t.body.expireIn !== 'number') throw new Error('oauth2/accessToken: no accessToken in the answer');
      return { token: t.body.accessToken, expiresInSec: t.body.expireIn };
    },
    async (token) => {
      // the OpenAPI puts its reason in a 4xx JSON body ({"code":"InvalidAuthentication",…}): read it
      const r = await callPlatform(url, { body, headers: { 'x-acs-dingtalk-access-token': token }, returnClientErrors: true });
      if (r.status < 400) return r.body;
      const code = typeof r.body?.code === 'string' ? r.body.code : undefined;
      if (r.status === 401 || code === 'InvalidAuthentication') return 'expired' as const;
      if (code?.startsWith('Forbidden.AccessDenied.QpsLimit')) throw new Error(`${path}: rate limited (${code})`);
      throw new SendRejected(`${path}: HTTP ${r.status}: ${code ?? 'error'}: ${String(r.body?.message ?? '').slice(0, 200)}`, r.status);
    },
  );
  const staffId = to.chatType === 'group' ? target.senderStaffId : staffIdOf(to);
  if (staffId && Array.isArray(res?.flowControlledStaffIdList) && res.flowControlledStaffIdList.includes(staffId)) {
    throw new Error(`${path}: sender is flow-controlled, try again later`);
  }
  if (staffId && Array.isArray(res?.invalidStaffIdList) && res.invalidStaffIdList.includes(staffId)) {
    throw new SendRejected(`${path}: the robot cannot reach this user (invalidStaffIdList)`);
  }
  return typeof res?.processQueryKey === 'string' ? res.processQueryKey : undefined;
}

/** Whom a direct message goes to: the inbound sender's staffId, or (proactive sends such as alerts) its senderId. */
function staffIdOf(to: InboundMessage): string {
  return to.replyTarget?.senderStaffId ?? to.senderId;
}
