import crypto from 'node:crypto';
import querystring from 'node:querystring';
import { decrypt, encrypt, getSignature } from '@wecom/crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openMessage, sealMessage } from '../channels/msg-crypto.js';
import { SendRejected, type WebhookRequest } from '../channels/types.js';
import { TEXT_LIMIT_BYTES, wecomChannel } from '../channels/wecom.js';
import { parseConfig, type ChannelConfig } from '../runtime/config.js';
import { memoryStore } from '../runtime/kv.js';
import type { InboundMessage } from '../workflows/types.js';
import { startFakeWecomServer, type FakeWecomServer } from './fakes/wecom-server.js';
import { startStack, uniq, waitFor, type Stack } from './helpers/stack.js';
import { rejection } from './helpers/rejection.js';

const wecomConfig = (over: Record<string, unknown>): ChannelConfig => parseConfig({ channels: [{ id: 'wc-unit', type: 'wecom', ...over }] }).channels[0]!;

// Official vectors (protocols.md §4)
const CLASSIC = { token: 'QDG6eK', encodingAESKey: 'jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C', corpId: 'wx5823bf96d3bd56c7' };
const CLASSIC_VERIFY = {
  msg_signature: '5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3',
  timestamp: '1409659589',
  nonce: '263014780',
  echostr: 'P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ==',
};
const CLASSIC_MESSAGE = {
  msg_signature: '477715d11cdb4164915debcba66cb864d751f3e6',
  timestamp: '1409659813',
  nonce: '1372623149',
  encrypt:
    'RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q==',
};
const NEWER = { token: 'hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo', encodingAESKey: '6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt', corpId: 'ww1436e0e65a779aee' };
const NEWER_VERIFY = {
  msg_signature: '012bc692d0a58dd4b10f8dfe5c4ac00ae211ebeb',
  timestamp: '1476416373',
  nonce: '47744683',
  echostr: 'fsi1xnbH4yQh0+PJxcOdhhK6TDXkjMyhEPA7xB2TGz6b+g7xyAbEkRxN/3cNXW9qdqjnoVzEtpbhnFyq6SVHyA==',
};
const NEWER_MESSAGE = {
  msg_signature: '0c3914025cb4b4d68103f6bfc8db550f79dcf48e',
  timestamp: '1476422779',
  nonce: '1597212914',
  encrypt:
    'Kl7kjoSf6DMD1zh7rtrHjFaDapSCkaOnwu3bqLc5tAybhhMl9pFeK8NslNPVdMwmBQTNoW4mY7AIjeLvEl3NyeTkAgGzBhzTtRLNshw2AEew+kkYcD+Fq72Kt00fT0WnN87hGrW8SqGc+NcT3mu87Ha3dz1pSDi6GaUA6A0sqfde0VJPQbZ9U+3JWcoD4Z5jaU0y9GSh010wsHF8KZD24YhmZH4ch4Ka7ilEbjbfvhKkNL65HHL0J6EYJIZUC2pFrdkJ7MhmEbU2qARR4iQHE7wy24qy0cRX3Mfp6iELcDNfSsPGjUQVDGxQDCWjayJOpcwocugux082f49HKYg84EpHSGXAyh+/oxwaWbvL6aSDPOYuPDGOCI8jmnKiypE+',
  plaintext:
    '<xml><ToUserName>ww1436e0e65a779aee</ToUserName><FromUserName>ChenJiaShun</FromUserName><CreateTime>1476422779</CreateTime><MsgType>text</MsgType><Content>你好</Content><MsgId>1456453720</MsgId><AgentID>1000002</AgentID></xml>',
};
const SUCCESS = {
  random: Buffer.from('0123456789abcdef'),
  encrypt: 'sKqRbbiSUnDhFHOvPjtUMbWS28WQJEcq+Mzda1Jz7/48f8S/Ty+bA9T4kUGo9xXppbi6Xb5CJDNdGLzlBP6xcQ==',
  signature: 'c6700a4d26ea694b666a1d78933ea5cca2bdb6ba',
};

const envelope = (corpId: string, enc: string, agentId: string | number) =>
  `<xml><ToUserName><![CDATA[${corpId}]]></ToUserName><Encrypt><![CDATA[${enc}]]></Encrypt><AgentID><![CDATA[${agentId}]]></AgentID></xml>`;

const textXml = (m: { corpId: string; from: string; content: string; msgId: string; agentId: number; createTime: number }) =>
  `<xml><ToUserName><![CDATA[${m.corpId}]]></ToUserName><FromUserName><![CDATA[${m.from}]]></FromUserName><CreateTime>${m.createTime}</CreateTime>` +
  `<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[${m.content}]]></Content><MsgId>${m.msgId}</MsgId><AgentID>${m.agentId}</AgentID></xml>`;

interface Keys {
  token: string;
  encodingAESKey: string;
  corpId: string;
}

