import crypto from 'node:crypto';
import { WorkflowNotFoundError } from '@temporalio/client';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { decryptEvent, feishuChannel, larkSignature, replyUuid } from '../channels/feishu.js';
import { SendRejected, type WebhookRequest } from '../channels/types.js';
import { channelSchema, type ChannelConfig } from '../runtime/config.js';
import { memoryStore } from '../runtime/kv.js';
import { messageWorkflowId } from '../workflows/names.js';
import type { InboundMessage } from '../workflows/types.js';
import {
  feishuCallback,
  feishuEncrypt,
  feishuMessageEvent,
  startFakeFeishuServer,
  type FakeFeishuServer,
  type FeishuMessageEventOptions,
} from './fakes/feishu-server.js';
import { startStack, uniq, waitFor, type Stack } from './helpers/stack.js';
import { rejection } from './helpers/rejection.js';

const ENCRYPT_KEY = 'kE9x-encrypt-key-for-tests';
const VERIFICATION_TOKEN = 'vT-verification-token-for-tests';
const BOT = 'ou_bot0000000000000000';
const NOW = 1_700_000_000_000;

function feishu(extra: Record<string, unknown> = {}): ChannelConfig {
  return channelSchema.parse({ id: 'fs-unit', type: 'feishu', appId: 'cli_x', appSecret: 's', ...extra });
}
const encrypted = () => feishu({ encryptKey: ENCRYPT_KEY, verificationToken: VERIFICATION_TOKEN, botOpenId: BOT });

function request(cb: { headers: Record<string, string>; body: string }, headers: Record<string, string | undefined> = {}): WebhookRequest {
  return { method: 'POST', query: {}, headers: { ...cb.headers, ...headers }, rawBody: Buffer.from(cb.body) };
}

const event = (o: Partial<FeishuMessageEventOptions> = {}) =>
  feishuMessageEvent({ token: VERIFICATION_TOKEN, content: { text: 'hello' }, ...o });

describe('Feishu crypto vectors (protocols.md §4)', () => {
  const official = 'P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk=';

  it('decrypts the official vector to "hello world", and the test encryptor reproduces it byte for byte', () => {
    expect(decryptEvent('test key', official)).toBe('hello world');
    const iv = Buffer.from(official, 'base64').subarray(0, 16);
    expect(feishuEncrypt('test key', 'hello world', iv)).toBe(official);
  });

  it('computes the X-Lark-Signature vector over the raw body', () => {
    expect(larkSignature('1609459200', 'abc123', 'test key', `{"encrypt":"${official}"}`)).toBe(
      '14e792dbe2a5d573ea074a564ec191ec3a1364687b3453d735173e0eae5ab6bc',
    );
  });

  it('encrypts the challenge vector with an IV of sixteen 0x01 bytes, and decrypts it back', () => {
    const plain = '{"challenge":"ajls384kdjx98XX","token":"xxxxxx","type":"url_verification"}';
    const expected =
      'AQEBAQEBAQEBAQEBAQEBAZKmVQmc+bigAXgS1VC9Z0/0G8289/qRjFyH2uwTy1CXl4Gjvhu2N0rWMsp3VcWD9AN+DgGRVPExUSc7hW/XmrFpQf21eKY6YHJQflE+I+aF';
    expect(feishuEncrypt('test key', plain, Buffer.alloc(16, 1))).toBe(expected);
    expect(decryptEvent('test key', expected)).toBe(plain);
  });
});

