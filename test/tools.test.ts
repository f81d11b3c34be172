// HTTP tools without a stack: definitions, templating, argument checks, the SSRF guard, and the executor
// and callTool activity against a fake ERP on 127.0.0.1.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { makeCallTool } from '../activities/call-tool.js';
import { parseConfig, ConfigError } from '../runtime/config.js';
import { parseArguments } from '../tools/arguments.js';
import { toolSchema, type ToolConfig } from '../tools/definition.js';
import { executeTool } from '../tools/execute.js';
import { getPath, parsePath } from '../tools/json-path.js';
import { MAX_OUTPUT_CHARS } from '../tools/mapping.js';
import { openAiToolDefinitions } from '../tools/openai.js';
import { isIdempotent, mayRetry } from '../tools/retry.js';
import { allowlistMatch, checkDestination, isPrivateAddress, parseAllowEntry, type Lookup } from '../tools/ssrf.js';
import { renderBody, renderUrl } from '../tools/template.js';

// --- the fake ERP -----------------------------------------------------------------------------------
interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}
let erp: http.Server;
let port = 0;
let seen: Seen[] = [];
let failuresLeft = 0;
beforeAll(async () => {
  erp = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      const json = (status: number, value: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
      const path = req.url!.split('?')[0]!;
      if (path.startsWith('/flaky') && failuresLeft > 0) {
        failuresLeft--;
        return json(503, { error: 'busy' });
      }
      const invoice = /^\/(?:flaky\/)?orders\/([^/]+)\/invoice$/.exec(path);
      if (invoice && req.method === 'GET') {
        const order = decodeURIComponent(invoice[1]!);
        if (order !== '20240521-8892') return json(404, { error: `no order ${order}` });
        return json(200, { data: { status: 'issued', issuedAt: '2024-05-21T15:02:00+08:00', pdfUrl: 'https://erp.example.com/invoices/8892.pdf' }, meta: { v: 1 } });
      }
      if (path === '/echo') return json(200, { method: req.method, auth: req.headers.authorization, body: body ? JSON.parse(body) : null });
      if (path === '/tickets' && req.method === 'POST') return json(500, { error: 'database down' });
      if (path === '/redirect') return res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end();
      if (path === '/big') return json(200, { rows: 'x'.repeat(2 * 1024 * 1024) });
      if (path === '/long') return json(200, { rows: Array.from({ length: 2000 }, (_, i) => ({ id: i, name: `row ${i}` })) });
      if (path === '/slow') return setTimeout(() => json(200, { late: true }), 1500);
      json(404, { error: 'not found' });
    });
  });
  await new Promise<void>((r) => erp.listen(0, '127.0.0.1', r));
  port = (erp.address() as AddressInfo).port;
});
afterAll(() => new Promise((r) => erp.close(r)));
beforeEach(() => {
  seen = [];
  failuresLeft = 0;
});

const base = () => `http://127.0.0.1:${port}`;
const allowedHosts = () => [`127.0.0.1:${port}`];
const tool = (over: Record<string, unknown> = {}): ToolConfig =>
  toolSchema.parse({
    id: 'order-invoice',
    name: 'get_order_invoice',
    description: '查询订单的电子发票开具状态 (invoice status of an order)',
    parameters: { type: 'object', properties: { orderId: { type: 'string', pattern: '^\\d{8}-\\d{4}$' } }, required: ['orderId'], additionalProperties: false },
    url: `${base()}/orders/{{args.orderId}}/invoice`,
    headers: { authorization: 'Bearer {{secrets.ERP_TOKEN}}' },
    secrets: { ERP_TOKEN: 'erp-token-s3cret' },
    responseMapping: { status: 'data.status', issuedAt: 'data.issuedAt', pdfUrl: 'data.pdfUrl' },
    ...over,
  });
const run = (t: ToolConfig, args: unknown, extra: { lookup?: Lookup; maxResponseBytes?: number } = {}) =>
  executeTool(t, typeof args === 'string' ? args : JSON.stringify(args), { allowedHosts: allowedHosts(), ...extra });

