/**
 * Fake Feishu/Lark open platform for tests: the tenant token endpoint and the message reply endpoint,
 * answering in Feishu's wire format (errors are a `code` in the JSON body, mostly with HTTP 400). It
 * honours the reply `uuid` as Feishu does: a second send with the same uuid within an hour answers with
 * the first message and delivers nothing new. Failures are scripted per endpoint with enqueue().
 *
 * Also what Feishu itself does on the inbound side: encrypt an event (the official scheme) and build the
 * signed callback request it would POST.
 */
import crypto from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { larkSignature } from '../../channels/feishu.js';
import { readBody } from './http.js';

export type FeishuEndpoint = 'token' | 'reply';

export interface FeishuFakeStep {
  /** HTTP status (default 200 with code 0, 400 when `code` is set) */
  status?: number;
  /** Feishu error code in the body, e.g. 99991663 token invalid, 99991400 rate limit, 230002 bot not in chat */
  code?: number;
  msg?: string;
  /** wait before answering (also applies to successful steps) */
  delayMs?: number;
}

export interface RecordedCall {
  endpoint: FeishuEndpoint;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: any;
  receivedAt: number;
}

export interface DeliveredReply {
  /** the new message's id */
  messageId: string;
  /** the message it answers (path parameter) */
  replyTo: string;
  msgType: string;
  /** `content` parsed: `{ text }` for text */
  content: any;
  uuid?: string;
}

export interface FakeFeishuServer {
  /** put in the channel's apiBase */
  baseURL: string;
  appId: string;
  appSecret: string;
  /** every request, in order */
  requests: RecordedCall[];
  /** messages really delivered (a uuid repeat is not one) */
  delivered: DeliveredReply[];
  tokensIssued(): number;
  enqueue(endpoint: FeishuEndpoint, ...steps: FeishuFakeStep[]): void;
  /** every token issued so far becomes invalid, as when Feishu expires one early */
  revokeTokens(): void;
  reset(): void;
  close(): Promise<void>;
}

const UUID_WINDOW_MS = 60 * 60_000;
const TEXT_BODY_MAX = 150 * 1024;


function answer(res: ServerResponse, status: number, body: unknown): void {
  if (res.destroyed) return;
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
}

