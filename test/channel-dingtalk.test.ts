import crypto from 'node:crypto';
import { decrypt, encrypt, getSignature } from '@wecom/crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { dingtalkChannel } from '../channels/dingtalk.js';
import { sealMessage } from '../channels/msg-crypto.js';
import { SendRejected, type WebhookRequest } from '../channels/types.js';
import { channelSchema, type ChannelConfig } from '../runtime/config.js';
import { memoryStore } from '../runtime/kv.js';
import type { InboundMessage } from '../workflows/types.js';
import { startFakeDingTalk, type FakeDingTalk } from './fakes/dingtalk-server.js';
import { startStack, uniq, waitFor, type Stack } from './helpers/stack.js';
import { rejection } from './helpers/rejection.js';

// Official vector (open-dingtalk/DingTalk-Callback-Crypto, DingCallbackCrypto3.py) and protocols.md §4.
const V = {
  token: 'mryue',
  aesKey: 'Yue0EfdN5900c1ce5cf6A152c63DDe1808a60c5ecd7',
  ownerKey: 'ding6ccabc44d2c8d38b',
  signature: '03044561471240d4a14bb09372dfcfd4fd0e40cb',
  timestamp: '1608001896814',
  nonce: 'WL4PK6yA',
  encrypt: '0vJiX6vliEpwG3U45CtXqi+m8PXbQRARJ8p8BbDuD1EMTDf0jKpQ79QS93qEk7XHpP6u+oTTrd15NRPvNvmBKyDCYxxOK+HZeKju4yhELOFchzNukR+t8SB/qk4ROMu3',
  plaintext: '{"EventType":"check_url"}',
  successEncrypt: 'IJtyRhe3IwDdDbVy9KT2PQsXn9Di6CEK7IwoL8L4CQ+xgriQ8Y0sMuvHw0Vv9Ce+6cMGlc1MMsHA2a+tCiq9IA==',
  successSignature: 'ec77e7d4fff9fdfd84e6cf9e46c4af1fb49245a5',
};

// Secrets of the test channels (made up); rejection reasons must never contain any of them.
const APP_KEY = 'dingtestappkey0001';
const APP_SECRET = 'test-app-secret-Zq9V1xQ';
const ROBOT_CODE = 'dingtestrobot0001';
const TOKEN = 'test-token-7Hn2';
const AES_KEY = crypto.randomBytes(32).toString('base64').slice(0, 43);
const SECRETS = [APP_SECRET, TOKEN, AES_KEY];

function dingtalk(extra: Record<string, unknown> = {}): ChannelConfig {
  return channelSchema.parse({ id: 'dt', type: 'dingtalk', appKey: APP_KEY, appSecret: APP_SECRET, robotCode: ROBOT_CODE, token: TOKEN, aesKey: AES_KEY, ...extra });
}

/** The robot callback signature, computed here independently of the adapter (HMAC-SHA256, base64). */
const robotSign = (timestamp: string, secret: string) => crypto.createHmac('sha256', secret).update(`${timestamp}\n${secret}`).digest('base64');

function robotRequest(body: unknown, opts: { timestamp?: string; sign?: string; secret?: string } = {}): WebhookRequest {
  const timestamp = opts.timestamp ?? String(Date.now());
  return {
    method: 'POST',
    query: {},
    headers: { 'content-type': 'application/json; charset=utf-8', timestamp, sign: opts.sign ?? robotSign(timestamp, opts.secret ?? APP_SECRET) },
    rawBody: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)),
  };
}

/** An encrypted event push exactly as DingTalk sends it, built with @wecom/crypto (same scheme). */
function eventRequest(plaintext: string, opts: { token?: string; aesKey?: string; ownerKey?: string; timestamp?: string; nonce?: string; ciphertext?: string } = {}) {
  const timestamp = opts.timestamp ?? String(Date.now());
  const nonce = opts.nonce ?? crypto.randomBytes(4).toString('hex');
  const ciphertext = opts.ciphertext ?? encrypt(opts.aesKey ?? AES_KEY, plaintext, opts.ownerKey ?? APP_KEY);
  const msg_signature = getSignature(opts.token ?? TOKEN, timestamp, nonce, ciphertext);
  return {
    query: { msg_signature, timestamp, nonce },
    body: JSON.stringify({ encrypt: ciphertext }),
    request: { method: 'POST', query: { msg_signature, timestamp, nonce }, headers: {}, rawBody: Buffer.from(JSON.stringify({ encrypt: ciphertext })) } as WebhookRequest,
  };
}

let seq = 0;
function robotBody(over: Record<string, unknown> = {}) {
  seq++;
  return {
    msgtype: 'text',
    text: { content: ' 发票怎么开？' },
    msgId: `msgK${seq}${crypto.randomBytes(6).toString('base64url')}==`,
    createAt: Date.now(),
    conversationType: '2',
    conversationId: 'cidGroup123==',
    conversationTitle: '售后群',
    senderId: '$:LWCP_v1:$abcSender==',
    senderStaffId: 'staff-alice',
    senderNick: 'Alice',
    senderCorpId: 'dingcorp',
    isAdmin: false,
    chatbotCorpId: 'dingcorp',
    chatbotUserId: '$:LWCP_v1:$bot==',
    isInAtList: true,
    atUsers: [{ dingtalkId: '$:LWCP_v1:$bot==' }],
    sessionWebhook: 'https://oapi.dingtalk.com/robot/sendBySession?session=abc123',
    sessionWebhookExpiredTime: Date.now() + 90 * 60_000,
    robotCode: ROBOT_CODE,
    ...over,
  };
}