/** A callback exactly as WeCom builds it: encrypt for the receiver id, sign token/timestamp/nonce/ciphertext. */
function signedCallback(keys: Keys, plainXml: string, o: { timestamp?: string; nonce?: string; receiverId?: string; signToken?: string; agentId?: number } = {}) {
  const timestamp = o.timestamp ?? String(Math.floor(Date.now() / 1000));
  const nonce = o.nonce ?? String(crypto.randomInt(1e9));
  const enc = encrypt(keys.encodingAESKey, plainXml, o.receiverId ?? keys.corpId);
  const msg_signature = getSignature(o.signToken ?? keys.token, timestamp, nonce, enc);
  return { query: { msg_signature, timestamp, nonce }, body: envelope(keys.corpId, enc, o.agentId ?? 1000002), enc };
}

const post = (query: Record<string, string>, body: string | Buffer): WebhookRequest => ({
  method: 'POST',
  query,
  headers: { 'content-type': 'text/xml' },
  rawBody: Buffer.isBuffer(body) ? body : Buffer.from(body),
});
const get = (query: Record<string, string | undefined>): WebhookRequest => ({ method: 'GET', query, headers: {}, rawBody: Buffer.alloc(0) });


describe('official vectors, byte for byte', () => {
  it('classic sample: URL verification signature, plaintext, and re-encryption', () => {
    const v = CLASSIC_VERIFY;
    expect(getSignature(CLASSIC.token, v.timestamp, v.nonce, v.echostr)).toBe(v.msg_signature);
    const d = decrypt(CLASSIC.encodingAESKey, v.echostr);
    expect(d.message).toBe('1616140317555161061');
    expect(d.id).toBe(CLASSIC.corpId);
    expect(encrypt(CLASSIC.encodingAESKey, d.message, CLASSIC.corpId, d.random)).toBe(v.echostr);

    const channel = wecomConfig(CLASSIC);
    const payload = wecomChannel.verify(channel, get(v), Number(v.timestamp) * 1000);
    expect(wecomChannel.receive(channel, payload, 0)).toEqual({
      messages: [],
      response: { status: 200, body: '1616140317555161061', contentType: 'text/plain' },
    });
  });

  it('classic sample: message signature, decryption and parsed fields', () => {
    const v = CLASSIC_MESSAGE;
    expect(getSignature(CLASSIC.token, v.timestamp, v.nonce, v.encrypt)).toBe(v.msg_signature);
    const d = decrypt(CLASSIC.encodingAESKey, v.encrypt);
    expect(encrypt(CLASSIC.encodingAESKey, d.message, CLASSIC.corpId, d.random)).toBe(v.encrypt);

    const channel = wecomConfig({ ...CLASSIC, agentId: 218 });
    const payload = wecomChannel.verify(channel, post(v, envelope(CLASSIC.corpId, v.encrypt, 218)), Number(v.timestamp) * 1000);
    expect(payload).toEqual({
      ToUserName: CLASSIC.corpId,
      FromUserName: 'mycreate',
      CreateTime: '1409659813',
      MsgType: 'text',
      Content: 'hello',
      MsgId: '4561255354251345929', // a string: it does not fit a JS number
      AgentID: '218',
    });
    const { messages, response } = wecomChannel.receive(channel, payload, 42);
    expect(response).toEqual({ status: 200 });
    expect(messages).toEqual([
      {
        channelId: 'wc-unit',
        channelType: 'wecom',
        platformMessageId: '4561255354251345929',
        conversationId: 'mycreate',
        chatType: 'direct',
        senderId: 'mycreate',
        text: 'hello',
        mentioned: true,
        receivedAt: 42,
        replyTarget: { toUser: 'mycreate', agentId: '218' },
      },
    ]);
  });

  it('newer sample: URL verification with the echostr URL-encoded in the GET, or its "+" left raw', () => {
    const v = NEWER_VERIFY;
    expect(getSignature(NEWER.token, v.timestamp, v.nonce, v.echostr)).toBe(v.msg_signature);
    const d = decrypt(NEWER.encodingAESKey, v.echostr);
    expect(encrypt(NEWER.encodingAESKey, d.message, NEWER.corpId, d.random)).toBe(v.echostr);

    const channel = wecomConfig(NEWER);
    const now = Number(v.timestamp) * 1000;
    const encoded = `msg_signature=${v.msg_signature}&timestamp=${v.timestamp}&nonce=${v.nonce}&echostr=${encodeURIComponent(v.echostr)}`;
    expect(encoded).toContain('%2B');
    // what express's query parser (node:querystring) hands the route
    const decodedQuery = querystring.parse(encoded) as Record<string, string>;
    expect(wecomChannel.verify(channel, get(decodedQuery), now)).toEqual({ echostr: '1288432023552776189' });
    // a sender that forgets to encode "+": the parser turns it into a space
    const rawQuery = querystring.parse(encoded.replace(encodeURIComponent(v.echostr), v.echostr)) as Record<string, string>;
    expect(rawQuery.echostr).toContain(' ');
    expect(wecomChannel.verify(channel, get(rawQuery), now)).toEqual({ echostr: '1288432023552776189' });
  });

  it('newer sample: message decrypts to the exact plaintext with 你好', () => {
    const v = NEWER_MESSAGE;
    expect(getSignature(NEWER.token, v.timestamp, v.nonce, v.encrypt)).toBe(v.msg_signature);
    expect(openMessage(NEWER.encodingAESKey, v.encrypt, NEWER.corpId)).toBe(v.plaintext);
    const d = decrypt(NEWER.encodingAESKey, v.encrypt);
    expect(encrypt(NEWER.encodingAESKey, v.plaintext, NEWER.corpId, d.random)).toBe(v.encrypt);

    const channel = wecomConfig({ ...NEWER, agentId: 1000002 });
    const payload = wecomChannel.verify(channel, post(v, envelope(NEWER.corpId, v.encrypt, 1000002)), Number(v.timestamp) * 1000);
    const [msg] = wecomChannel.receive(channel, payload, 0).messages;
    expect(msg).toMatchObject({ platformMessageId: '1456453720', senderId: 'ChenJiaShun', text: '你好', replyTarget: { toUser: 'ChenJiaShun', agentId: '1000002' } });
  });

  it('"success" vector: fixed random gives the exact ciphertext and signature; pad is 19 bytes', () => {
    const sealed = sealMessage(CLASSIC.token, CLASSIC.encodingAESKey, CLASSIC.corpId, 'success', '1409659813', '1372623149', SUCCESS.random);
    expect(sealed).toEqual({ encrypt: SUCCESS.encrypt, signature: SUCCESS.signature });
    const key = Buffer.from(`${CLASSIC.encodingAESKey}=`, 'base64');
    const decipher = crypto.createDecipheriv('aes-256-cbc', key, key.subarray(0, 16)).setAutoPadding(false);
    const padded = Buffer.concat([decipher.update(Buffer.from(SUCCESS.encrypt, 'base64')), decipher.final()]);
    expect(padded.at(-1)).toBe(19);
    // and through the adapter: a URL verification whose echostr is this ciphertext
    const channel = wecomConfig(CLASSIC);
    const q = { msg_signature: SUCCESS.signature, timestamp: '1409659813', nonce: '1372623149', echostr: SUCCESS.encrypt };
    expect(wecomChannel.verify(channel, get(q), 1409659813_000)).toEqual({ echostr: 'success' });
  });
});