describe('tool definitions', () => {
  it('accepts the invoice tool with defaults: GET, idempotent, 10 s, 3 attempts', () => {
    const t = tool();
    expect(t).toMatchObject({ method: 'GET', timeoutMs: 10_000, retry: { maxAttempts: 3, allowNonIdempotent: false }, headers: { authorization: 'Bearer {{secrets.ERP_TOKEN}}' } });
    expect(isIdempotent(t)).toBe(true);
    expect(isIdempotent(tool({ method: 'POST', url: `${base()}/tickets` }))).toBe(false);
    expect(isIdempotent(tool({ method: 'POST', url: `${base()}/tickets`, idempotent: true }))).toBe(true);
  });

  it('refuses bad definitions, naming the field', () => {
    const problems = (over: Record<string, unknown>) => {
      const res = toolSchema.safeParse({ ...tool(), ...over });
      return res.success ? [] : res.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    };
    expect(problems({ name: 'get invoice' })).toEqual([expect.stringMatching(/^name: letters, digits/)]);
    expect(problems({ name: 'x'.repeat(65) })).toHaveLength(1);
    expect(problems({ method: 'TRACE' })[0]).toMatch(/^method:/);
    expect(problems({ parameters: { type: 'object', properties: { a: { type: 'strin' } } } })[0]).toMatch(/^parameters: not a valid JSON schema/);
    expect(problems({ parameters: { type: 'object', requried: ['a'] } })[0]).toMatch(/^parameters: .*unknown keyword: "requried"/);
    expect(problems({ parameters: { type: 'array' } })[0]).toMatch(/^parameters: the top level must be/);
    expect(problems({ url: `${base()}/x?key={{secrets.ERP_TOKEN}}` })).toEqual(['url: {{secrets.ERP_TOKEN}}: secrets may only be used in headers']);
    expect(problems({ url: `${base()}/x/{{orderId}}` })[0]).toMatch(/^url: \{\{orderId\}\} is not a placeholder/);
    expect(problems({ url: 'ftp://erp.example.com/x' })[0]).toMatch(/^url:/);
    expect(problems({ body: { a: '{{args.a}}' } })).toEqual(['body: a GET request has no body: put arguments in the URL']);
    expect(problems({ headers: { Host: 'evil.example.com' } })[0]).toMatch(/^headers\.Host: set by imflow/);
    expect(problems({ responseMapping: { status: 'data..status' } })[0]).toMatch(/^responseMapping\.status: a path like/);
    expect(problems({ timeoutMs: 600_000 })[0]).toMatch(/^timeoutMs:/);
  });

  it('takes a list of paths as a response mapping, naming fields after the last property', () => {
    expect(tool({ responseMapping: ['data.status', 'data.items[0].pdfUrl'] }).responseMapping).toEqual({ status: 'data.status', pdfUrl: 'data.items[0].pdfUrl' });
  });

  it('reads tools from the config file, and names the key of a bad one', () => {
    const cfg = parseConfig({ tools: { allowedHosts: ['erp.example.com', '*.corp.example.com:8443'], definitions: [{ ...tool(), secrets: undefined }] } });
    expect(cfg.tools?.definitions[0]?.name).toBe('get_order_invoice');
    expect(parseConfig({}).tools).toBeUndefined(); // no section: the allowlist stored through the API is left alone
    expect(() => parseConfig({ tools: { definitions: [{ ...tool(), name: 'bad name' }] } })).toThrow(/tools\.definitions\[0\]\.name: letters/);
    expect(() => parseConfig({ tools: { allowedHosts: ['http://erp.example.com/'] } })).toThrow(ConfigError);
    expect(() => parseConfig({ tools: { definitions: [tool(), { ...tool(), id: 'other' }] } })).toThrow(/tools\.definitions\[1\]\.name: duplicate tool name/);
  });

  it('builds the OpenAI tools array and decides retries per tool', () => {
    expect(openAiToolDefinitions([tool()])).toEqual([
      { type: 'function', function: { name: 'get_order_invoice', description: tool().description, parameters: tool().parameters } },
    ]);
    expect([1, 2, 3].map((attempt) => mayRetry(tool(), attempt))).toEqual([true, true, false]);
    const post = { method: 'POST', url: `${base()}/tickets`, retry: { maxAttempts: 5 } };
    expect(mayRetry(tool(post), 1)).toBe(false);
    expect([4, 5].map((attempt) => mayRetry(tool({ ...post, retry: { maxAttempts: 5, allowNonIdempotent: true } }), attempt))).toEqual([true, false]);
    expect(mayRetry(tool({ retry: { maxAttempts: 1 } }), 1)).toBe(false);
  });
});