function expectRejected(fn: () => unknown, status: number, reason: RegExp) {
  const err = rejection(fn);
  expect({ status: err.status, reason: err.reason }).toEqual({ status, reason: expect.stringMatching(reason) });
  for (const s of SECRETS) expect(err.reason).not.toContain(s);
}

describe('official vectors', () => {
  it('the DingTalk callback vector: signature and plaintext byte for byte', () => {
    expect(getSignature(V.token, V.timestamp, V.nonce, V.encrypt)).toBe(V.signature);
    const plain = decrypt(V.aesKey, V.encrypt);
    expect(plain.message).toBe(V.plaintext);
    expect(plain.id).toBe(V.ownerKey);
  });

  it('verify() accepts the vector as DingTalk sends it and yields the check_url event', () => {
    const ch = dingtalk({ token: V.token, aesKey: V.aesKey, appKey: V.ownerKey });
    const req: WebhookRequest = {
      method: 'POST',
      query: { msg_signature: V.signature, timestamp: V.timestamp, nonce: V.nonce },
      headers: {},
      rawBody: Buffer.from(JSON.stringify({ encrypt: V.encrypt })),
    };
    expect(dingtalkChannel.verify(ch, req, Number(V.timestamp) + 1000)).toEqual({ EventType: 'check_url' });
    // the legacy parameter names
    const legacy = { ...req, query: { signature: V.signature, timeStamp: V.timestamp, nonce: V.nonce } };
    expect(dingtalkChannel.verify(ch, legacy, Number(V.timestamp))).toEqual({ EventType: 'check_url' });
  });

  it('the "success" ack vector: ciphertext and signature byte for byte', () => {
    const sealed = sealMessage(V.token, V.aesKey, V.ownerKey, 'success', V.timestamp, V.nonce, Buffer.from('0123456789abcdef'));
    expect(sealed).toEqual({ encrypt: V.successEncrypt, signature: V.successSignature });
  });

  it('the robot sign vector, and verify() accepts exactly that sign', () => {
    const ts = '1577262236757';
    const expected = 'hmPWwU+7lVdm3ZZz0r9tSfx0L4Q26jWOZr9+Gs6EZQM=';
    expect(robotSign(ts, 'this is secret')).toBe(expected);
    const ch = dingtalk({ appSecret: 'this is secret' });
    const body = robotBody();
    expect(dingtalkChannel.verify(ch, robotRequest(body, { timestamp: ts, sign: expected }), Number(ts))).toEqual(body);
    const flipped = expected.replace('hmP', 'hmQ');
    expectRejected(() => dingtalkChannel.verify(ch, robotRequest(body, { timestamp: ts, sign: flipped }), Number(ts)), 401, /sign does not match/);
  });
});

describe('verify: robot callbacks', () => {
  const ch = dingtalk();
  const now = Date.now();
  const at = (offsetMs: number) => String(now + offsetMs);

  it('accepts a timestamp up to an hour away either side', () => {
    for (const off of [-3_600_000, 3_600_000, 0]) expect(dingtalkChannel.verify(ch, robotRequest(robotBody(), { timestamp: at(off) }), now)).toHaveProperty('msgId');
  });

  it('rejects forged, stale and malformed requests', () => {
    const body = robotBody();
    expectRejected(() => dingtalkChannel.verify(ch, robotRequest(body, { secret: 'another-secret' }), now), 401, /^sign does not match$/);
    expectRejected(() => dingtalkChannel.verify(ch, robotRequest(body, { sign: 'short' }), now), 401, /^sign does not match$/);
    expectRejected(() => dingtalkChannel.verify(ch, robotRequest(body, { timestamp: at(-3_600_001) }), now), 401, /^stale timestamp$/);
    expectRejected(() => dingtalkChannel.verify(ch, robotRequest(body, { timestamp: at(3_600_001) }), now), 401, /^stale timestamp$/);
    expectRejected(() => dingtalkChannel.verify(ch, robotRequest(body, { timestamp: 'yesterday' }), now), 401, /malformed timestamp/);
    const noTimestamp = robotRequest(body);
    delete noTimestamp.headers.timestamp;
    expectRejected(() => dingtalkChannel.verify(ch, noTimestamp, now), 401, /timestamp/);
    expectRejected(() => dingtalkChannel.verify(ch, robotRequest('{"msgId":', {}), now), 400, /not valid JSON/);
    expectRejected(() => dingtalkChannel.verify(ch, robotRequest('[1,2]', {}), now), 400, /not a JSON object/);
    expectRejected(() => dingtalkChannel.verify(ch, { ...robotRequest(body), headers: {} }, now), 401, /unsigned request/);
    expectRejected(() => dingtalkChannel.verify(ch, { ...robotRequest(body), method: 'GET' }, now), 404, /POST only/);
    expectRejected(() => dingtalkChannel.verify(dingtalk({ appSecret: undefined }), robotRequest(body), now), 401, /appSecret.*not configured/);
  });
});

