// The platform end of a reply: DingTalk's sendBySession webhook, reduced to "record when which answer
// arrived". test/fakes/dingtalk-server.ts models DingTalk's failures but keeps no arrival times and
// keeps every call's headers; a bench needs the time of each reply and nothing else.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readBody } from '../test/fakes/http.js';
import { tagIn } from './traffic.js';

export interface Reply {
  tag: string | undefined;
  session: string;
  at: number; // performance.now()
}

export interface FakePlatform {
  /** use as the channel's oapiBase (and apiBase) */
  url: string;
  replies: Reply[];
  /** for the sessionWebhook of a conversation */
  sessionWebhook(session: string): string;
  close(): Promise<void>;
}

export async function startFakePlatform(host: string, port: number): Promise<FakePlatform> {
  const replies: Reply[] = [];
  const server = createServer((req, res) => {
    req.on('error', () => {});
    const url = new URL(req.url ?? '/', 'http://fake');
    if (req.method !== 'POST' || url.pathname !== '/robot/sendBySession') {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"errcode":404,"errmsg":"not a sendBySession call"}');
      return;
    }
    const at = performance.now(); // arrival of the request, before the body is read
    readBody(req).then(
      (raw) => {
        let text = '';
        try {
          const b = JSON.parse(raw) as { text?: { content?: string }; markdown?: { text?: string } };
          text = b.text?.content ?? b.markdown?.text ?? '';
        } catch {
          /* recorded without a tag: counts as an unmatched reply */
        }
        replies.push({ tag: tagIn(text), session: url.searchParams.get('session') ?? '', at });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"errcode":0,"errmsg":"ok"}');
      },
      () => res.destroy(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const url = `http://${host}:${(server.address() as AddressInfo).port}`;
  return {
    url,
    replies,
    sessionWebhook: (session) => `${url}/robot/sendBySession?session=${encodeURIComponent(session)}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