describe('verify', () => {
  it('accepts a signed, encrypted event and returns the decrypted payload', () => {
    const ev = event();
    const payload = feishuChannel.verify(encrypted(), request(feishuCallback(ev, { encryptKey: ENCRYPT_KEY, timestamp: NOW / 1000 })), NOW);
    expect(payload).toEqual(ev);
  });

  it('accepts the URL-verification challenge that Feishu sends encrypted but unsigned', () => {
    const challenge = { challenge: 'c-123', token: VERIFICATION_TOKEN, type: 'url_verification' };
    const payload = feishuChannel.verify(encrypted(), request(feishuCallback(challenge, { encryptKey: ENCRYPT_KEY, signed: false })), NOW);
    expect(feishuChannel.receive(encrypted(), payload, NOW)).toEqual({ messages: [], response: { status: 200, body: { challenge: 'c-123' } } });
  });

  it('accepts a plain event on a channel without an Encrypt Key and checks its token', () => {
    const channel = feishu({ verificationToken: VERIFICATION_TOKEN });
    const ev = event();
    expect(feishuChannel.verify(channel, request(feishuCallback(ev)), NOW)).toEqual(ev);
    expect(rejection(() => feishuChannel.verify(channel, request(feishuCallback(event({ token: 'other' }))), NOW)).status).toBe(401);
  });

  const signedCb = () => feishuCallback(event(), { encryptKey: ENCRYPT_KEY, timestamp: NOW / 1000, nonce: 'n1' });
  const cases: [string, () => WebhookRequest, number, RegExp][] = [
    ['an unsigned event', () => request(feishuCallback(event(), { encryptKey: ENCRYPT_KEY, signed: false })), 401, /missing X-Lark/],
    ['a request missing one signature header', () => request(signedCb(), { 'x-lark-request-nonce': undefined }), 401, /missing X-Lark/],
    ['a wrong signature', () => request(signedCb(), { 'x-lark-signature': 'a'.repeat(64) }), 401, /does not match/],
    ['a signature that is not hex', () => request(signedCb(), { 'x-lark-signature': 'zz' }), 401, /does not match/],
    ['a signature over another body (tampered)', () => {
      const good = signedCb();
      const other = feishuCallback(event(), { encryptKey: ENCRYPT_KEY });
      return request({ headers: good.headers, body: other.body });
    }, 401, /does not match/],
    ['a timestamp over 1 hour old', () => request(feishuCallback(event(), { encryptKey: ENCRYPT_KEY, timestamp: NOW / 1000 - 3601 })), 401, /stale/],
    ['a timestamp over 1 hour ahead', () => request(feishuCallback(event(), { encryptKey: ENCRYPT_KEY, timestamp: NOW / 1000 + 3601 })), 401, /stale/],
    ['a timestamp in milliseconds', () => request(feishuCallback(event(), { encryptKey: ENCRYPT_KEY, timestamp: NOW })), 401, /seconds|stale/],
    ['a plain body where an Encrypt Key is set', () => request(feishuCallback(event())), 401, /plain body/],
    ['the wrong verification token', () => request(feishuCallback(event({ token: 'wrong' }), { encryptKey: ENCRYPT_KEY, timestamp: NOW / 1000 })), 401, /verification token/],
    ['a challenge with the wrong token', () =>
      request(feishuCallback({ challenge: 'c', token: 'wrong', type: 'url_verification' }, { encryptKey: ENCRYPT_KEY, signed: false })), 401, /verification token/],
    ['a payload encrypted with another key', () => {
      const body = JSON.stringify({ encrypt: feishuEncrypt('another key', JSON.stringify(event())) });
      const ts = String(NOW / 1000);
      return request({ headers: { 'x-lark-request-timestamp': ts, 'x-lark-request-nonce': 'n', 'x-lark-signature': larkSignature(ts, 'n', ENCRYPT_KEY, body) }, body });
    }, 400, /decrypt/],
    ['an encrypt field that is not base64 AES output', () => {
      const body = JSON.stringify({ encrypt: 'not%base64!' });
      const ts = String(NOW / 1000);
      return request({ headers: { 'x-lark-request-timestamp': ts, 'x-lark-request-nonce': 'n', 'x-lark-signature': larkSignature(ts, 'n', ENCRYPT_KEY, body) }, body });
    }, 400, /base64/],
    ['a decrypted payload that is not JSON (the official "hello world")', () => {
      const body = JSON.stringify({ encrypt: feishuEncrypt(ENCRYPT_KEY, 'hello world') });
      const ts = String(NOW / 1000);
      return request({ headers: { 'x-lark-request-timestamp': ts, 'x-lark-request-nonce': 'n', 'x-lark-signature': larkSignature(ts, 'n', ENCRYPT_KEY, body) }, body });
    }, 400, /not JSON/],
    ['malformed JSON', () => request({ headers: {}, body: '{"encrypt":' }), 400, /not JSON/],
    ['a JSON array', () => request({ headers: {}, body: '[1]' }), 400, /not a JSON object/],
  ];
  for (const [what, req, status, reason] of cases) {
    it(`rejects ${what} with ${status}, naming no secret`, () => {
      const err = rejection(() => feishuChannel.verify(encrypted(), req(), NOW));
      expect(err.status).toBe(status);
      expect(err.reason).toMatch(reason);
      for (const secret of [ENCRYPT_KEY, VERIFICATION_TOKEN]) expect(err.reason).not.toContain(secret);
    });
  }

  it('rejects an encrypted body on a channel with no Encrypt Key (400)', () => {
    const err = rejection(() => feishuChannel.verify(feishu(), request(feishuCallback(event(), { encryptKey: ENCRYPT_KEY })), NOW));
    expect(err.status).toBe(400);
  });
});