describe('verify: encrypted events', () => {
  const ch = dingtalk();
  const now = Date.now();
  const check = '{"EventType":"check_url"}';

  it('decrypts an event sealed for the channel\'s appKey', () => {
    const { request } = eventRequest('{"EventType":"user_add_org","UserId":["u1"]}');
    expect(dingtalkChannel.verify(ch, request, now)).toEqual({ EventType: 'user_add_org', UserId: ['u1'] });
  });

  it('rejects a bad signature, wrong token, stale timestamp, foreign receiver and undecryptable payloads', () => {
    const good = eventRequest(check).request;
    const badSig = { ...good, query: { ...good.query, msg_signature: good.query.msg_signature!.replace(/^./, (c) => (c === '0' ? '1' : '0')) } };
    expectRejected(() => dingtalkChannel.verify(ch, badSig, now), 401, /^signature does not match$/);
    expectRejected(() => dingtalkChannel.verify(ch, eventRequest(check, { token: 'someone-elses-token' }).request, now), 401, /^signature does not match$/);
    expectRejected(() => dingtalkChannel.verify(ch, eventRequest(check, { timestamp: String(now - 3_600_001) }).request, now), 401, /^stale timestamp$/);
    expectRejected(() => dingtalkChannel.verify(ch, eventRequest(check, { ownerKey: 'dinganotherapp' }).request, now), 401, /another receiver id/);
    // properly signed, but the ciphertext was made with another key: padding/length checks fail
    const otherKey = crypto.randomBytes(32).toString('base64').slice(0, 43);
    expectRejected(() => dingtalkChannel.verify(ch, eventRequest(check, { aesKey: otherKey }).request, now), 400, /cannot decrypt|not valid base64/);
    expectRejected(() => dingtalkChannel.verify(ch, eventRequest(check, { ciphertext: 'bm90IGFlcw==' }).request, now), 400, /not valid base64 AES-CBC output/);
    expectRejected(() => dingtalkChannel.verify(ch, eventRequest('not json at all').request, now), 400, /decrypted payload is not JSON/);
    expectRejected(() => dingtalkChannel.verify(ch, { ...good, rawBody: Buffer.from('{"encrypt":') }, now), 400, /not valid JSON/);
    expectRejected(() => dingtalkChannel.verify(ch, { ...good, rawBody: Buffer.from('{"data":"x"}') }, now), 400, /no "encrypt" string/);
    expectRejected(() => dingtalkChannel.verify(ch, { ...good, query: { ...good.query, nonce: undefined } }, now), 401, /nonce/);
    expectRejected(() => dingtalkChannel.verify(dingtalk({ aesKey: undefined }), good, now), 401, /not all configured/);
  });
});

describe('receive', () => {
  const ch = dingtalk();
  const now = 1_700_000_000_000;

  it('normalises an @-mention in a group', () => {
    const body = robotBody();
    const r = dingtalkChannel.receive(ch, body, now);
    expect(r.response).toEqual({ status: 200, body: {} });
    expect(r.unhandled).toBeUndefined();
    expect(r.messages).toEqual([
      {
        channelId: 'dt',
        channelType: 'dingtalk',
        platformMessageId: body.msgId,
        conversationId: 'cidGroup123==',
        chatType: 'group',
        senderId: 'staff-alice',
        senderName: 'Alice',
        text: '发票怎么开？',
        mentioned: true,
        receivedAt: now,
        replyTarget: {
          sessionWebhook: body.sessionWebhook,
          sessionWebhookExpiredTime: String(body.sessionWebhookExpiredTime),
          senderStaffId: 'staff-alice',
          conversationType: '2',
          robotCode: ROBOT_CODE,
        },
      },
    ]);
  });

  it('a group message without @ is not mentioned; a direct one always is', () => {
    expect(dingtalkChannel.receive(ch, robotBody({ isInAtList: false }), now).messages[0]).toMatchObject({ chatType: 'group', mentioned: false });
    expect(dingtalkChannel.receive(ch, robotBody({ conversationType: '1', isInAtList: undefined }), now).messages[0]).toMatchObject({
      chatType: 'direct',
      mentioned: true,
    });
  });

  it('falls back to senderId when there is no staff id, and reads richText text parts', () => {
    const m = dingtalkChannel.receive(ch, robotBody({ senderStaffId: undefined }), now).messages[0]!;
    expect(m.senderId).toBe('$:LWCP_v1:$abcSender==');
    expect(m.replyTarget).not.toHaveProperty('senderStaffId');
    const rich = robotBody({
      msgtype: 'richText',
      text: undefined,
      content: { richText: [{ text: ' 这张发票' }, { type: 'picture', downloadCode: 'dc1', pictureDownloadCode: 'pc1' }, { text: '对吗？' }] },
    });
    expect(dingtalkChannel.receive(ch, rich, now).messages[0]!.text).toBe('这张发票对吗？');
  });

  it('other message types and events are acked and reported unhandled', () => {
    const pic = dingtalkChannel.receive(ch, robotBody({ msgtype: 'picture', text: undefined, content: { downloadCode: 'x' } }), now);
    expect(pic).toEqual({ messages: [], response: { status: 200, body: {} }, unhandled: 'msgtype "picture" is not handled (only text and richText)' });
    const long = dingtalkChannel.receive(ch, robotBody({ text: { content: 'x'.repeat(16_001) } }), now);
    expect(long.messages).toEqual([]);
    expect(long.unhandled).toMatch(/longer than 16000/);
    const ev = dingtalkChannel.receive(ch, { EventType: 'user_add_org' }, now);
    expect(ev.messages).toEqual([]);
    expect(ev.unhandled).toBe('event "user_add_org" is not handled');
    expect(openAck(ev.response.body)).toBe('success');
  });

  it('answers check_url with "success" sealed for the appKey and signed with the token', () => {
    const r = dingtalkChannel.receive(ch, { EventType: 'check_url' }, now);
    expect(r.messages).toEqual([]);
    expect(r.unhandled).toBeUndefined();
    expect(r.response.status).toBe(200);
    const body = r.response.body as Record<string, string>;
    expect(Object.keys(body).sort()).toEqual(['encrypt', 'msg_signature', 'nonce', 'timeStamp']);
    expect(body.timeStamp).toBe(String(now));
    expect(openAck(body)).toBe('success');
  });

  it('rejects malformed bodies and session webhooks outside oapiBase', () => {
    expectRejected(() => dingtalkChannel.receive(ch, robotBody({ conversationType: 2 }), now), 400, /^payload\.conversationType/);
    expectRejected(() => dingtalkChannel.receive(ch, robotBody({ msgId: undefined }), now), 400, /^payload\.msgId/);
    expectRejected(() => dingtalkChannel.receive(ch, robotBody({ senderStaffId: undefined, senderId: undefined }), now), 400, /senderStaffId nor senderId/);
    expectRejected(() => dingtalkChannel.receive(ch, robotBody({ sessionWebhook: 'https://evil.example/robot/sendBySession?session=1' }), now), 400, /sessionWebhook/);
    expectRejected(() => dingtalkChannel.receive(ch, robotBody({ sessionWebhook: 'https://oapi.dingtalk.com/robot/send?access_token=1' }), now), 400, /sessionWebhook/);
    expectRejected(() => dingtalkChannel.receive(ch, { EventType: 42 }, now), 400, /^payload\.EventType/);
  });
});

