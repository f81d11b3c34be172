/**
 * Fake WeCom server API (qyapi.weixin.qq.com) for tests: `GET /cgi-bin/gettoken` and
 * `POST /cgi-bin/message/send`, answering like WeCom does: HTTP 200 with `{errcode, errmsg, …}`.
 * Records every request and every delivered message; failures are scripted per endpoint
 * (HTTP status, errcode, latency, dropped connection) and issued tokens can be expired at will.
 */
import crypto from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readBody } from './http.js';

export type WecomEndpoint = 'gettoken' | 'send';

export interface WecomFakeStep {
  /** answer with this HTTP status and a plain-text body (a proxy or gateway error) */
  status?: number;
  /** answer HTTP 200 with this errcode (e.g. -1 busy, 42001 expired token, 81013 invalid user) */
  errcode?: number;
  errmsg?: string;
  /** wait this long before answering */
  delayMs?: number;
  /** destroy the socket without answering */
  dropConnection?: boolean;
}

export interface WecomRecordedRequest {
  endpoint: WecomEndpoint;
  query: Record<string, string>;
  body?: any;
  receivedAt: number;
}

export interface WecomDelivered {
  touser: string;
  agentid: number;
  /** as WeCom shows it: cut at 2048 bytes like the real server does */
  content: string;
  msgid: string;
}

export interface FakeWecomServer {
  /** the channel's apiBase */
  apiBase: string;
  requests: WecomRecordedRequest[];
  /** messages accepted with errcode 0, in order */
  delivered: WecomDelivered[];
  /** each request to the endpoint consumes the first queued step; none queued → normal behaviour */
  enqueue(endpoint: WecomEndpoint, ...steps: WecomFakeStep[]): void;
  /** every token issued so far answers 42001 from now on, as after its 7200 s */
  expireTokens(): void;
  deliveredTo(touser: string): WecomDelivered[];
  requestsFor(endpoint: WecomEndpoint): WecomRecordedRequest[];
  reset(): void;
  close(): Promise<void>;
}

export interface FakeWecomOptions {
  corpId: string;
  secret: string;
  agentId: number;
  /** when set, touser outside this list is answered 81013 (as for a user outside the app's visible range) */
  users?: string[];
}

const MAX_TEXT_BYTES = 2048;

/** WeCom cuts text content at 2048 bytes ("超过将截断"), never inside a character. */
function truncateBytes(text: string, max: number): string {
  let bytes = 0;
  let out = '';
  for (const ch of text) {
    bytes += Buffer.byteLength(ch);
    if (bytes > max) break;
    out += ch;
  }
  return out;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}


export async function startFakeWecomServer(opts: FakeWecomOptions): Promise<FakeWecomServer> {
  const queues: Record<WecomEndpoint, WecomFakeStep[]> = { gettoken: [], send: [] };
  const requests: WecomRecordedRequest[] = [];
  const delivered: WecomDelivered[] = [];
  const live = new Set<string>();
  const expired = new Set<string>();

  const json = (res: ServerResponse, body: object) => {
    if (res.destroyed) return;
    res.writeHead(200, { 'content-type': 'application/json; charset=UTF-8' });
    res.end(JSON.stringify(body));
  };
  const err = (errcode: number, errmsg: string) => ({ errcode, errmsg: `${errmsg}, hint: [fake], more info at https://open.work.weixin.qq.com/devtool/query?e=${errcode}` });

  function gettoken(query: Record<string, string>) {
    if (query.corpid !== opts.corpId) return err(40013, 'invalid corpid');
    if (query.corpsecret !== opts.secret) return err(40001, 'invalid credential');
    const token = `fake-tok-${crypto.randomBytes(12).toString('hex')}`;
    live.add(token);
    return { errcode: 0, errmsg: 'ok', access_token: token, expires_in: 7200 };
  }

  function send(query: Record<string, string>, body: any) {
    const token = query.access_token;
    if (!token) return err(41001, 'access_token missing');
    if (expired.has(token)) return err(42001, 'access_token expired');
    if (!live.has(token)) return err(40014, 'invalid access_token');
    if (body === undefined) return err(47001, 'data format error, Warning: wrong json format.');
    if (body.agentid !== opts.agentId) return err(40056, 'invalid agentid');
    if (body.msgtype !== 'text') return err(40008, 'invalid message type');
    if (typeof body.text?.content !== 'string' || !body.text.content) return err(44004, 'empty content');
    if (opts.users && !opts.users.includes(body.touser)) return err(81013, 'user & party & tag all invalid');
    const msgid = `fake-msg-${crypto.randomBytes(8).toString('hex')}`;
    delivered.push({ touser: body.touser, agentid: body.agentid, content: truncateBytes(body.text.content, MAX_TEXT_BYTES), msgid });
    return { errcode: 0, errmsg: 'ok', msgid };
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://fake');
    const endpoint: WecomEndpoint | undefined =
      req.method === 'GET' && url.pathname === '/cgi-bin/gettoken' ? 'gettoken' : req.method === 'POST' && url.pathname === '/cgi-bin/message/send' ? 'send' : undefined;
    if (!endpoint) {
      res.writeHead(404).end('not found');
      return;
    }
    const query = Object.fromEntries(url.searchParams);
    const rec: WecomRecordedRequest = { endpoint, query, receivedAt: Date.now() };
    if (endpoint === 'send') rec.body = parseJson(await readBody(req));
    requests.push(rec);
    const step = queues[endpoint].shift() ?? {};
    if (step.delayMs) await new Promise((r) => setTimeout(r, step.delayMs));
    if (step.dropConnection) {
      req.socket.destroy();
      return;
    }
    if (step.status !== undefined) {
      res.writeHead(step.status, { 'content-type': 'text/plain' }).end(`fake HTTP ${step.status}`);
      return;
    }
    if (step.errcode !== undefined) {
      json(res, err(step.errcode, step.errmsg ?? 'scripted error'));
      return;
    }
    json(res, endpoint === 'gettoken' ? gettoken(query) : send(query, rec.body));
  }

  const server = createServer((req, res) => {
    req.on('error', () => {});
    res.on('error', () => {});
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500).end('fake server bug');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    apiBase: `http://127.0.0.1:${port}`,
    requests,
    delivered,
    enqueue(endpoint, ...steps) {
      queues[endpoint].push(...steps);
    },
    expireTokens() {
      for (const t of live) expired.add(t);
    },
    deliveredTo: (touser) => delivered.filter((d) => d.touser === touser),
    requestsFor: (endpoint) => requests.filter((r) => r.endpoint === endpoint),
    reset() {
      queues.gettoken.length = 0;
      queues.send.length = 0;
      requests.length = 0;
      delivered.length = 0;
    },
    close() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
