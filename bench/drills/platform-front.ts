// The bench's fake DingTalk (bench/platform.ts, which records each reply's arrival) behind a front that
// can fail: while `failing`, every send gets an HTTP 500 and is not recorded, as a platform outage would.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startFakePlatform, type FakePlatform } from '../platform.js';

export interface FrontedPlatform {
  /** the channel's oapiBase: sessionWebhook URLs must live under it */
  url: string;
  platform: FakePlatform;
  failing: boolean;
  /** sends answered with 500 so far */
  refused: number;
  sessionWebhook(session: string): string;
  close(): Promise<void>;
}

export async function startFrontedPlatform(): Promise<FrontedPlatform> {
  const platform = await startFakePlatform('127.0.0.1', 0);
  const target = new URL(platform.url);
  const front: FrontedPlatform = {
    url: '',
    platform,
    failing: false,
    refused: 0,
    sessionWebhook: (session) => `${front.url}/robot/sendBySession?session=${encodeURIComponent(session)}`,
    close: async () => {
      await new Promise<void>((r) => (server.close(() => r()), server.closeAllConnections()));
      await platform.close();
    },
  };
  const server = http.createServer((req, res) => {
    req.on('error', () => {});
    if (front.failing) {
      front.refused++;
      req.resume();
      res.writeHead(500, { 'content-type': 'text/plain' }).end('drill: platform unavailable');
      return;
    }
    const upstream = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  front.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return front;
}