/** Checks an encrypted ack's signature with the test channel's token and returns its plaintext. */
function openAck(body: unknown): string {
  const b = body as Record<string, string>;
  expect(getSignature(TOKEN, b.timeStamp!, b.nonce!, b.encrypt!)).toBe(b.msg_signature);
  const plain = decrypt(AES_KEY, b.encrypt!);
  expect(plain.id).toBe(APP_KEY);
  return plain.message;
}

describe('send', () => {
  let fake: FakeDingTalk;
  let ch: ChannelConfig;
  let kv: ReturnType<typeof memoryStore>;
  beforeAll(async () => {
    fake = await startFakeDingTalk({ appKey: APP_KEY, appSecret: APP_SECRET, robotCode: ROBOT_CODE });
    ch = dingtalk({ apiBase: fake.url, oapiBase: fake.url });
  });
  afterAll(() => fake?.close());
  beforeEach(() => {
    fake.reset();
    kv = memoryStore();
  });

  /** A message as receive() makes it, with a live (or expired) session webhook on the fake. */
  function inbound(over: { direct?: boolean; expiresInMs?: number; webhook?: string } = {}): InboundMessage {
    const body = robotBody({
      conversationType: over.direct ? '1' : '2',
      conversationId: over.direct ? 'cidDirect==' : 'cidGroup123==',
      sessionWebhook: over.webhook ?? fake.openSession(),
      sessionWebhookExpiredTime: Date.now() + (over.expiresInMs ?? 90 * 60_000),
    });
    return dingtalkChannel.receive(ch, body, Date.now()).messages[0]!;
  }
  const send = (to: InboundMessage, text: string) => dingtalkChannel.send(ch, to, { text, idempotencyKey: `msg:dt:${to.platformMessageId}` }, { kv });

  it('draws a reply node\'s buttons as markdown links: a URL opens, a label is sent back into the chat', async () => {
    const to = inbound();
    const buttons = [{ label: '转接人工客服' }, { label: '售后政策', url: 'https://shop.example.com/policy' }];
    await dingtalkChannel.send(ch, to, { text: '请联系人工处理。', idempotencyKey: `btn:${to.platformMessageId}`, buttons }, { kv });
    expect(fake.delivered[0]).toMatchObject({
      kind: 'markdown',
      text: `@staff-alice\n\n请联系人工处理。\n\n[转接人工客服](dtmd://dingtalkclient/sendMessage?content=${encodeURIComponent('转接人工客服')})\n\n[售后政策](https://shop.example.com/policy)`,
    });
  });

  it('answers a group through the session webhook, @-ing the sender', async () => {
    const to = inbound();
    await send(to, 'fake answer');
    expect(fake.delivered).toEqual([{ via: 'session', to: new URL(to.replyTarget!.sessionWebhook!).searchParams.get('session'), kind: 'text', text: 'fake answer', atUserIds: ['staff-alice'] }]);
    expect(fake.callsTo('session')[0]!.body).toEqual({ msgtype: 'text', text: { content: 'fake answer' }, at: { atUserIds: ['staff-alice'], isAtAll: false } });
    expect(fake.callsTo('token')).toHaveLength(0);
  });

  it('sends Markdown answers as markdown, with the @staffId in the text', async () => {
    await send(inbound(), '## 开票步骤\n\n1. 登录\n2. 申请');
    expect(fake.delivered[0]).toMatchObject({ kind: 'markdown', title: '开票步骤', text: '@staff-alice\n\n## 开票步骤\n\n1. 登录\n2. 申请', atUserIds: ['staff-alice'] });
    await send(inbound({ direct: true }), '**注意**：三天内');
    expect(fake.delivered[1]).toMatchObject({ kind: 'markdown', title: '注意：三天内', text: '**注意**：三天内', atUserIds: [] });
    // the OpenAPI cannot @ anyone: no stray "@staffId" text there
    await send(inbound({ expiresInMs: 0 }), '## 开票步骤\n\n1. 登录');
    expect(fake.delivered[2]).toMatchObject({ via: 'group', kind: 'markdown', title: '开票步骤', text: '## 开票步骤\n\n1. 登录' });
  });

  it('answers a direct chat through the session webhook without an @', async () => {
    await send(inbound({ direct: true }), 'hi');
    expect(fake.callsTo('session')[0]!.body).toEqual({ msgtype: 'text', text: { content: 'hi' } });
  });

  it('uses the OpenAPI once the webhook is within a minute of expiring, with one cached token', async () => {
    await send(inbound({ expiresInMs: 59_000 }), 'late answer');
    await send(inbound({ expiresInMs: -1000 }), 'later answer');
    expect(fake.callsTo('session')).toHaveLength(0);
    expect(fake.callsTo('token')).toHaveLength(1);
    expect(fake.callsTo('token')[0]!.body).toEqual({ appKey: APP_KEY, appSecret: APP_SECRET });
    const sends = fake.callsTo('group');
    expect(sends.map((c) => c.body)).toEqual([
      { robotCode: ROBOT_CODE, openConversationId: 'cidGroup123==', msgKey: 'sampleText', msgParam: '{"content":"late answer"}' },
      { robotCode: ROBOT_CODE, openConversationId: 'cidGroup123==', msgKey: 'sampleText', msgParam: '{"content":"later answer"}' },
    ]);
    expect(sends[0]!.headers['x-acs-dingtalk-access-token']).toBe((fake.callsTo('token')[0]!.answer as any).accessToken);
    expect(sends[1]!.headers['x-acs-dingtalk-access-token']).toBe(sends[0]!.headers['x-acs-dingtalk-access-token']);
  });

  it('sends a direct answer through oToMessages/batchSend to the staff id', async () => {
    const res = await send(inbound({ direct: true, expiresInMs: 0 }), '## 标题\n正文');
    expect(fake.callsTo('oto')[0]!.body).toEqual({
      robotCode: ROBOT_CODE,
      userIds: ['staff-alice'],
      msgKey: 'sampleMarkdown',
      msgParam: JSON.stringify({ title: '标题', text: '## 标题\n正文' }),
    });
    expect(res.platformMessageId).toBe((fake.callsTo('oto')[0]!.answer as any).processQueryKey);
  });

  it('falls back to the OpenAPI when DingTalk says the session is gone (errcode 300001)', async () => {
    await send(inbound({ webhook: `${fake.url}/robot/sendBySession?session=unknown` }), 'hello');
    expect(fake.callsTo('session')[0]!.answer).toEqual({ errcode: 300001, errmsg: 'session 不存在' });
    expect(fake.delivered).toMatchObject([{ via: 'group', text: 'hello' }]);
  });

  it('refreshes a rejected token exactly once', async () => {
    await send(inbound({ expiresInMs: 0 }), 'one');
    fake.expireTokens();
    await send(inbound({ expiresInMs: 0 }), 'two');
    expect(fake.callsTo('token')).toHaveLength(2);
    expect(fake.callsTo('group').map((c) => c.status)).toEqual([200, 400, 200]);
    expect(fake.callsTo('group')[1]!.answer).toMatchObject({ code: 'InvalidAuthentication' });
    expect(fake.delivered.map((d) => d.text)).toEqual(['one', 'two']);

    // a token refused right after it was issued is not refreshed again: transient, Temporal retries
    fake.failNext('group', { tokenExpired: true }, { tokenExpired: true });
    const err = await send(inbound({ expiresInMs: 0 }), 'three').catch((e) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(SendRejected);
    expect(fake.callsTo('token')).toHaveLength(3);
  });

  it('treats an HTTP 401 from the OpenAPI as an expired token too', async () => {
    fake.failNext('group', { status: 401, body: { code: 'Unauthorized', message: 'token expired' } });
    await send(inbound({ expiresInMs: 0 }), 'x');
    expect(fake.callsTo('token')).toHaveLength(2);
    expect(fake.delivered).toHaveLength(1);
  });

  it('classifies failures: busy, throttled, 5xx and dropped connections retry; refusals do not', async () => {
    const outcome = async (endpoint: 'session' | 'group' | 'oto', step: Parameters<FakeDingTalk['failNext']>[1]) => {
      fake.failNext(endpoint, step);
      const to = inbound({ expiresInMs: endpoint === 'session' ? undefined : 0, direct: endpoint === 'oto' });
      const err = await send(to, 'x').then(
        () => 'sent',
        (e) => e,
      );
      return err === 'sent' ? 'sent' : err instanceof SendRejected ? 'rejected' : 'retry';
    };
    expect(await outcome('session', { errcode: -1 })).toBe('retry');
    expect(await outcome('session', { errcode: 130101 })).toBe('retry');
    expect(await outcome('session', { status: 502 })).toBe('retry');
    expect(await outcome('session', { dropConnection: true })).toBe('retry');
    expect(await outcome('session', { errcode: 40035 })).toBe('rejected');
    expect(await outcome('session', { status: 400, body: { errcode: 400, errmsg: 'bad' } })).toBe('rejected');
    expect(await outcome('group', { status: 403, body: { code: 'Forbidden.AccessDenied.QpsLimitForApi', message: '限流' } })).toBe('retry');
    expect(await outcome('group', { status: 429 })).toBe('retry');
    expect(await outcome('group', { status: 503 })).toBe('retry');
    expect(await outcome('group', { status: 400, body: { code: 'invalidParameter.robotCode.auth', message: '不匹配' } })).toBe('rejected');
    expect(await outcome('group', { delayMs: 300 })).toBe('sent');
    // batchSend answers 200 but lists the users it could not (yet) reach
    expect(await outcome('oto', { status: 200, body: { processQueryKey: 'q1', invalidStaffIdList: [], flowControlledStaffIdList: ['staff-alice'] } })).toBe('retry');
    expect(await outcome('oto', { status: 200, body: { processQueryKey: 'q2', invalidStaffIdList: ['staff-alice'], flowControlledStaffIdList: [] } })).toBe('rejected');
  });

  it('refuses without retry when credentials are wrong or missing', async () => {
    const wrong = dingtalk({ apiBase: fake.url, oapiBase: fake.url, appSecret: 'not-the-secret' });
    const to = inbound({ expiresInMs: 0 });
    const err = await dingtalkChannel.send(wrong, to, { text: 'x', idempotencyKey: 'k1' }, { kv }).catch((e) => e);
    expect(err).toBeInstanceOf(SendRejected);
    expect(err.message).toMatch(/accessToken: HTTP 400/);
    expect(err.message).not.toContain('not-the-secret');
    const none = dingtalk({ apiBase: fake.url, oapiBase: fake.url, appKey: undefined, appSecret: undefined });
    await expect(dingtalkChannel.send(none, to, { text: 'x', idempotencyKey: 'k2' }, { kv })).rejects.toThrow(SendRejected);
    expect(fake.callsTo('group')).toHaveLength(0);
  });

  it('splits a long answer, @-ing once, and a retry does not resend the parts already delivered', async () => {
    const paragraph = '发票开具需要提供抬头、税号和邮箱。'.repeat(40); // ~2 KB
    const text = Array.from({ length: 6 }, () => paragraph).join('\n\n'); // ~12 KB
    const to = inbound();
    fake.failNext('session', {}, { status: 500 });
    await expect(send(to, text)).rejects.toThrow(/HTTP 500/);
    await send(to, text);
    const parts = fake.delivered;
    expect(parts.length).toBeGreaterThan(1);
    expect(parts.map((p) => p.text).join('\n\n')).toBe(text);
    for (const p of parts) expect(Buffer.byteLength(p.text)).toBeLessThanOrEqual(6000);
    expect(parts.map((p) => p.atUserIds)).toEqual([['staff-alice'], ...parts.slice(1).map(() => [])]);
    expect(fake.callsTo('session')).toHaveLength(parts.length + 1); // the one failure, no duplicates
  });
});

// ---- end to end: imflow with the real webhook route, Temporal and the fake DingTalk ----

describe('end to end', () => {
  let stack: Stack;
  let fake: FakeDingTalk;
  // unique per run: with REDIS_URL the token cache outlives this process
  const channelId = uniq('dt');
  const allId = uniq('dt-all');

  beforeAll(async () => {
    fake = await startFakeDingTalk({ appKey: APP_KEY, appSecret: APP_SECRET, robotCode: ROBOT_CODE });
    const base = { type: 'dingtalk', appKey: APP_KEY, appSecret: APP_SECRET, robotCode: ROBOT_CODE, token: TOKEN, aesKey: AES_KEY, apiBase: fake.url, oapiBase: fake.url };
    stack = await startStack({
      namespace: 'it-dingtalk',
      config: { channels: [{ id: channelId, respondTo: 'mention', ...base }, { id: allId, respondTo: 'all', ...base }] },
    });
  });
  afterAll(async () => {
    await stack?.stop();
    await fake?.close();
  });

  const post = async (path: string, body: string, headers: Record<string, string> = {}) => {
    const started = Date.now();
    const res = await fetch(`${stack.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json; charset=utf-8', ...headers }, body });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined, ms: Date.now() - started };
  };
  /** A robot callback as DingTalk sends it: signed headers, JSON body. */
  const deliver = (body: unknown, opts: { channel?: string; timestamp?: string; secret?: string } = {}) => {
    const req = robotRequest(body, opts);
    return post(`/webhooks/dingtalk/${opts.channel ?? channelId}`, req.rawBody.toString(), { timestamp: req.headers.timestamp!, sign: req.headers.sign! });
  };
  const message = (over: Record<string, unknown> = {}) => {
    const conv = uniq('cid');
    return robotBody({ conversationId: conv, text: { content: ` 问题 ${uniq('q')}` }, sessionWebhook: fake.openSession(), ...over });
  };
  const deliveredTo = (match: (d: FakeDingTalk['delivered'][number]) => boolean) => fake.delivered.filter(match);
  const sessionOf = (body: { sessionWebhook: string }) => new URL(body.sessionWebhook).searchParams.get('session')!;
  const workflowId = (body: { msgId: string }, ch = channelId) => `msg:${ch}:${body.msgId}`;
  const run = (id: string) => stack.api('GET', `/api/runs/${encodeURIComponent(id)}`);
  const workflowCount = async () => (await stack.imflow.client.workflow.count()).count;
  const modelCallsFor = (text: string) => stack.fake.requests.filter((r) => r.messages.at(-1)?.content === text);

  it('answers an @-mention in a group through the session webhook, @-ing the sender, after an immediate ack', async () => {
    const body = message();
    const text = body.text.content.trim();
    stack.fake.enqueue('qwen3:32b', { firstTokenDelayMs: 1500 }); // the ack must not wait for this
    const res = await deliver(body);
    expect(res).toMatchObject({ status: 200, body: {} });
    expect(res.ms).toBeLessThan(1000);
    expect(deliveredTo((d) => d.to === sessionOf(body))).toEqual([]);
    const [reply] = await waitFor('group reply', () => deliveredTo((d) => d.to === sessionOf(body)).length && deliveredTo((d) => d.to === sessionOf(body)));
    expect(reply).toEqual({ via: 'session', to: sessionOf(body), kind: 'text', text: `fake answer to: ${text}`, atUserIds: ['staff-alice'] });
    await waitFor('run recorded', async () => (await run(workflowId(body))).body?.status === 'replied');
  });

  it('answers a direct message through its session webhook without an @', async () => {
    const body = message({ conversationType: '1', isInAtList: false });
    expect((await deliver(body)).status).toBe(200);
    const [reply] = await waitFor('direct reply', () => deliveredTo((d) => d.to === sessionOf(body)).length && deliveredTo((d) => d.to === sessionOf(body)));
    expect(reply).toMatchObject({ via: 'session', kind: 'text', text: `fake answer to: ${body.text.content.trim()}`, atUserIds: [] });
  });

  it('sends through OpenAPI groupMessages/send with a token when the session webhook has expired', async () => {
    const body = message({ sessionWebhookExpiredTime: Date.now() - 1000 });
    expect((await deliver(body)).status).toBe(200);
    const [reply] = await waitFor('openapi reply', () => deliveredTo((d) => d.to === body.conversationId).length && deliveredTo((d) => d.to === body.conversationId));
    expect(reply).toMatchObject({ via: 'group', kind: 'text', text: `fake answer to: ${body.text.content.trim()}`, robotCode: ROBOT_CODE });
    expect(fake.callsTo('token').some((c) => (c.answer as any)?.accessToken === reply!.token)).toBe(true);
    expect(fake.callsTo('session').filter((c) => c.query.session === sessionOf(body))).toEqual([]);
  });

  it('stays silent on a group message without @ on a respondTo: mention channel, and records why', async () => {
    const body = message({ isInAtList: false });
    const before = stack.fake.requests.length;
    expect(await deliver(body)).toMatchObject({ status: 200, body: {} });
    const row = await waitFor('ignored row', async () =>
      (await stack.imflow.db.pool.query('SELECT reason FROM ignored_messages WHERE channel_id = $1 AND platform_message_id = $2', [channelId, body.msgId])).rows[0],
    );
    expect(row.reason).toBe('not @-mentioned');
    // the same message on a respondTo: all channel is answered
    const again = { ...body, msgId: `${body.msgId}-all`, sessionWebhook: fake.openSession() };
    await deliver(again, { channel: allId });
    await waitFor('reply on respondTo: all', () => deliveredTo((d) => d.to === sessionOf(again)).length);
    expect(deliveredTo((d) => d.to === sessionOf(body))).toEqual([]);
    expect(stack.fake.requests.length).toBe(before + 1);
    expect(await run(workflowId(body))).toMatchObject({ status: 404 });
  });

  it('answers DingTalk\'s encrypted check_url through the HTTP route', async () => {
    const { query, body } = eventRequest('{"EventType":"check_url"}');
    const res = await post(`/webhooks/dingtalk/${channelId}?${new URLSearchParams(query as Record<string, string>)}`, body);
    expect(res.status).toBe(200);
    expect(openAck(res.body)).toBe('success');
  });

  it('the same message delivered 4 times gives one model call and one reply', async () => {
    const body = message();
    const acks = await Promise.all([1, 2, 3, 4].map(() => deliver(body)));
    expect(acks.map((a) => a.status)).toEqual([200, 200, 200, 200]);
    await waitFor('reply', () => deliveredTo((d) => d.to === sessionOf(body)).length);
    await new Promise((r) => setTimeout(r, 1500)); // room for a duplicate to show up
    expect(deliveredTo((d) => d.to === sessionOf(body))).toHaveLength(1);
    expect(modelCallsFor(body.text.content.trim())).toHaveLength(1);
  });

  it('rejects every bad input with the right 4xx and starts nothing', async () => {
    const body = message();
    const text = body.text.content.trim();
    const before = await workflowCount();
    const now = Date.now();
    const event = eventRequest('{"EventType":"check_url"}');
    const eventPath = (q: Record<string, string | undefined>) => `/webhooks/dingtalk/${channelId}?${new URLSearchParams(q as Record<string, string>)}`;
    const cases: [string, Promise<{ status: number; body: any }>, number, RegExp][] = [
      ['bad sign', deliver(body, { secret: 'wrong-secret' }), 401, /sign does not match/],
      ['stale timestamp', deliver(body, { timestamp: String(now - 2 * 3_600_000) }), 401, /stale timestamp/],
      ['unsigned', post(`/webhooks/dingtalk/${channelId}`, JSON.stringify(body)), 401, /unsigned request/],
      ['malformed JSON', deliver('{"msgId": "x",'), 400, /not valid JSON/],
      ['bad body', deliver({ ...body, conversationType: 3 }), 400, /conversationType/],
      ['foreign webhook', deliver({ ...body, sessionWebhook: 'https://evil.example/robot/sendBySession?session=1' }), 400, /sessionWebhook/],
      ['unknown channel', deliver(body, { channel: 'no-such-channel' }), 404, /no dingtalk channel/],
      ['event: bad signature', post(eventPath({ ...event.query, msg_signature: '0'.repeat(40) }), event.body), 401, /signature does not match/],
      ['event: wrong token', (() => { const e = eventRequest('{"EventType":"check_url"}', { token: 'other' }); return post(eventPath(e.query), e.body); })(), 401, /signature does not match/],
      ['event: wrong receiver', (() => { const e = eventRequest('{"EventType":"check_url"}', { ownerKey: 'dingother' }); return post(eventPath(e.query), e.body); })(), 401, /another receiver/],
      ['event: undecryptable', (() => { const e = eventRequest('', { ciphertext: 'QUJD' }); return post(eventPath(e.query), e.body); })(), 400, /not valid base64 AES/],
      ['event: stale', (() => { const e = eventRequest('{"EventType":"check_url"}', { timestamp: String(now - 2 * 3_600_000) }); return post(eventPath(e.query), e.body); })(), 401, /stale timestamp/],
    ];
    for (const [name, pending, status, reason] of cases) {
      const res = await pending;
      expect({ name, status: res.status, error: res.body?.error }).toEqual({ name, status, error: expect.stringMatching(reason) });
      for (const s of SECRETS) expect(JSON.stringify(res.body)).not.toContain(s);
    }
    await new Promise((r) => setTimeout(r, 1500)); // visibility is eventually consistent
    expect(await workflowCount()).toBe(before);
    expect(modelCallsFor(text)).toHaveLength(0);
    expect(deliveredTo((d) => d.to === sessionOf(body))).toEqual([]);
  });

  it('retries a send that failed with 5xx and then delivers it once', async () => {
    const body = message();
    fake.failNext('session', { status: 503 }, { errcode: -1 });
    await deliver(body);
    const attempts = () => fake.callsTo('session').filter((c) => c.query.session === sessionOf(body));
    await waitFor('delivery after retries', () => deliveredTo((d) => d.to === sessionOf(body)).length, 30_000);
    // HTTP 503, then errcode -1 (system busy), then delivered
    expect(attempts().map((c) => (c.status === 200 ? (c.answer as any).errcode : c.status))).toEqual([503, -1, 0]);
    expect(deliveredTo((d) => d.to === sessionOf(body))).toHaveLength(1);
    await waitFor('run replied', async () => (await run(workflowId(body))).body?.status === 'replied');
  });

  it('a refused send is a failed reply step, not retried', async () => {
    const body = message();
    fake.failNext('session', { errcode: 40035 });
    await deliver(body);
    const view = await waitFor('run failed', async () => {
      const r = await run(workflowId(body));
      return r.body?.status === 'failed' && r.body.trace.length && r.body;
    });
    const step = view.trace.find((s: any) => s.step === 'reply');
    expect(step).toMatchObject({ status: 'failed', error: expect.stringMatching(/errcode 40035/) });
    await new Promise((r) => setTimeout(r, 2500)); // a retry would come after 1 s
    expect(fake.callsTo('session').filter((c) => c.query.session === sessionOf(body))).toHaveLength(1);
    expect(deliveredTo((d) => d.to === sessionOf(body))).toEqual([]);
  });

  it('refreshes an expired token once and the send goes through', async () => {
    const first = message({ sessionWebhookExpiredTime: Date.now() - 1000 });
    await deliver(first);
    await waitFor('first openapi reply', () => deliveredTo((d) => d.to === first.conversationId).length);
    const tokensBefore = fake.callsTo('token').length;
    fake.expireTokens();
    const second = message({ sessionWebhookExpiredTime: Date.now() - 1000 });
    await deliver(second);
    const [reply] = await waitFor('second openapi reply', () => deliveredTo((d) => d.to === second.conversationId).length && deliveredTo((d) => d.to === second.conversationId));
    expect(fake.callsTo('token').length).toBe(tokensBefore + 1);
    const sends = fake.callsTo('group').filter((c) => c.body?.openConversationId === second.conversationId);
    expect(sends.map((c) => c.status)).toEqual([400, 200]);
    expect(sends[0]!.answer).toMatchObject({ code: 'InvalidAuthentication' });
    expect(reply!.token).toBe((fake.callsTo('token').at(-1)!.answer as any).accessToken);
  });
});