describe('receive', () => {
  const channel = encrypted();
  const one = (payload: object, ch: ChannelConfig = channel) => {
    const r = feishuChannel.receive(ch, payload as Record<string, unknown>, NOW);
    expect(r.response).toEqual({ status: 200, body: {} });
    return r;
  };

  it('normalises a group text message that @-mentions the bot and someone else', () => {
    const ev = event({
      eventId: 'ev-1', messageId: 'om_1', chatId: 'oc_1', senderOpenId: 'ou_sender',
      content: { text: '@_user_1 hello @_user_2 please' },
      mentions: [{ key: '@_user_1', name: 'imflow', openId: BOT }, { key: '@_user_2', name: 'Alice', openId: 'ou_alice' }],
    });
    expect(one(ev).messages).toEqual<InboundMessage[]>([
      {
        channelId: 'fs-unit', channelType: 'feishu', platformMessageId: 'ev-1', conversationId: 'oc_1', chatType: 'group',
        senderId: 'ou_sender', text: 'hello @Alice please', mentioned: true, receivedAt: NOW, replyTarget: { messageId: 'om_1' },
      },
    ]);
  });

  it('tells @_user_1 from @_user_10', () => {
    const mentions = Array.from({ length: 10 }, (_, i) => ({ key: `@_user_${i + 1}`, name: `P${i + 1}`, openId: `ou_p${i + 1}` }));
    const [msg] = one(event({ content: { text: '@_user_10 and @_user_1' }, mentions })).messages;
    expect(msg!.text).toBe('@P10 and @P1');
  });

  it('a group message mentioning only someone else does not address the bot', () => {
    const [msg] = one(event({ content: { text: '@_user_1 ping' }, mentions: [{ key: '@_user_1', name: 'Alice', openId: 'ou_alice' }] })).messages;
    expect(msg).toMatchObject({ mentioned: false, text: '@Alice ping' });
  });

  it('without botOpenId any @ in a group addresses the bot (Feishu only pushes those)', () => {
    const ev = event({ content: { text: '@_user_1 hi' }, mentions: [{ key: '@_user_1', name: 'imflow', openId: 'ou_whoever' }] });
    expect(one(ev, feishu()).messages[0]).toMatchObject({ mentioned: true, text: '@imflow hi' });
    expect(one(event({ content: { text: 'no mention' } }), feishu()).messages[0]!.mentioned).toBe(false);
  });

  it('a p2p message is a direct chat and counts as mentioned', () => {
    const [msg] = one(event({ chatType: 'p2p', chatId: 'oc_p2p', content: { text: '你好' } })).messages;
    expect(msg).toMatchObject({ chatType: 'direct', conversationId: 'oc_p2p', mentioned: true, text: '你好' });
  });

  it('concatenates a post: title, then text, link and @ elements per paragraph', () => {
    const content = {
      title: '周报',
      content: [
        [{ tag: 'at', user_id: '@_user_1', user_name: 'imflow' }, { tag: 'text', text: ' 请看 ' }, { tag: 'a', text: '链接', href: 'https://x' }],
        [{ tag: 'img', image_key: 'img_1' }],
        [{ tag: 'text', text: '抄送 ' }, { tag: 'at', user_id: '@_user_2', user_name: 'Bob' }],
      ],
    };
    const mentions = [{ key: '@_user_1', name: 'imflow', openId: BOT }, { key: '@_user_2', name: 'Bob', openId: 'ou_bob' }];
    const [msg] = one(event({ messageType: 'post', content, mentions })).messages;
    expect(msg).toMatchObject({ text: '周报\n 请看 链接\n抄送 @Bob', mentioned: true });
    // the same post under a language key, as in the send format
    const [wrapped] = one(event({ messageType: 'post', content: { zh_cn: content }, mentions })).messages;
    expect(wrapped!.text).toBe(msg!.text);
  });

  it('leaves other message types and event types unhandled, with the reason', () => {
    expect(one(event({ messageType: 'image', content: { image_key: 'img_1' } }))).toMatchObject({ messages: [], unhandled: 'message type "image" is not handled' });
    const other = { schema: '2.0', header: { event_id: 'e', event_type: 'im.chat.member.bot.added_v1', token: VERIFICATION_TOKEN }, event: {} };
    expect(one(other)).toMatchObject({ messages: [], unhandled: 'event type "im.chat.member.bot.added_v1" is not handled' });
    const v1 = { uuid: 'u', token: VERIFICATION_TOKEN, ts: '1', type: 'event_callback', event: { type: 'message' } };
    expect(one(v1)).toMatchObject({ messages: [], unhandled: 'event type "message" is not handled' });
  });

  it('rejects malformed events with 400', () => {
    const noId = event();
    (noId.event.message as any).message_id = undefined;
    expect(rejection(() => feishuChannel.receive(channel, noId as any, NOW)).status).toBe(400);
    const badContent = event();
    badContent.event.message.content = '{not json';
    expect(rejection(() => feishuChannel.receive(channel, badContent as any, NOW)).reason).toMatch(/content is not JSON/);
    expect(rejection(() => feishuChannel.receive(channel, { hello: 'world' }, NOW)).status).toBe(400);
  });
});

