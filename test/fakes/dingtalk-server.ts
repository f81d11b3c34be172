/**
 * Fake DingTalk servers for tests: the OpenAPI (api.dingtalk.com: access token, robot group and 1:1 sends)
 * and the session webhook (oapi.dingtalk.com/robot/sendBySession). Both live on one port, so a channel's
 * `apiBase` and `oapiBase` both point here. Speaks DingTalk's wire formats, including its failures:
 * HTTP 400 `{"code":"InvalidAuthentication"}` for a bad token, `{"errcode":300001}` for a dead session,
 * plus whatever a test scripts per endpoint (HTTP status, error codes, latency, dropped connections).
 */
import crypto from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readBody } from './http.js';

export type DingTalkEndpoint = 'token' | 'session' | 'group' | 'oto';

export interface DingTalkStep {
  /** answer with this HTTP status and `body` (default: DingTalk's error body for the status) */
  status?: number;
  body?: unknown;
  /** sendBySession: answer 200 with this errcode */
  errcode?: number;
  /** OpenAPI: answer 400 `{"code":"InvalidAuthentication"}` as for an expired token */
  tokenExpired?: boolean;
  delayMs?: number;
  dropConnection?: boolean;
}

export interface RecordedCall {
  endpoint: DingTalkEndpoint;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string | string[] | undefined>;
  body: any;
  /** HTTP status and body the fake answered with */
  status: number;
  answer: unknown;
}

/** One message that reached a chat, decoded from whichever API carried it. */
export interface Delivered {
  via: 'session' | 'group' | 'oto';
  /** session id, openConversationId, or the userIds joined by "," */
  to: string;
  kind: 'text' | 'markdown';
  text: string;
  title?: string;
  atUserIds: string[];
  robotCode?: string;
  token?: string;
}

export interface FakeDingTalk {
  /** http://127.0.0.1:PORT: use as both apiBase and oapiBase */
  url: string;
  calls: RecordedCall[];
  delivered: Delivered[];
  /** a live session webhook URL, as DingTalk puts in an inbound message */
  openSession(session?: string): string;
  /** queue scripted answers for an endpoint; each request takes the first one queued */
  failNext(endpoint: DingTalkEndpoint, ...steps: DingTalkStep[]): void;
  /** every token issued so far is refused from now on (as after DingTalk's 2 h expiry) */
  expireTokens(): void;
  callsTo(endpoint: DingTalkEndpoint): RecordedCall[];
  reset(): void;
  close(): Promise<void>;
}

const ENDPOINTS: Record<string, DingTalkEndpoint> = {
  '/v1.0/oauth2/accessToken': 'token',
  '/robot/sendBySession': 'session',
  '/v1.0/robot/groupMessages/send': 'group',
  '/v1.0/robot/oToMessages/batchSend': 'oto',
};

const requestId = () => crypto.randomUUID().toUpperCase();
const openApiError = (code: string, message: string) => ({ code, message, requestid: requestId() });


