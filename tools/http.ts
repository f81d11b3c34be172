import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';

// One HTTP exchange of a tool call, on node:http rather than fetch: it connects to the address the
// SSRF guard checked (no second DNS lookup), never follows redirects, and stops reading at a size cap.

export class ResponseTooLarge extends Error {}
export class RequestTimedOut extends Error {}

export interface HttpExchange {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export function sendRequest(opts: {
  url: URL;
  method: string;
  headers: Record<string, string>;
  body?: string;
  /** the checked address to connect to */
  address: string;
  family: number;
  timeoutMs: number;
  maxBytes: number;
}): Promise<HttpExchange> {
  const pinned: LookupFunction = (_host, options, cb) => {
    // Node asks for a list when it may try several addresses (autoSelectFamily)
    if ((options as { all?: boolean }).all) (cb as (e: null, a: { address: string; family: number }[]) => void)(null, [{ address: opts.address, family: opts.family }]);
    else cb(null, opts.address, opts.family);
  };
  const lib = opts.url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.request(opts.url, {
      method: opts.method,
      headers: { ...(opts.body !== undefined && { 'content-type': 'application/json; charset=utf-8' }), ...opts.headers },
      lookup: pinned,
      // a fresh connection per call: a pooled one may have been opened for another tool's checks
      agent: false,
    });
    // one deadline for the whole exchange, body included: a server trickling bytes cannot hold the call
    const timer = setTimeout(() => req.destroy(new RequestTimedOut(`no complete answer within ${opts.timeoutMs} ms`)), opts.timeoutMs);
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.on('response', (res) => {
      const declared = Number(res.headers['content-length']);
      if (declared > opts.maxBytes) return req.destroy(new ResponseTooLarge(`response of ${declared} bytes is over the ${opts.maxBytes}-byte limit`));
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > opts.maxBytes) req.destroy(new ResponseTooLarge(`response is over the ${opts.maxBytes}-byte limit`));
        else chunks.push(c);
      });
      res.on('error', (err) => req.destroy(err));
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
      });
    });
    req.end(opts.body);
  });
}