export async function startFakeFeishuServer(opts: { appId?: string; appSecret?: string; expireSec?: number } = {}): Promise<FakeFeishuServer> {
  const appId = opts.appId ?? 'cli_fake0123456789ab';
  const appSecret = opts.appSecret ?? crypto.randomBytes(16).toString('hex');
  const requests: RecordedCall[] = [];
  const delivered: DeliveredReply[] = [];
  const queues: Record<FeishuEndpoint, FeishuFakeStep[]> = { token: [], reply: [] };
  const validTokens = new Set<string>();
  const byUuid = new Map<string, { at: number; data: object }>();
  let issued = 0;
  let seq = 0;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]!;
    const replyMatch = /^\/open-apis\/im\/v1\/messages\/([^/]+)\/reply$/.exec(path);
    const endpoint: FeishuEndpoint | undefined =
      path === '/open-apis/auth/v3/tenant_access_token/internal' ? 'token' : replyMatch ? 'reply' : undefined;
    if (req.method !== 'POST' || !endpoint) return answer(res, 404, { code: 404, msg: `fake feishu: no route ${req.method} ${path}` });

    const text = await readBody(req);
    let body: any;
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
    requests.push({ endpoint, path, headers: { ...req.headers }, body, receivedAt: Date.now() });

    const step = queues[endpoint].shift();
    if (step?.delayMs) await new Promise((r) => setTimeout(r, step.delayMs));
    if (step && (step.code !== undefined || step.status !== undefined)) {
      const status = step.status ?? 400;
      return answer(res, status, status >= 500 ? { code: 1500, msg: step.msg ?? 'internal error' } : { code: step.code ?? status, msg: step.msg ?? `fake error ${step.code ?? status}` });
    }
    if (typeof body !== 'object' || body === null) return answer(res, 400, { code: 9499, msg: 'Bad Request: body is not JSON' });

    if (endpoint === 'token') {
      if (body.app_id !== appId || body.app_secret !== appSecret) return answer(res, 400, { code: 10014, msg: 'app secret invalid' });
      const token = `t-${crypto.randomBytes(12).toString('hex')}`;
      validTokens.add(token);
      issued++;
      return answer(res, 200, { code: 0, msg: 'ok', tenant_access_token: token, expire: opts.expireSec ?? 7200 });
    }

    const auth = req.headers.authorization;
    if (!auth) return answer(res, 400, { code: 99991661, msg: 'Missing access token for authorization. Please make a request with token attached.' });
    if (!validTokens.has(auth.replace(/^Bearer /, ''))) {
      return answer(res, 400, { code: 99991663, msg: 'Invalid access token for authorization. Please make a request with token attached.' });
    }
    const replyTo = decodeURIComponent(replyMatch![1]!);
    if (!replyTo.startsWith('om_')) return answer(res, 400, { code: 230001, msg: 'Your request contains an invalid request parameter, ext=invalid message_id' });
    if (body.uuid !== undefined && (typeof body.uuid !== 'string' || body.uuid.length > 50)) {
      return answer(res, 400, { code: 99992402, msg: 'field validation failed: uuid must be at most 50 characters' });
    }
    let content: any;
    try {
      content = JSON.parse(body.content);
    } catch {
      content = undefined;
    }
    if (body.msg_type !== 'text' || typeof content?.text !== 'string') {
      return answer(res, 400, { code: 230001, msg: 'Your request contains an invalid request parameter, ext=invalid message content' });
    }
    if (Buffer.byteLength(text) > TEXT_BODY_MAX) return answer(res, 400, { code: 230025, msg: 'The length of the message content reaches its limit.' });

    const now = Date.now();
    const earlier = body.uuid ? byUuid.get(body.uuid) : undefined;
    if (earlier && now - earlier.at < UUID_WINDOW_MS) return answer(res, 200, { code: 0, msg: 'success', data: earlier.data });

    const messageId = `om_fake${++seq}${crypto.randomBytes(6).toString('hex')}`;
    const data = { message_id: messageId, parent_id: replyTo, root_id: replyTo, msg_type: 'text', create_time: String(now), body: { content: body.content } };
    if (body.uuid) byUuid.set(body.uuid, { at: now, data });
    delivered.push({ messageId, replyTo, msgType: body.msg_type, content, uuid: body.uuid });
    return answer(res, 200, { code: 0, msg: 'success', data });
  }

  const server = createServer((req, res) => {
    req.on('error', () => {});
    res.on('error', () => {});
    handle(req, res).catch((err) => answer(res, 500, { code: 1500, msg: `fake feishu bug: ${(err as Error).message}` }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  return {
    baseURL: `http://127.0.0.1:${port}`,
    appId,
    appSecret,
    requests,
    delivered,
    tokensIssued: () => issued,
    enqueue(endpoint, ...steps) {
      queues[endpoint].push(...steps);
    },
    revokeTokens() {
      validTokens.clear();
    },
    reset() {
      requests.length = 0;
      delivered.length = 0;
      queues.token.length = 0;
      queues.reply.length = 0;
    },
    close() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

// ---- the inbound side: what Feishu POSTs to the callback URL ----

/** Feishu's event encryption: base64(iv ‖ AES-256-CBC(key = SHA-256(Encrypt Key), PKCS#7(plaintext))). */
export function feishuEncrypt(encryptKey: string, plaintext: string, iv: Buffer = crypto.randomBytes(16)): string {
  const key = crypto.createHash('sha256').update(encryptKey).digest();
  const cipher = crypto.createCipheriv('aes-256-cbc', key, iv);
  return Buffer.concat([iv, cipher.update(plaintext, 'utf8'), cipher.final()]).toString('base64');
}

/**
 * The callback request Feishu sends for `payload`: encrypted and signed when the app has an Encrypt Key
 * (`signed: false` as for the URL-verification challenge), plain JSON otherwise.
 */
export function feishuCallback(
  payload: object,
  opts: { encryptKey?: string; signed?: boolean; timestamp?: number; nonce?: string } = {},
): { headers: Record<string, string>; body: string } {
  const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8' };
  if (!opts.encryptKey) return { headers, body: JSON.stringify(payload) };
  const body = JSON.stringify({ encrypt: feishuEncrypt(opts.encryptKey, JSON.stringify(payload)) });
  if (opts.signed !== false) {
    const timestamp = String(opts.timestamp ?? Math.floor(Date.now() / 1000));
    const nonce = opts.nonce ?? crypto.randomBytes(8).toString('hex');
    headers['x-lark-request-timestamp'] = timestamp;
    headers['x-lark-request-nonce'] = nonce;
    headers['x-lark-signature'] = larkSignature(timestamp, nonce, opts.encryptKey, body);
  }
  return { headers, body };
}

export interface FeishuMessageEventOptions {
  token?: string;
  eventId?: string;
  messageId?: string;
  chatId?: string;
  chatType?: 'p2p' | 'group';
  senderOpenId?: string;
  messageType?: string;
  /** the message content object (serialised into the `content` string, as Feishu does) */
  content: object;
  mentions?: { key: string; name: string; openId: string }[];
}

/** An `im.message.receive_v1` event (schema 2.0) as Feishu pushes it, decrypted. */
export function feishuMessageEvent(o: FeishuMessageEventOptions) {
  const hex = (n: number) => crypto.randomBytes(n).toString('hex');
  return {
    schema: '2.0',
    header: {
      event_id: o.eventId ?? hex(16),
      event_type: 'im.message.receive_v1',
      create_time: String(Date.now()),
      token: o.token ?? '',
      app_id: 'cli_fake0123456789ab',
      tenant_key: 'tenant_fake',
    },
    event: {
      sender: { sender_id: { union_id: `on_${hex(8)}`, user_id: 'u1', open_id: o.senderOpenId ?? `ou_${hex(8)}` }, sender_type: 'user', tenant_key: 'tenant_fake' },
      message: {
        message_id: o.messageId ?? `om_${hex(16)}`,
        root_id: '',
        parent_id: '',
        create_time: String(Date.now()),
        chat_id: o.chatId ?? `oc_${hex(16)}`,
        chat_type: o.chatType ?? 'group',
        message_type: o.messageType ?? 'text',
        content: JSON.stringify(o.content),
        mentions: (o.mentions ?? []).map((m) => ({
          key: m.key,
          id: { union_id: `on_${hex(8)}`, user_id: '', open_id: m.openId },
          name: m.name,
          tenant_key: 'tenant_fake',
        })),
      },
    },
  };
}