describe('verify rejects', () => {
  const keys: Keys = { token: 'unitToken', encodingAESKey: 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG', corpId: 'ww-unit-corp' };
  const channel = wecomConfig({ ...keys, agentId: 1000002, secret: 'unit-secret' });
  const now = 1_700_000_000_000;
  const ts = String(now / 1000);
  const plain = textXml({ corpId: keys.corpId, from: 'alice', content: 'hi', msgId: '123', agentId: 1000002, createTime: now / 1000 });
  const good = () => signedCallback(keys, plain, { timestamp: ts });

  it('accepts the genuine callback', () => {
    const { query, body } = good();
    expect(wecomChannel.verify(channel, post(query, body), now)).toMatchObject({ FromUserName: 'alice', Content: 'hi', MsgId: '123' });
  });

  const cases: [string, () => WebhookRequest, number, RegExp][] = [
    ['a wrong signature', () => { const c = good(); return post({ ...c.query, msg_signature: 'f'.repeat(40) }, c.body); }, 401, /signature/],
    ['a missing signature', () => { const c = good(); return post({ ...c.query, msg_signature: undefined } as any, c.body); }, 401, /signature/],
    ['a signature made with another token', () => { const c = signedCallback(keys, plain, { timestamp: ts, signToken: 'otherToken' }); return post(c.query, c.body); }, 401, /signature/],
    ['a timestamp over an hour old', () => { const c = signedCallback(keys, plain, { timestamp: String(now / 1000 - 3601) }); return post(c.query, c.body); }, 401, /1 hour/],
    ['a timestamp over an hour ahead', () => { const c = signedCallback(keys, plain, { timestamp: String(now / 1000 + 3601) }); return post(c.query, c.body); }, 401, /1 hour/],
    ['a non-numeric timestamp', () => { const c = good(); return post({ ...c.query, timestamp: 'yesterday' }, c.body); }, 400, /timestamp/],
    ['a missing nonce', () => { const c = good(); return post({ ...c.query, nonce: '' }, c.body); }, 400, /nonce/],
    ['a payload encrypted for another CorpID', () => { const c = signedCallback(keys, plain, { timestamp: ts, receiverId: 'ww-other-corp' }); return post(c.query, c.body); }, 401, /receiver/],
    ['a payload for another AgentID', () => {
      const c = signedCallback(keys, plain.replace('<AgentID>1000002', '<AgentID>1000003'), { timestamp: ts });
      return post(c.query, c.body);
    }, 401, /AgentID 1000003/],
    ['an undecryptable payload (signed, but not AES output for this key)', () => {
      const enc = crypto.randomBytes(64).toString('base64');
      return post({ msg_signature: getSignature(keys.token, ts, '1', enc), timestamp: ts, nonce: '1' }, envelope(keys.corpId, enc, 1000002));
    }, 400, /decrypt/],
    ['a ciphertext that is not base64', () => {
      const enc = 'not*base64*at*all';
      return post({ msg_signature: getSignature(keys.token, ts, '1', enc), timestamp: ts, nonce: '1' }, envelope(keys.corpId, enc, 1000002));
    }, 400, /base64/],
    ['malformed XML', () => { const c = good(); return post(c.query, c.body.replace('</xml>', '')); }, 400, /well-formed/],
    ['a body that is not XML', () => { const c = good(); return post(c.query, '{"encrypt":"x"}'); }, 400, /XML/],
    ['a DOCTYPE with entities (billion laughs)', () => {
      const c = good();
      return post(c.query, `<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>${c.body}`);
    }, 400, /DOCTYPE/],
    ['an envelope without Encrypt', () => { const c = good(); return post(c.query, '<xml><ToUserName>x</ToUserName></xml>'); }, 400, /Encrypt/],
    ['two Encrypt elements', () => { const c = good(); return post(c.query, c.body.replace('</xml>', `<Encrypt>${c.enc}</Encrypt></xml>`)); }, 400, /Encrypt/],
    ['a decrypted payload that is not XML', () => {
      const enc = encrypt(keys.encodingAESKey, 'just text', keys.corpId);
      return post({ msg_signature: getSignature(keys.token, ts, '1', enc), timestamp: ts, nonce: '1' }, envelope(keys.corpId, enc, 1000002));
    }, 400, /decrypted message/],
    ['a URL check without echostr', () => get({ msg_signature: 'a'.repeat(40), timestamp: ts, nonce: '1' }), 400, /echostr/],
    ['a URL check with a wrong signature', () => {
      const echostr = encrypt(keys.encodingAESKey, '12345', keys.corpId);
      return get({ msg_signature: getSignature('otherToken', ts, '1', echostr), timestamp: ts, nonce: '1', echostr });
    }, 401, /signature/],
    ['a URL check encrypted for another CorpID', () => {
      const echostr = encrypt(keys.encodingAESKey, '12345', 'ww-other-corp');
      return get({ msg_signature: getSignature(keys.token, ts, '1', echostr), timestamp: ts, nonce: '1', echostr });
    }, 401, /receiver/],
  ];
  it.each(cases)('%s', (_name, build, status, reason) => {
    const err = rejection(() => wecomChannel.verify(channel, build(), now));
    expect(err.status).toBe(status);
    expect(err.reason).toMatch(reason);
    for (const secret of [keys.token, keys.encodingAESKey, 'unit-secret']) expect(err.reason).not.toContain(secret);
  });

  it('a channel without callback keys has no webhook (404)', () => {
    const { query, body } = good();
    const err = rejection(() => wecomChannel.verify(wecomConfig({ corpId: keys.corpId, secret: 's' }), post(query, body), now));
    expect(err.status).toBe(404);
  });
});

describe('receive', () => {
  const channel = wecomConfig({ corpId: 'ww-unit-corp', agentId: 1000002 });

  it('events and non-text messages are verified but not answered, with the type as the reason', () => {
    expect(wecomChannel.receive(channel, { MsgType: 'event', Event: 'enter_agent', FromUserName: 'alice' }, 0)).toEqual({
      messages: [],
      response: { status: 200 },
      unhandled: 'event "enter_agent"',
    });
    expect(wecomChannel.receive(channel, { MsgType: 'image', FromUserName: 'alice', MsgId: '9', PicUrl: 'http://x' }, 0)).toMatchObject({
      messages: [],
      unhandled: 'MsgType "image"',
    });
  });

  it('takes sandbox-style JSON fields (numbers allowed) and falls back to the channel agentId', () => {
    const { messages } = wecomChannel.receive(channel, { MsgType: 'text', FromUserName: 'bob', MsgId: 77, Content: '请假流程？' }, 5);
    expect(messages).toEqual([
      expect.objectContaining({ platformMessageId: '77', conversationId: 'bob', text: '请假流程？', replyTarget: { toUser: 'bob', agentId: '1000002' } }),
    ]);
  });

  it('refuses a text message without sender or id, and ids that cannot key a workflow', () => {
    expect(rejection(() => wecomChannel.receive(channel, { MsgType: 'text', Content: 'x', MsgId: '1' }, 0)).status).toBe(400);
    expect(rejection(() => wecomChannel.receive(channel, { MsgType: 'text', Content: 'x', FromUserName: 'a:b', MsgId: '1' }, 0)).reason).toMatch(/FromUserName/);
    expect(rejection(() => wecomChannel.receive(channel, { Content: 'x' }, 0)).reason).toMatch(/MsgType/);
  });
});

describe('send', () => {
  const CORP = { corpId: 'ww-send-corp', secret: 'send-secret-DO-NOT-LEAK', agentId: 1000002 };
  let wecom: FakeWecomServer;
  let channel: ChannelConfig;
  beforeAll(async () => {
    wecom = await startFakeWecomServer(CORP);
    channel = wecomConfig({ ...CORP, apiBase: wecom.apiBase });
  });
  afterAll(() => wecom?.close());
  beforeEach(() => wecom.reset());

  const to = (user: string): InboundMessage => ({
    channelId: 'wc-unit',
    channelType: 'wecom',
    platformMessageId: uniq('m'),
    conversationId: user,
    chatType: 'direct',
    senderId: user,
    text: 'q',
    mentioned: true,
    receivedAt: 0,
    replyTarget: { toUser: user, agentId: '1000002' },
  });
  const reply = (text: string) => ({ text, idempotencyKey: `msg:wc-unit:${uniq('k')}` });

  it('gets a token with corpid and corpsecret, caches it, and sends text to the user and agentid', async () => {
    const kv = memoryStore();
    const first = await wecomChannel.send(channel, to('alice'), reply('你好，alice'), { kv });
    await wecomChannel.send(channel, to('bob'), reply('hello bob'), { kv });
    expect(wecom.requestsFor('gettoken')).toHaveLength(1);
    expect(wecom.requestsFor('gettoken')[0]!.query).toEqual({ corpid: CORP.corpId, corpsecret: CORP.secret });
    const sends = wecom.requestsFor('send');
    expect(sends.map((r) => r.body)).toEqual([
      { touser: 'alice', msgtype: 'text', agentid: 1000002, text: { content: '你好，alice' }, safe: 0 },
      { touser: 'bob', msgtype: 'text', agentid: 1000002, text: { content: 'hello bob' }, safe: 0 },
    ]);
    expect(first.platformMessageId).toBe(wecom.deliveredTo('alice')[0]!.msgid);
  });

  it('refreshes an expired token exactly once and delivers', async () => {
    const kv = memoryStore();
    await wecomChannel.send(channel, to('carol'), reply('one'), { kv });
    wecom.expireTokens();
    await wecomChannel.send(channel, to('carol'), reply('two'), { kv });
    expect(wecom.requestsFor('gettoken')).toHaveLength(2);
    expect(wecom.deliveredTo('carol').map((d) => d.content)).toEqual(['one', 'two']);
  });

  it.each([40014, 40001])('errcode %i on send also gets one fresh token', async (errcode) => {
    const kv = memoryStore();
    wecom.enqueue('send', { errcode });
    await wecomChannel.send(channel, to('dora'), reply('x'), { kv });
    expect(wecom.requestsFor('gettoken')).toHaveLength(2);
    expect(wecom.deliveredTo('dora')).toHaveLength(1);
  });

  it('a token refused again right after refresh is a transient error, not a loop', async () => {
    wecom.enqueue('send', { errcode: 42001 }, { errcode: 42001 });
    const err = await wecomChannel.send(channel, to('erin'), reply('x'), { kv: memoryStore() }).catch((e) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(SendRejected);
    expect(wecom.requestsFor('send')).toHaveLength(2);
    expect(wecom.requestsFor('gettoken')).toHaveLength(2);
  });

  const classify: [string, 'gettoken' | 'send', Parameters<FakeWecomServer['enqueue']>[1], 'retry' | 'reject', RegExp][] = [
    ['send: -1 system busy', 'send', { errcode: -1 }, 'retry', /errcode -1/],
    ['send: 45009 frequency limit', 'send', { errcode: 45009 }, 'retry', /errcode 45009/],
    ['send: 45033 concurrency limit', 'send', { errcode: 45033 }, 'retry', /errcode 45033/],
    ['send: HTTP 502', 'send', { status: 502 }, 'retry', /HTTP 502/],
    ['send: connection dropped', 'send', { dropConnection: true }, 'retry', /fetch failed/],
    ['send: 81013 user invalid', 'send', { errcode: 81013 }, 'reject', /errcode 81013/],
    ['send: 40056 invalid agentid', 'send', { errcode: 40056 }, 'reject', /errcode 40056/],
    ['send: HTTP 403', 'send', { status: 403 }, 'reject', /HTTP 403/],
    ['gettoken: -1 system busy', 'gettoken', { errcode: -1 }, 'retry', /gettoken: errcode -1/],
    ['gettoken: HTTP 503', 'gettoken', { status: 503 }, 'retry', /HTTP 503/],
    ['gettoken: 40001 invalid secret', 'gettoken', { errcode: 40001, errmsg: 'invalid credential' }, 'reject', /gettoken: errcode 40001 \(invalid credential/],
    ['gettoken: 40013 invalid corpid', 'gettoken', { errcode: 40013 }, 'reject', /gettoken: errcode 40013/],
  ];
  it.each(classify)('%s', async (_name, endpoint, step, kind, message) => {
    wecom.enqueue(endpoint, step);
    const err = await wecomChannel.send(channel, to('frank'), reply('x'), { kv: memoryStore() }).catch((e) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err instanceof SendRejected).toBe(kind === 'reject');
    expect(err.message).toMatch(message);
    expect(wecom.deliveredTo('frank')).toHaveLength(0);
  });

  it('a user outside the visible range (errcode 0 with invaliduser) is refused', async () => {
    const strict = await startFakeWecomServer({ ...CORP, users: ['grace'] });
    try {
      const ch = wecomConfig({ ...CORP, apiBase: strict.apiBase });
      await expect(wecomChannel.send(ch, to('mallory'), reply('x'), { kv: memoryStore() })).rejects.toBeInstanceOf(SendRejected);
      await wecomChannel.send(ch, to('grace'), reply('ok'), { kv: memoryStore() });
      expect(strict.delivered.map((d) => d.touser)).toEqual(['grace']);
    } finally {
      await strict.close();
    }
  });

  it('never puts the corpsecret in an error, even when the token call fails on the network', async () => {
    const down = wecomConfig({ ...CORP, apiBase: 'http://127.0.0.1:9' });
    const err = await wecomChannel.send(down, to('hank'), reply('x'), { kv: memoryStore() }).catch((e) => e);
    expect(err).not.toBeInstanceOf(SendRejected);
    wecom.enqueue('gettoken', { errcode: 40001 });
    const refused = await wecomChannel.send(channel, to('hank'), reply('x'), { kv: memoryStore() }).catch((e) => e);
    for (const e of [err, refused]) {
      const everything = JSON.stringify(e, Object.getOwnPropertyNames(e)) + String(e.stack) + String(e.cause?.message);
      expect(everything).not.toContain(CORP.secret);
      expect(everything).not.toContain('corpsecret');
    }
  });

  it('a channel without secret or agentId cannot send (refused, not retried)', async () => {
    await expect(wecomChannel.send(wecomConfig({ corpId: 'c', agentId: 1 }), { ...to('x'), replyTarget: undefined }, reply('x'), { kv: memoryStore() })).rejects.toBeInstanceOf(SendRejected);
    await expect(wecomChannel.send(wecomConfig({ corpId: 'c', secret: 's' }), { ...to('x'), replyTarget: { toUser: 'x' } }, reply('x'), { kv: memoryStore() })).rejects.toThrow(/agentId/);
  });

  describe('long answers', () => {
    const long = longChinese(5000);

    it('go out as ordered text parts of at most 2048 bytes that add up to the whole answer', async () => {
      await wecomChannel.send(channel, to('ivy'), reply(long), { kv: memoryStore() });
      const contents = wecom.requestsFor('send').map((r) => r.body.text.content as string);
      expect(contents.length).toBe(3);
      for (const c of contents) expect(Buffer.byteLength(c)).toBeLessThanOrEqual(TEXT_LIMIT_BYTES);
      expect(contents.join('')).toBe(long);
      expect(wecom.deliveredTo('ivy').map((d) => d.content)).toEqual(contents);
    });

    it('a retried send resumes after the parts already delivered', async () => {
      const kv = memoryStore();
      const r = reply(long);
      wecom.enqueue('send', {}, { status: 502 }); // part 1 goes through, part 2 hits a gateway error
      await expect(wecomChannel.send(channel, to('jack'), r, { kv })).rejects.toThrow(/HTTP 502/);
      expect(wecom.deliveredTo('jack')).toHaveLength(1);
      const done = await wecomChannel.send(channel, to('jack'), r, { kv }); // what Temporal's retry does
      const parts = wecom.deliveredTo('jack');
      expect(parts.map((d) => d.content).join('')).toBe(long);
      expect(parts).toHaveLength(3);
      expect(done.platformMessageId).toBe(parts.map((d) => d.msgid).join(','));
      // a retry after everything was delivered sends nothing
      await wecomChannel.send(channel, to('jack'), r, { kv });
      expect(wecom.deliveredTo('jack')).toHaveLength(3);
    });

    it('a token expiring between parts is refreshed once and the rest follows', async () => {
      const kv = memoryStore();
      wecom.enqueue('send', {}, { errcode: 42001 });
      await wecomChannel.send(channel, to('kate'), reply(long), { kv });
      expect(wecom.deliveredTo('kate').map((d) => d.content).join('')).toBe(long);
      expect(wecom.requestsFor('gettoken')).toHaveLength(2);
    });
  });
});

/** Chinese prose of exactly `bytes` UTF-8 bytes, sentence-punctuated like a model answer. */
function longChinese(bytes: number): string {
  const sentences = ['企业微信的文本消息最多两千零四十八个字节。', '较长的回答会按顺序分成几条发送，不会被悄悄截断！', '每一条都在限制之内；合起来就是完整的回答？'];
  let text = '';
  for (let i = 0; Buffer.byteLength(text) < bytes - 60; i++) text += `第${i + 1}句：${sentences[i % 3]}`;
  while (Buffer.byteLength(text) + 3 <= bytes) text += '好';
  while (Buffer.byteLength(text) < bytes) text += '.';
  return text;
}

// ---------------------------------------------------------------------------------------------------
// End to end: the real HTTP route, Temporal workflows, the fake model and this fake WeCom server.

describe('end to end (Temporal namespace it-wecom)', () => {
  const KEYS = { token: 'e2eCallbackToken', encodingAESKey: 'ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut', corpId: 'ww-imflow-e2e' };
  const CORP = { corpId: KEYS.corpId, secret: 'e2e-corp-secret-9f3a', agentId: 1000002 };
  // unique per run: with REDIS_URL the token cache outlives this process
  const CHANNEL = uniq('wc-e2e');
  let stack: Stack;
  let wecom: FakeWecomServer;

  beforeAll(async () => {
    wecom = await startFakeWecomServer(CORP);
    stack = await startStack({
      namespace: 'it-wecom',
      config: { channels: [{ id: CHANNEL, type: 'wecom', ...KEYS, ...CORP, apiBase: wecom.apiBase }] },
    });
  });
  afterAll(async () => {
    await stack?.stop();
    await wecom?.close();
  });

  const webhook = (query: Record<string, string>, channelId = CHANNEL) => `${stack.url}/webhooks/wecom/${channelId}?${new URLSearchParams(query)}`;
  /** A user's text message, as WeCom POSTs it. */
  function inbound(user: string, content: string, o: Parameters<typeof signedCallback>[2] = {}) {
    const msgId = String(crypto.randomInt(1e9, 1e12));
    const cb = signedCallback(KEYS, textXml({ corpId: KEYS.corpId, from: user, content, msgId, agentId: CORP.agentId, createTime: Math.floor(Date.now() / 1000) }), o);
    return { ...cb, msgId, workflowId: `msg:${CHANNEL}:${msgId}` };
  }
  const deliver = (cb: { query: Record<string, string>; body: string }, channelId?: string) =>
    fetch(webhook(cb.query, channelId), { method: 'POST', headers: { 'content-type': 'text/xml' }, body: cb.body });
  const sendsTo = (user: string) => wecom.requestsFor('send').filter((r) => r.body?.touser === user);

  it('answers the URL verification through the route with the bare plaintext', async () => {
    let echostr = '';
    while (!echostr.includes('+')) echostr = encrypt(KEYS.encodingAESKey, String(crypto.randomInt(1e9, 1e14)), KEYS.corpId);
    const plain = decrypt(KEYS.encodingAESKey, echostr).message;
    const timestamp = String(Math.floor(Date.now() / 1000));
    const query = { msg_signature: getSignature(KEYS.token, timestamp, '4242', echostr), timestamp, nonce: '4242', echostr };
    const res = await fetch(webhook(query)); // URLSearchParams encodes "+" "/" "=" as WeCom does
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await res.text()).toBe(plain);

    const bad = await fetch(webhook({ ...query, msg_signature: getSignature('otherToken', timestamp, '4242', echostr) }));
    expect(bad.status).toBe(401);
  });

  it('acks a text message at once with an empty body, then answers through message/send', async () => {
    const user = uniq('alice');
    const cb = inbound(user, '年假怎么申请？');
    stack.fake.enqueue('qwen3:32b', { text: 'fake answer to: 年假怎么申请？', firstTokenDelayMs: 1500 });
    const started = Date.now();
    const res = await deliver(cb);
    const ackMs = Date.now() - started;
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('');
    expect(ackMs).toBeLessThan(1000); // the model takes 1.5 s: the ack did not wait for it
    expect(sendsTo(user)).toHaveLength(0);

    await waitFor('the reply', () => wecom.deliveredTo(user).length > 0);
    expect(sendsTo(user).map((r) => r.body)).toEqual([
      { touser: user, msgtype: 'text', agentid: CORP.agentId, text: { content: 'fake answer to: 年假怎么申请？' }, safe: 0 },
    ]);
    expect(wecom.requestsFor('gettoken').at(-1)!.query).toEqual({ corpid: CORP.corpId, corpsecret: CORP.secret });
  });

  it('delivers a 5000-byte Chinese answer as ordered parts of at most 2048 bytes', async () => {
    const user = uniq('bob');
    const answer = longChinese(5000);
    expect(Buffer.byteLength(answer)).toBe(5000);
    stack.fake.enqueue('qwen3:32b', { text: answer });
    expect((await deliver(inbound(user, '给我写一份长说明'))).status).toBe(200);
    await waitFor('all parts', () => wecom.deliveredTo(user).map((d) => d.content).join('') === answer);
    const contents = sendsTo(user).map((r) => r.body.text.content as string);
    expect(contents.length).toBeGreaterThanOrEqual(3);
    for (const c of contents) expect(Buffer.byteLength(c)).toBeLessThanOrEqual(TEXT_LIMIT_BYTES);
    expect(contents.join('')).toBe(answer);
  });

  it('the same callback delivered 4 times gets exactly one reply', async () => {
    const user = uniq('carol');
    const text = `重复投递 ${uniq('t')}`;
    const cb = inbound(user, text);
    const statuses = await Promise.all([1, 2, 3, 4].map(async () => (await deliver(cb)).status));
    expect(statuses).toEqual([200, 200, 200, 200]);
    await waitFor('the reply', () => wecom.deliveredTo(user).length > 0);
    await new Promise((r) => setTimeout(r, 1500)); // room for a duplicate to show up
    expect(wecom.deliveredTo(user).map((d) => d.content)).toEqual([`fake answer to: ${text}`]);
    expect(stack.fake.requests.filter((r) => r.messages.at(-1).content === text)).toHaveLength(1);
  });

  it('refuses every bad request with the right 4xx and starts nothing', async () => {
    const before = (await stack.imflow.client.workflow.count()).count;
    const modelCalls = stack.fake.requests.length;
    const wecomCalls = wecom.requests.length;
    const user = uniq('mallory');
    const ts = () => String(Math.floor(Date.now() / 1000));
    const undecryptable = crypto.randomBytes(96).toString('base64');
    const cases: [string, () => Promise<Response>, number][] = [
      ['bad signature', () => { const c = inbound(user, 'x'); return deliver({ ...c, query: { ...c.query, msg_signature: '0'.repeat(40) } }); }, 401],
      ['stale timestamp', () => deliver(inbound(user, 'x', { timestamp: String(Math.floor(Date.now() / 1000) - 7200) })), 401],
      ['wrong token', () => deliver(inbound(user, 'x', { signToken: 'notTheToken' })), 401],
      ['wrong CorpID', () => deliver(inbound(user, 'x', { receiverId: 'ww-someone-else' })), 401],
      ['undecryptable payload', () => {
        const t = ts();
        return deliver({ query: { msg_signature: getSignature(KEYS.token, t, '7', undecryptable), timestamp: t, nonce: '7' }, body: envelope(KEYS.corpId, undecryptable, 1000002) });
      }, 400],
      ['malformed XML', () => { const c = inbound(user, 'x'); return deliver({ ...c, body: c.body.slice(0, -8) }); }, 400],
      ['unknown channel', () => deliver(inbound(user, 'x'), 'wc-nope'), 404],
      ['URL check with a bad signature', () => {
        const echostr = encrypt(KEYS.encodingAESKey, '1', KEYS.corpId);
        return fetch(webhook({ msg_signature: 'a'.repeat(40), timestamp: ts(), nonce: '1', echostr }));
      }, 401],
    ];
    for (const [name, send, status] of cases) {
      const res = await send();
      expect({ name, status: res.status }).toEqual({ name, status });
      const body = await res.text();
      for (const secret of [KEYS.token, KEYS.encodingAESKey, CORP.secret]) expect(body).not.toContain(secret);
    }
    await new Promise((r) => setTimeout(r, 500));
    expect((await stack.imflow.client.workflow.count()).count).toBe(before);
    expect(stack.fake.requests.length).toBe(modelCalls);
    expect(wecom.requests.length).toBe(wecomCalls);
  });

  it('a send that fails with a 5xx is retried and delivered once', async () => {
    const user = uniq('dave');
    wecom.enqueue('send', { status: 502 });
    await deliver(inbound(user, '五百错误后重试'));
    await waitFor('the retried reply', () => wecom.deliveredTo(user).length > 0);
    await new Promise((r) => setTimeout(r, 1000));
    expect(wecom.deliveredTo(user)).toHaveLength(1);
    expect(sendsTo(user)).toHaveLength(2);
  });

  it('a refused send (errcode 81013) fails the reply step and is not retried', async () => {
    const user = uniq('erin');
    wecom.enqueue('send', { errcode: 81013 });
    const cb = inbound(user, '发给不存在的人');
    await deliver(cb);
    const run = await waitFor('the failed run', async () => {
      const r = await stack.api('GET', `/api/runs/${encodeURIComponent(cb.workflowId)}`);
      return r.status === 200 && r.body.status === 'failed' && r.body;
    });
    const replyStep = run.trace.find((s: any) => s.step === 'reply');
    expect(replyStep.status).toBe('failed');
    expect(replyStep.error).toMatch(/81013/);
    await new Promise((r) => setTimeout(r, 2500)); // the retry policy's first interval is 1 s
    expect(sendsTo(user)).toHaveLength(1);
    expect(wecom.deliveredTo(user)).toHaveLength(0);
  });

  it('an expired token is refreshed once and the answer goes through', async () => {
    const user = uniq('fay');
    const tokensBefore = wecom.requestsFor('gettoken').length;
    wecom.expireTokens();
    await deliver(inbound(user, '令牌过期了吗'));
    await waitFor('the reply', () => wecom.deliveredTo(user).length > 0);
    expect(wecom.requestsFor('gettoken').length).toBe(tokensBefore + 1);
    expect(sendsTo(user)).toHaveLength(2); // 42001 with the old token, then the answer
    expect(wecom.deliveredTo(user).map((d) => d.content)).toEqual(['fake answer to: 令牌过期了吗']);
  });
});