describe('templates and paths', () => {
  const scope = (args: Record<string, unknown>) => ({ args, secrets: {} });

  it('percent-encodes URL values so they stay inside their segment', () => {
    expect(renderUrl('https://erp.example.com/orders/{{args.id}}/invoice?q={{args.q}}', scope({ id: '../admin?x=1#', q: '发票 & co' }))).toBe(
      'https://erp.example.com/orders/..%2Fadmin%3Fx%3D1%23/invoice?q=%E5%8F%91%E7%A5%A8%20%26%20co',
    );
    expect(renderUrl('https://erp.example.com/o/{{args.missing}}', scope({}))).toBe('https://erp.example.com/o/');
  });

  it('places body values as JSON values, never splicing text into the document', () => {
    const body = { order: '{{args.id}}', qty: '{{args.qty}}', tags: ['{{args.tags}}', '{{args.none}}'], note: 'order {{args.id}}', opt: '{{args.none}}', nested: { who: '{{args.user.name}}' } };
    expect(renderBody(body, scope({ id: '"}, "admin": true, "x": "', qty: 3, tags: ['a', 'b'], user: { name: '张三' } }))).toEqual({
      order: '"}, "admin": true, "x": "',
      qty: 3,
      tags: [['a', 'b'], null],
      note: 'order "}, "admin": true, "x": "',
      nested: { who: '张三' },
    });
  });

  it('reads own properties only', () => {
    expect(parsePath('data.items[2].status')).toEqual(['data', 'items', 2, 'status']);
    expect(parsePath('a..b')).toBeUndefined();
    expect(getPath({ data: { items: [{}, {}, { status: 'ok' }] } }, parsePath('data.items[2].status')!)).toBe('ok');
    expect(getPath({}, parsePath('__proto__')!)).toBeUndefined();
    expect(getPath({ a: 1 }, parsePath('a.constructor')!)).toBeUndefined();
  });
});

describe('argument checks', () => {
  const schema = tool().parameters;
  it('returns what is wrong in words the model can act on', () => {
    expect(parseArguments(schema, '{"orderId": "20240521-8892"}')).toEqual({ ok: true, args: { orderId: '20240521-8892' } });
    expect(parseArguments(schema, '{"orderId": 20240521')).toMatchObject({ ok: false, error: expect.stringMatching(/^invalid arguments: not valid JSON/) });
    expect(parseArguments(schema, '[]')).toEqual({ ok: false, error: 'invalid arguments: expected a JSON object' });
    expect(parseArguments(schema, '{}')).toEqual({ ok: false, error: "invalid arguments: (arguments): must have required property 'orderId'" });
    expect(parseArguments(schema, '{"orderId": "8892"}')).toEqual({ ok: false, error: 'invalid arguments: orderId: must match pattern "^\\d{8}-\\d{4}$"' });
    expect(parseArguments(schema, '{"orderId": "20240521-8892", "admin": true}')).toEqual({ ok: false, error: 'invalid arguments: (arguments): must NOT have additional properties ("admin")' });
    expect(parseArguments(schema, 'x'.repeat(70_000))).toMatchObject({ ok: false, error: expect.stringMatching(/longer than/) });
    expect(parseArguments({ type: 'object' }, '')).toEqual({ ok: true, args: {} });
  });
});