describe('send (against the fake Feishu server)', () => {
  let fake: FakeFeishuServer;
  let channel: ChannelConfig;
  const kv = memoryStore();
  const to = (o: Partial<InboundMessage> = {}): InboundMessage => ({
    channelId: 'fs-unit', channelType: 'feishu', platformMessageId: 'ev', conversationId: 'oc_1', chatType: 'group',
    senderId: 'ou_sender', text: 'q', mentioned: true, receivedAt: NOW, replyTarget: { messageId: 'om_question' }, ...o,
  });
  const send = (text: string, key = uniq('msg:fs-unit'), msg = to()) => feishuChannel.send(channel, msg, { text, idempotencyKey: key }, { kv });
  const replies = () => fake.requests.filter((r) => r.endpoint === 'reply');

  beforeAll(async () => {
    fake = await startFakeFeishuServer();
  });
  afterAll(() => fake?.close());
  beforeEach(async () => {
    fake.reset();
    channel = feishu({ id: uniq('fs'), appId: fake.appId, appSecret: fake.appSecret, apiBase: fake.baseURL });
  });

  it('replies to the message with a tenant token, the text, the asker @-mentioned in groups, and a derived uuid', async () => {
    const key = 'msg:fs-unit:ev-1';
    const res = await send('答案', key);
    const [call] = replies();
    expect(call!.path).toBe('/open-apis/im/v1/messages/om_question/reply');
    expect(call!.headers.authorization).toMatch(/^Bearer t-/);
    expect(call!.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(call!.body).toEqual({ msg_type: 'text', content: JSON.stringify({ text: '<at user_id="ou_sender"></at> 答案' }), uuid: replyUuid(key, 0) });
    expect(fake.delivered).toHaveLength(1);
    expect(res.platformMessageId).toBe(fake.delivered[0]!.messageId);
    const [tokenCall] = fake.requests.filter((r) => r.endpoint === 'token');
    expect(tokenCall!.body).toEqual({ app_id: fake.appId, app_secret: fake.appSecret });

    await send('direct', undefined, to({ chatType: 'direct' }));
    expect(fake.delivered[1]!.content).toEqual({ text: 'direct' });
  });

  it('derives a uuid Feishu accepts (≤ 50 characters), the same for the same run and part only', () => {
    const long = `msg:fs-unit:${'x'.repeat(900)}`;
    expect(replyUuid(long, 0)).toHaveLength(36);
    expect(replyUuid(long, 0)).toBe(replyUuid(long, 0));
    expect(new Set([replyUuid(long, 0), replyUuid(long, 1), replyUuid(`${long}y`, 0)]).size).toBe(3);
  });

  it('a second send of the same run (crash after sending) delivers nothing new', async () => {
    const key = uniq('msg:fs-unit');
    const first = await send('once', key);
    const second = await send('once', key);
    expect(replies()).toHaveLength(2);
    expect(fake.delivered).toHaveLength(1);
    expect(second.platformMessageId).toBe(first.platformMessageId);
  });

  it('caches the tenant token per channel', async () => {
    await send('a');
    await send('b');
    expect(fake.requests.filter((r) => r.endpoint === 'token')).toHaveLength(1);
  });

  it('refreshes an expired token once and sends', async () => {
    await send('warm up');
    const issued = fake.tokensIssued();
    fake.revokeTokens();
    await send('after expiry');
    expect(fake.tokensIssued()).toBe(issued + 1);
    expect(fake.delivered.map((d) => d.content.text)).toContain('<at user_id="ou_sender"></at> after expiry');
  });

  it('gives up (retryably) when a fresh token is rejected too', async () => {
    const issued = fake.tokensIssued();
    fake.enqueue('reply', { code: 99991663 }, { code: 99991663 });
    const err = await send('x').catch((e) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(SendRejected);
    expect(fake.tokensIssued()).toBe(issued + 2); // the first one, then exactly one refresh
  });

  it('treats rate limits and 5xx as transient, other codes as refusals', async () => {
    fake.enqueue('reply', { status: 429, code: 99991400, msg: 'request trigger frequency limit' });
    const limited = await send('x').catch((e) => e);
    expect(limited).toBeInstanceOf(Error);
    expect(limited).not.toBeInstanceOf(SendRejected);

    fake.enqueue('reply', { code: 230020, msg: 'This operation triggers the frequency limit' });
    expect(await send('x').catch((e) => e)).not.toBeInstanceOf(SendRejected);

    fake.enqueue('reply', { status: 503 });
    const down = await send('x').catch((e) => e);
    expect(down).toBeInstanceOf(Error);
    expect(down).not.toBeInstanceOf(SendRejected);

    fake.enqueue('reply', { code: 230002, msg: 'The bot can not be outside the group.' });
    const refused = await send('x').catch((e) => e);
    expect(refused).toBeInstanceOf(SendRejected);
    expect(refused.message).toMatch(/230002.*outside the group/);
    expect(fake.delivered).toHaveLength(0);
  });

  it('a wrong app secret is a refusal that does not repeat the secret', async () => {
    const wrong = feishu({ id: uniq('fs'), appId: fake.appId, appSecret: 'wrong-secret-value', apiBase: fake.baseURL });
    const err = await feishuChannel.send(wrong, to(), { text: 'x', idempotencyKey: 'k' }, { kv }).catch((e) => e);
    expect(err).toBeInstanceOf(SendRejected);
    expect(err.message).toMatch(/10014/);
    expect(err.message).not.toContain('wrong-secret-value');
    const none = feishu({ id: uniq('fs'), apiBase: fake.baseURL, appId: undefined, appSecret: undefined });
    expect(await feishuChannel.send(none, to(), { text: 'x', idempotencyKey: 'k' }, { kv }).catch((e) => e)).toBeInstanceOf(SendRejected);
  });

  it('sends a long answer in parts under the 150 KB limit, none lost, each with its own uuid', async () => {
    const paragraph = `${'长'.repeat(999)}。\n\n`; // ~3 KB each
    const text = paragraph.repeat(20).trim(); // ~60 KB
    const key = uniq('msg:fs-unit');
    await send(text, key);
    expect(fake.delivered.length).toBeGreaterThan(2);
    expect(fake.delivered.map((d) => d.uuid)).toEqual(fake.delivered.map((_, i) => replyUuid(key, i)));
    const texts = fake.delivered.map((d) => d.content.text as string);
    expect(texts[0]!.startsWith('<at user_id="ou_sender"></at> ')).toBe(true);
    expect(texts.slice(1).every((t) => !t.includes('<at'))).toBe(true);
    expect(texts.join('').replace(/<at[^>]*><\/at> /, '').replace(/\s/g, '')).toBe(text.replace(/\s/g, ''));
  });
});

describe('end to end through POST /webhooks/feishu/:channelId', () => {
  let stack: Stack;
  let fake: FakeFeishuServer;
  const enc = uniq('fs-enc'); // unique per run: the token cache in Redis outlives the stack
  const plain = uniq('fs-plain');
  const PLAIN_TOKEN = 'plain-verification-token';

  beforeAll(async () => {
    fake = await startFakeFeishuServer();
    const common = { type: 'feishu', appId: fake.appId, appSecret: fake.appSecret, apiBase: fake.baseURL };
    stack = await startStack({
      namespace: 'it-feishu',
      config: {
        channels: [
          { ...common, id: enc, encryptKey: ENCRYPT_KEY, verificationToken: VERIFICATION_TOKEN, botOpenId: BOT, respondTo: 'mention' },
          { ...common, id: plain, verificationToken: PLAIN_TOKEN },
        ],
      },
    });
  });
  afterAll(async () => {
    await stack?.stop();
    await fake?.close();
  });

  const post = async (channelId: string, cb: { headers: Record<string, string>; body: string }) => {
    const res = await fetch(`${stack.url}/webhooks/feishu/${channelId}`, { method: 'POST', headers: cb.headers, body: cb.body });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };
  const deliver = (ev: object, channelId = enc) => post(channelId, channelId === enc ? feishuCallback(ev, { encryptKey: ENCRYPT_KEY }) : feishuCallback(ev));
  const repliesTo = (messageId: string) => fake.delivered.filter((d) => d.replyTo === messageId);
  const replyCalls = (messageId: string) => fake.requests.filter((r) => r.endpoint === 'reply' && r.path.includes(messageId));
  const workflowExists = async (workflowId: string) => {
    try {
      await stack.imflow.client.workflow.getHandle(workflowId).describe();
      return true;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return false;
      throw err;
    }
  };
  const settle = () => new Promise((r) => setTimeout(r, 1500));

  it('rejects every bad input with the right 4xx and starts nothing', async () => {
    const before = (await stack.imflow.client.workflow.count()).count;
    const modelCalls = stack.fake.requests.length;
    const ev = event({ content: { text: 'forged' } });
    const good = feishuCallback(ev, { encryptKey: ENCRYPT_KEY });
    const ts = Math.floor(Date.now() / 1000);
    const attempts: [string, string, { headers: Record<string, string>; body: string }, number][] = [
      ['bad signature', enc, { headers: { ...good.headers, 'x-lark-signature': 'f'.repeat(64) }, body: good.body }, 401],
      ['stale timestamp', enc, feishuCallback(ev, { encryptKey: ENCRYPT_KEY, timestamp: ts - 2 * 3600 }), 401],
      ['missing signature', enc, feishuCallback(ev, { encryptKey: ENCRYPT_KEY, signed: false }), 401],
      ['wrong token', enc, feishuCallback(event({ token: 'nope' }), { encryptKey: ENCRYPT_KEY }), 401],
      ['wrong token (plain)', plain, feishuCallback(event({ token: 'nope' })), 401],
      ['plain body on an encrypted channel', enc, feishuCallback(ev), 401],
      ['undecryptable', enc, (() => {
        const body = JSON.stringify({ encrypt: feishuEncrypt('other key', JSON.stringify(ev)) });
        return { headers: { 'x-lark-request-timestamp': String(ts), 'x-lark-request-nonce': 'n', 'x-lark-signature': larkSignature(String(ts), 'n', ENCRYPT_KEY, body) }, body };
      })(), 400],
      ['malformed JSON', plain, { headers: { 'content-type': 'application/json' }, body: '{"schema":' }, 400],
      ['unknown channel id', 'fs-nope', good, 404],
    ];
    for (const [what, channelId, cb, status] of attempts) {
      const res = await post(channelId, cb);
      expect({ what, status: res.status }).toEqual({ what, status });
      expect(typeof res.body.error).toBe('string');
      expect(JSON.stringify(res.body)).not.toContain(ENCRYPT_KEY);
    }
    await settle();
    expect((await stack.imflow.client.workflow.count()).count).toBe(before);
    expect(stack.fake.requests.length).toBe(modelCalls);
    expect(await workflowExists(messageWorkflowId(enc, ev.header.event_id))).toBe(false);
    expect(fake.delivered).toHaveLength(0);
  });

  it('answers URL verification, plain and encrypted, at once and starts nothing', async () => {
    const plainRes = await deliver({ challenge: 'plain-challenge', token: PLAIN_TOKEN, type: 'url_verification' }, plain);
    expect(plainRes).toEqual({ status: 200, body: { challenge: 'plain-challenge' } });
    // Feishu sends the encrypted challenge without signature headers
    const encRes = await post(enc, feishuCallback({ challenge: 'enc-challenge', token: VERIFICATION_TOKEN, type: 'url_verification' }, { encryptKey: ENCRYPT_KEY, signed: false }));
    expect(encRes).toEqual({ status: 200, body: { challenge: 'enc-challenge' } });
  });

  it('acks a group @bot message before the model answers, then replies to it with the right uuid and mention', async () => {
    stack.fake.enqueue('qwen3:32b', { firstTokenDelayMs: 1500 });
    const ev = event({
      senderOpenId: 'ou_asker', content: { text: '@_user_1 发票怎么开？' },
      mentions: [{ key: '@_user_1', name: 'imflow', openId: BOT }],
    });
    const ack = await deliver(ev);
    expect(ack).toEqual({ status: 200, body: {} });
    expect(repliesTo(ev.event.message.message_id)).toHaveLength(0); // acked without waiting for the answer

    const [reply] = await waitFor('reply', () => repliesTo(ev.event.message.message_id).length > 0 && repliesTo(ev.event.message.message_id));
    expect(reply!.content).toEqual({ text: '<at user_id="ou_asker"></at> fake answer to: 发票怎么开？' });
    expect(reply!.uuid).toBe(replyUuid(messageWorkflowId(enc, ev.header.event_id), 0));
    const run = await stack.api('GET', `/api/runs/${encodeURIComponent(messageWorkflowId(enc, ev.header.event_id))}`);
    expect(run.body).toMatchObject({ status: 'replied' });
  });

  it('answers a post message with its concatenated text', async () => {
    const ev = event({
      messageType: 'post',
      content: { title: '', content: [[{ tag: 'at', user_id: '@_user_1', user_name: 'imflow' }, { tag: 'text', text: ' 看看 ' }, { tag: 'a', text: '这个', href: 'https://e.x' }]] },
      mentions: [{ key: '@_user_1', name: 'imflow', openId: BOT }],
    });
    expect((await deliver(ev)).status).toBe(200);
    const [reply] = await waitFor('post reply', () => repliesTo(ev.event.message.message_id).length > 0 && repliesTo(ev.event.message.message_id));
    expect(reply!.content.text).toMatch(/fake answer to: 看看 这个$/);
  });

  it('answers a direct (p2p) message without a mention', async () => {
    const ev = feishuMessageEvent({ token: PLAIN_TOKEN, chatType: 'p2p', content: { text: '你好' } });
    expect((await deliver(ev, plain)).status).toBe(200);
    const [reply] = await waitFor('p2p reply', () => repliesTo(ev.event.message.message_id).length > 0 && repliesTo(ev.event.message.message_id));
    expect(reply!.content).toEqual({ text: 'fake answer to: 你好' });
  });

  it('the same event delivered 4 times gives one model call and one reply', async () => {
    const text = `dup ${crypto.randomBytes(4).toString('hex')}`;
    const ev = event({ content: { text: `@_user_1 ${text}` }, mentions: [{ key: '@_user_1', name: 'imflow', openId: BOT }] });
    for (let i = 0; i < 4; i++) expect((await deliver(ev)).status).toBe(200); // re-encrypted and re-signed each time, as Feishu does
    await waitFor('reply', () => repliesTo(ev.event.message.message_id).length > 0);
    await settle();
    expect(repliesTo(ev.event.message.message_id)).toHaveLength(1);
    expect(stack.fake.requests.filter((r) => r.messages.at(-1).content === text)).toHaveLength(1);
  });

  it('a group message that @-mentions only someone else gets no reply', async () => {
    const ev = event({ content: { text: '@_user_1 你来回答' }, mentions: [{ key: '@_user_1', name: 'Alice', openId: 'ou_alice' }] });
    expect(await deliver(ev)).toEqual({ status: 200, body: {} });
    await settle();
    expect(repliesTo(ev.event.message.message_id)).toHaveLength(0);
    expect(await workflowExists(messageWorkflowId(enc, ev.header.event_id))).toBe(false);
    const ignored = await stack.imflow.db.pool.query('SELECT reason FROM ignored_messages WHERE channel_id = $1 AND platform_message_id = $2', [enc, ev.header.event_id]);
    expect(ignored.rows).toEqual([{ reason: 'not @-mentioned' }]);
  });

  const atBot = (text: string) => event({ content: { text: `@_user_1 ${text}` }, mentions: [{ key: '@_user_1', name: 'imflow', openId: BOT }] });

  it('retries a send that fails with 5xx and delivers it once', async () => {
    fake.enqueue('reply', { status: 500 }, { status: 502 });
    const ev = atBot('flaky');
    expect((await deliver(ev)).status).toBe(200);
    await waitFor('reply after retries', () => repliesTo(ev.event.message.message_id).length > 0);
    await settle();
    expect(replyCalls(ev.event.message.message_id)).toHaveLength(3);
    expect(repliesTo(ev.event.message.message_id)).toHaveLength(1);
  });

  it('a refused send (bot not in the group) fails the reply step and is not retried', async () => {
    fake.enqueue('reply', { code: 230002, msg: 'The bot can not be outside the group.' });
    const ev = atBot('refused');
    const workflowId = messageWorkflowId(enc, ev.header.event_id);
    expect((await deliver(ev)).status).toBe(200);
    const run = await waitFor('failed run', async () => {
      const r = await stack.api('GET', `/api/runs/${encodeURIComponent(workflowId)}`);
      return r.status === 200 && r.body.status === 'failed' && r.body;
    });
    expect(run.trace.find((s: any) => s.step === 'reply')).toMatchObject({ status: 'failed', error: expect.stringMatching(/230002/) });
    await settle();
    expect(replyCalls(ev.event.message.message_id)).toHaveLength(1);
    expect(repliesTo(ev.event.message.message_id)).toHaveLength(0);
  });

  it('refreshes an expired tenant token once and delivers', async () => {
    const issued = fake.tokensIssued();
    fake.revokeTokens();
    const ev = atBot('after expiry');
    expect((await deliver(ev)).status).toBe(200);
    await waitFor('reply', () => repliesTo(ev.event.message.message_id).length > 0);
    expect(fake.tokensIssued()).toBe(issued + 1);
    expect(replyCalls(ev.event.message.message_id)).toHaveLength(2); // 99991663, then the refreshed token
    expect(repliesTo(ev.event.message.message_id)).toHaveLength(1);
  });
});