export async function startFakeDingTalk(opts: { appKey: string; appSecret: string; robotCode: string }): Promise<FakeDingTalk> {
  const calls: RecordedCall[] = [];
  const delivered: Delivered[] = [];
  const queues = new Map<DingTalkEndpoint, DingTalkStep[]>();
  const sessions = new Set<string>();
  let validTokens = new Set<string>();

  function answer(res: ServerResponse, rec: RecordedCall, status: number, body: unknown) {
    rec.status = status;
    rec.answer = body;
    res.writeHead(status, { 'content-type': 'application/json;charset=utf-8' });
    res.end(JSON.stringify(body));
  }

  /** The real server's answer when nothing is scripted. */
  function serve(endpoint: DingTalkEndpoint, rec: RecordedCall): [number, unknown] {
    const b = rec.body;
    if (endpoint === 'token') {
      if (b?.appKey !== opts.appKey || b?.appSecret !== opts.appSecret) return [400, openApiError('invalidClientIdOrSecret', '无效的clientId或者clientSecret')];
      const token = crypto.randomBytes(16).toString('hex');
      validTokens.add(token);
      return [200, { accessToken: token, expireIn: 7200 }];
    }
    if (endpoint === 'session') {
      if (!sessions.has(rec.query.session ?? '')) return [200, { errcode: 300001, errmsg: 'session 不存在' }];
      const kind = b?.msgtype;
      const text = kind === 'text' ? b.text?.content : kind === 'markdown' ? b.markdown?.text : undefined;
      if (typeof text !== 'string' || (kind === 'markdown' && typeof b.markdown?.title !== 'string')) return [200, { errcode: 40035, errmsg: '缺少参数 json' }];
      delivered.push({ via: 'session', to: rec.query.session!, kind, text, title: b.markdown?.title, atUserIds: b.at?.atUserIds ?? [] });
      return [200, { errcode: 0, errmsg: 'ok' }];
    }
    const token = rec.headers['x-acs-dingtalk-access-token'];
    if (typeof token !== 'string' || !validTokens.has(token)) return [400, openApiError('InvalidAuthentication', '不合法的access_token')];
    if (b?.robotCode !== opts.robotCode) return [400, openApiError('invalidParameter.robotCode.auth', 'robotCode 与应用不匹配')];
    if (b?.msgKey !== 'sampleText' && b?.msgKey !== 'sampleMarkdown') return [400, openApiError('invalidParameter.msgKey.invalid', 'msgKey 不合法')];
    let param: any;
    try {
      param = JSON.parse(b.msgParam);
    } catch {
      return [400, openApiError('invalidParameter.msgParam.invalid', 'msgParam 必须是 JSON 格式')];
    }
    const kind = b.msgKey === 'sampleText' ? 'text' : 'markdown';
    const text = kind === 'text' ? param?.content : param?.text;
    if (typeof text !== 'string') return [400, openApiError('invalidParameter.msgParam.invalid', 'msgParam 缺少内容')];
    if (endpoint === 'group') {
      if (typeof b.openConversationId !== 'string') return [400, openApiError('invalidParameter.openConversationId.empty', 'openConversationId 为空')];
      delivered.push({ via: 'group', to: b.openConversationId, kind, text, title: param.title, atUserIds: [], robotCode: b.robotCode, token });
      return [200, { processQueryKey: requestId() }];
    }
    if (!Array.isArray(b.userIds) || !b.userIds.length) return [400, openApiError('invalidParameter.userIds.empty', 'userIds 为空')];
    delivered.push({ via: 'oto', to: b.userIds.join(','), kind, text, title: param.title, atUserIds: [], robotCode: b.robotCode, token });
    return [200, { processQueryKey: requestId(), invalidStaffIdList: [], flowControlledStaffIdList: [] }];
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://fake');
    const endpoint = req.method === 'POST' ? ENDPOINTS[url.pathname] : undefined;
    const raw = await readBody(req);
    const rec: RecordedCall = {
      endpoint: endpoint ?? ('unknown' as DingTalkEndpoint),
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: { ...req.headers },
      body: undefined,
      status: 0,
      answer: undefined,
    };
    calls.push(rec);
    if (!endpoint) return answer(res, rec, 404, openApiError('NotFound', `no route ${req.method} ${url.pathname}`));
    try {
      rec.body = JSON.parse(raw);
    } catch {
      return answer(res, rec, 400, openApiError('InvalidJson', 'body is not JSON'));
    }
    const step = queues.get(endpoint)?.shift();
    if (step?.delayMs) await new Promise((r) => setTimeout(r, step.delayMs));
    if (step?.dropConnection) {
      rec.status = -1;
      req.socket.destroy();
      return;
    }
    if (step?.tokenExpired) return answer(res, rec, 400, openApiError('InvalidAuthentication', '不合法的access_token'));
    if (step?.errcode !== undefined) return answer(res, rec, 200, { errcode: step.errcode, errmsg: `fake errcode ${step.errcode}` });
    if (step?.status !== undefined) {
      const fallback = endpoint === 'session' ? { errcode: -1, errmsg: '系统繁忙' } : openApiError(step.status >= 500 ? 'ServiceUnavailable' : 'Forbidden', `fake HTTP ${step.status}`);
      return answer(res, rec, step.status, step.body ?? fallback);
    }
    const [status, body] = serve(endpoint, rec);
    answer(res, rec, status, body);
  }

  const server = createServer((req, res) => {
    req.on('error', () => {});
    res.on('error', () => {});
    handle(req, res).catch((err) => {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify(openApiError('FakeBug', (err as Error).message)));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    calls,
    delivered,
    openSession(session = crypto.randomBytes(16).toString('hex')) {
      sessions.add(session);
      return `${url}/robot/sendBySession?session=${session}`;
    },
    failNext(endpoint, ...steps) {
      queues.set(endpoint, [...(queues.get(endpoint) ?? []), ...steps]);
    },
    expireTokens() {
      validTokens = new Set();
    },
    callsTo: (endpoint) => calls.filter((c) => c.endpoint === endpoint),
    reset() {
      calls.length = 0;
      delivered.length = 0;
      queues.clear();
    },
    close() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