describe('SSRF guard', () => {
  it('parses allowlist entries', () => {
    expect(parseAllowEntry('ERP.example.com')).toEqual({ wildcard: false, host: 'erp.example.com', port: undefined });
    expect(parseAllowEntry('*.example.com:8443')).toEqual({ wildcard: true, host: 'example.com', port: 8443 });
    expect(parseAllowEntry('[fd00::1]:8080')).toEqual({ wildcard: false, host: 'fd00::1', port: 8080 });
    expect(parseAllowEntry('https://erp.example.com')).toMatch(/is not a host/);
    expect(parseAllowEntry('*.10.0.0.1')).toMatch(/wildcard needs a domain/);
    expect(parseAllowEntry('erp.example.com:70000')).toMatch(/port out of range/);
  });

  it('matches host and port; a wildcard matches subdomains only and never counts as explicit', () => {
    const list = ['erp.example.com', '*.corp.example.com', 'intranet:8080'];
    const m = (u: string) => allowlistMatch(new URL(u), list);
    expect(m('https://erp.example.com/x')).toEqual({ allowed: true, explicit: true });
    expect(m('https://ERP.example.com./x')).toEqual({ allowed: true, explicit: true });
    expect(m('https://erp.example.com:8443/x').allowed).toBe(false); // no port listed: default port only
    expect(m('https://a.b.corp.example.com/x')).toEqual({ allowed: true, explicit: false });
    expect(m('https://corp.example.com/x').allowed).toBe(false);
    expect(m('https://evilcorp.example.com/x').allowed).toBe(false);
    expect(m('http://intranet:8080/x')).toEqual({ allowed: true, explicit: true });
    expect(m('http://intranet/x').allowed).toBe(false);
  });

  it('knows private, loopback, link-local and metadata addresses', () => {
    for (const a of ['127.0.0.1', '127.5.5.5', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254', '100.100.100.200', '0.0.0.0', '::1', '::', 'fd00:ec2::254', 'fe80::1', '::ffff:127.0.0.1', '::ffff:7f00:1', 'not-an-ip']) {
      expect(isPrivateAddress(a), a).toBe(true);
    }
    for (const a of ['8.8.8.8', '172.32.0.1', '192.169.0.1', '2606:4700:4700::1111', '::ffff:8.8.8.8']) expect(isPrivateAddress(a), a).toBe(false);
  });

  it('refuses a listed name that resolves to a private address unless that exact host is listed', async () => {
    const to = (address: string): Lookup => async () => [{ address, family: 4 }];
    const wild = ['*.example.com'];
    expect(await checkDestination(new URL('https://erp.example.com/x'), wild, to('93.184.216.34'))).toEqual({ ok: true, address: '93.184.216.34', family: 4 });
    expect(await checkDestination(new URL('https://erp.example.com/x'), wild, to('127.0.0.1'))).toEqual({
      ok: false,
      reason: 'refused: erp.example.com resolves to the private address 127.0.0.1; list this exact host in tools.allowedHosts to allow it',
    });
    expect(await checkDestination(new URL('https://meta.example.com/x'), wild, to('169.254.169.254'))).toMatchObject({ ok: false, reason: expect.stringMatching(/private address 169\.254\.169\.254/) });
    // every address counts: one private answer among public ones is enough to refuse
    const mixed: Lookup = async () => [{ address: '93.184.216.34', family: 4 }, { address: '10.0.0.8', family: 4 }];
    expect((await checkDestination(new URL('https://erp.example.com/x'), wild, mixed)).ok).toBe(false);
    // an intranet ERP an admin named explicitly is fine
    expect(await checkDestination(new URL('https://erp.example.com/x'), ['erp.example.com'], to('10.0.0.8'))).toEqual({ ok: true, address: '10.0.0.8', family: 4 });
    expect(await checkDestination(new URL('http://169.254.169.254/latest/meta-data/'), wild)).toMatchObject({ ok: false, reason: expect.stringMatching(/not on the tools allowlist/) });
    expect(await checkDestination(new URL('file:///etc/passwd'), ['*.example.com'])).toMatchObject({ ok: false, reason: expect.stringMatching(/only http and https/) });
    expect(await checkDestination(new URL('http://u:p@erp.example.com/'), wild)).toMatchObject({ ok: false, reason: expect.stringMatching(/credentials in the URL/) });
  });
});

describe('executing a tool against the fake ERP', () => {
  it('answers the invoice question: the ERP gets the order and the token, the model gets the mapped fields', async () => {
    const out = await run(tool(), { orderId: '20240521-8892' });
    expect(out).toEqual({ ok: true, status: 200, output: { status: 'issued', issuedAt: '2024-05-21T15:02:00+08:00', pdfUrl: 'https://erp.example.com/invoices/8892.pdf' } });
    expect(seen).toEqual([expect.objectContaining({ method: 'GET', url: '/orders/20240521-8892/invoice' })]);
    expect(seen[0]!.headers.authorization).toBe('Bearer erp-token-s3cret');
  });

  it('returns the raw JSON without a mapping, and absent mapped fields as null', async () => {
    expect((await run(tool({ responseMapping: undefined }), { orderId: '20240521-8892' })).ok && seen.length).toBe(1);
    expect(await run(tool({ responseMapping: undefined }), { orderId: '20240521-8892' })).toMatchObject({ ok: true, output: { data: { status: 'issued' }, meta: { v: 1 } } });
    expect(await run(tool({ responseMapping: { status: 'data.status', missing: 'data.nope' } }), { orderId: '20240521-8892' })).toMatchObject({ output: { status: 'issued', missing: null } });
  });

  it('sends nothing when the arguments are malformed, and says what to fix', async () => {
    expect(await run(tool(), '{"orderId": ')).toMatchObject({ ok: false, error: expect.stringMatching(/^invalid arguments: not valid JSON/) });
    expect(await run(tool(), { orderId: '../../admin' })).toEqual({ ok: false, error: 'invalid arguments: orderId: must match pattern "^\\d{8}-\\d{4}$"' });
    expect(seen).toEqual([]);
  });

  it('encodes arguments into the URL path', async () => {
    const loose = tool({ parameters: { type: 'object', properties: { orderId: { type: 'string' } } } });
    const out = await run(loose, { orderId: '../../admin?all=1' });
    expect(out).toMatchObject({ ok: false, error: expect.stringMatching(/^HTTP 404: .*no order \.\.\/\.\.\/admin\?all=1/) });
    expect(seen[0]!.url).toBe('/orders/..%2F..%2Fadmin%3Fall%3D1/invoice');
  });

  it('sends a JSON body with arguments as JSON values, and redacts secrets a server echoes back', async () => {
    const echo = tool({
      method: 'POST',
      url: `${base()}/echo`,
      parameters: { type: 'object', properties: { qty: { type: 'integer' }, note: { type: 'string' } } },
      body: { qty: '{{args.qty}}', note: '{{args.note}}', fixed: true },
      responseMapping: undefined,
    });
    const out = await run(echo, { qty: 2, note: '", "admin": true' });
    expect(JSON.parse(seen[0]!.body)).toEqual({ qty: 2, note: '", "admin": true', fixed: true });
    expect(seen[0]!.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(out).toEqual({ ok: true, status: 200, output: { method: 'POST', auth: 'Bearer [secret]', body: { qty: 2, note: '", "admin": true', fixed: true } } });
    expect(JSON.stringify(out)).not.toContain('erp-token-s3cret');
  });

  it('reports a 4xx for the model, and a 5xx as unavailable', async () => {
    expect(await run(tool(), { orderId: '20240101-0001' })).toEqual({ ok: false, error: 'HTTP 404: {"error":"no order 20240101-0001"}' });
    const post = tool({ method: 'POST', url: `${base()}/tickets`, parameters: { type: 'object' }, responseMapping: undefined });
    expect(await run(post, {})).toEqual({ ok: false, unavailable: true, error: 'HTTP 500: {"error":"database down"}' });
  });

  it('refuses hosts off the list, names resolving to loopback, metadata addresses and redirects', async () => {
    const at = (url: string) => tool({ url, parameters: { type: 'object' }, responseMapping: undefined });
    expect(await run(at(`http://127.0.0.2:${port}/orders/x/invoice`), {})).toEqual({ ok: false, error: `refused: host 127.0.0.2:${port} is not on the tools allowlist (tools.allowedHosts)` });
    // localhost is the same machine, but only 127.0.0.1:<port> is listed
    expect(await run(at(`http://localhost:${port}/echo`), {})).toMatchObject({ ok: false, error: expect.stringMatching(/^refused: host localhost:\d+ is not on the tools allowlist/) });
    // a wildcard entry covers the name, but the name resolves to loopback: only an explicit entry may do that
    const wild = { allowedHosts: [`*.erp.test:${port}`], lookup: (async () => [{ address: '127.0.0.1', family: 4 }]) as Lookup };
    expect(await executeTool(at(`http://orders.erp.test:${port}/echo`), '{}', wild)).toMatchObject({ ok: false, error: expect.stringMatching(/resolves to the private address 127\.0\.0\.1/) });
    expect(await run(at('http://169.254.169.254/latest/meta-data/'), {})).toMatchObject({ ok: false, error: expect.stringMatching(/not on the tools allowlist/) });
    expect(await run(at(`${base()}/redirect`), {})).toEqual({ ok: false, error: 'refused: the server redirected (HTTP 302) to 169.254.169.254; redirects are not followed' });
    expect(seen.map((s) => s.url)).toEqual(['/redirect']); // nothing reached the ERP but the redirecting call
  });

  it('refuses an oversize response and truncates a long one', async () => {
    const at = (path: string) => tool({ url: `${base()}${path}`, parameters: { type: 'object' }, responseMapping: undefined });
    expect(await run(at('/big'), {})).toMatchObject({ ok: false, error: expect.stringMatching(/^refused: response .*over the 1048576-byte limit/) });
    const long = await run(at('/long'), {});
    expect(long).toMatchObject({ ok: true, output: { truncated: true, text: expect.any(String) } });
    const output = (long as { output: { text: string; totalChars: number } }).output;
    expect(output.text).toHaveLength(MAX_OUTPUT_CHARS);
    expect(output.totalChars).toBeGreaterThan(MAX_OUTPUT_CHARS);
  });

  it('gives up at the tool timeout', async () => {
    const slow = tool({ url: `${base()}/slow`, parameters: { type: 'object' }, responseMapping: undefined, timeoutMs: 300 });
    const started = Date.now();
    expect(await run(slow, {})).toEqual({ ok: false, unavailable: true, error: 'timed out: no complete answer within 300 ms' });
    expect(Date.now() - started).toBeLessThan(1200);
  });
});

describe('the callTool activity', () => {
  // the catalog and settings as callTool reads them, without a database
  const activity = (t: ToolConfig) =>
    makeCallTool({
      catalog: { tool: async (id: string) => (id === t.id ? { tool: t, source: 'api', updatedAt: new Date() } : undefined) } as never,
      // no departments: every tool is open to every sender
      db: { query: async (sql: string) => ({ rows: /department/.test(sql) ? [] : [{ value: { allowedHosts: allowedHosts() } }] }) } as never,
    });
  const requester = { channelId: 'sandbox', senderId: 'tester' };
  /** What Temporal does with the workflow's tool options: attempts until success or a non-retryable failure. */
  async function withRetries(t: ToolConfig, argumentsJson: string) {
    const callTool = activity(t);
    for (let attempt = 1; ; attempt++) {
      try {
        const env = new MockActivityEnvironment({ attempt });
        return { result: await env.run(callTool, { toolId: t.id, argumentsJson, callId: `call-${attempt}`, requester }), attempts: attempt };
      } catch (err) {
        if (!(err instanceof ApplicationFailure) || err.nonRetryable) return { failure: err as ApplicationFailure, attempts: attempt };
      }
    }
  }

  it('retries an idempotent GET through a 5xx', async () => {
    failuresLeft = 2;
    const out = await withRetries(tool({ url: `${base()}/flaky/orders/{{args.orderId}}/invoice` }), '{"orderId":"20240521-8892"}');
    expect(out).toEqual({ result: { ok: true, output: expect.objectContaining({ status: 'issued' }) }, attempts: 3 });
    expect(seen).toHaveLength(3);
  });

  it('does not retry a non-idempotent POST on a 5xx', async () => {
    const post = tool({ method: 'POST', url: `${base()}/tickets`, parameters: { type: 'object' }, responseMapping: undefined, body: { a: 1 } });
    const out = await withRetries(post, '{}');
    expect(out.attempts).toBe(1);
    expect(out.failure).toMatchObject({ type: 'ToolUnavailable', nonRetryable: true, message: 'get_order_invoice: HTTP 500: {"error":"database down"}' });
    expect(seen).toHaveLength(1);
    // unless the tool explicitly allows it
    seen = [];
    const allowed = await withRetries(toolSchema.parse({ ...post, retry: { maxAttempts: 2, allowNonIdempotent: true } }), '{}');
    expect(allowed).toMatchObject({ attempts: 2, failure: { nonRetryable: true } });
    expect(seen).toHaveLength(2);
  });

  it('hands malformed arguments, unknown tools and refusals back as { ok: false }, never a throw', async () => {
    const callTool = activity(tool());
    expect(await callTool({ toolId: 'order-invoice', argumentsJson: '{"orderId": 8892}', callId: 'c1', requester })).toEqual({ ok: false, error: 'invalid arguments: orderId: must be string' });
    expect(await callTool({ toolId: 'order-invoice', argumentsJson: 'not json', callId: 'c2', requester })).toMatchObject({ ok: false, error: expect.stringMatching(/not valid JSON/) });
    expect(await callTool({ toolId: 'nope', argumentsJson: '{}', callId: 'c3', requester })).toEqual({ ok: false, error: 'there is no tool "nope"' });
    const offList = activity(tool({ url: 'http://169.254.169.254/latest/{{args.orderId}}' }));
    expect(await offList({ toolId: 'order-invoice', argumentsJson: '{"orderId":"20240521-8892"}', callId: 'c4', requester })).toMatchObject({ ok: false, error: expect.stringMatching(/^refused: host 169\.254\.169\.254/) });
    expect(seen).toEqual([]);
  });
});
