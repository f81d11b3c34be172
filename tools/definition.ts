import { z } from 'zod';
import { schemaProblem } from './arguments.js';
import { parsePath } from './json-path.js';
import { parseAllowEntry } from './ssrf.js';
import { scanPlaceholders, stringsIn } from './template.js';

// What an HTTP tool is, as the config file and /api/tools spell it (docs/tools.md).

export const TOOL_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
export const DEFAULT_TIMEOUT_MS = 10_000;

const toolId = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'lower-case letters, digits, "_" or "-" (max 64)');
/** OpenAI's rule for function names */
export const toolName = z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, 'letters, digits, "_" or "-" (1-64): the function name the model calls');

/**
 * A record whose keys are checked one by one, so a bad key is reported by name ("headers.Host: …")
 * rather than as zod's "Invalid key in record".
 */
const keyedRecord = <V extends z.ZodType>(value: V, max: number, keyProblem: (key: string) => string | undefined) =>
  z.record(z.string(), value).superRefine((r, ctx) => {
    if (Object.keys(r).length > max) ctx.addIssue({ code: 'custom', message: `at most ${max} entries` });
    for (const k of Object.keys(r)) {
      const problem = keyProblem(k);
      if (problem) ctx.addIssue({ code: 'custom', path: [k], message: problem });
    }
  });
const matching = (re: RegExp, message: string) => (k: string) => (re.test(k) ? undefined : message);
const headerNameProblem = (h: string) =>
  !/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$/.test(h)
    ? 'not an HTTP header name'
    : // these describe the connection or the body, which imflow itself controls
      ['host', 'content-length', 'transfer-encoding', 'connection'].includes(h.toLowerCase())
      ? 'set by imflow, not configurable'
      : undefined;
const jsonPath = z.string().refine((p) => !!parsePath(p), 'a path like data.status or data.items[0].id');

export const allowedHost = z.string().superRefine((s, ctx) => {
  const e = parseAllowEntry(s);
  if (typeof e === 'string') ctx.addIssue({ code: 'custom', message: e });
});
export const allowedHostsSchema = z.array(allowedHost).max(500);

/** The fields of a tool; `toolSchema` adds the checks that look at several fields at once. */
const toolFields = {
  id: toolId,
  name: toolName,
  description: z.string().trim().min(1).max(1024),
  /** JSON schema of the arguments (checked as a schema here, the arguments against it at call time) */
  parameters: z
    .record(z.string(), z.unknown())
    .superRefine((s, ctx) => {
      const problem = schemaProblem(s);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    })
    .default({ type: 'object', properties: {} }),
  method: z.enum(TOOL_METHODS).default('GET'),
  /** https://erp.example.com/orders/{{args.orderId}}/invoice — values are percent-encoded */
  url: z.string().max(2048).regex(/^https?:\/\//i, 'an http:// or https:// URL template'),
  /** values may use {{secrets.NAME}} and {{args.x}} */
  headers: keyedRecord(z.string().max(4096), 30, headerNameProblem)
    .default({}),
  /** write-only: sealed at rest, shown only as set / not set */
  secrets: keyedRecord(z.string().min(1).max(4096), 20, matching(/^[A-Za-z0-9_]{1,64}$/, 'a secret name: letters, digits or "_" (max 64)')).optional(),
  /** JSON body for non-GET methods; "{{args.x}}" strings become the argument's JSON value */
  body: z.json().optional(),
  timeoutMs: z.number().int().min(100).max(60_000).default(DEFAULT_TIMEOUT_MS),
  /** output field → path in the JSON response; absent: the whole response (truncated) */
  responseMapping: z
    .preprocess(
      // a plain list of paths names each field after the path's last property
      (v) => (Array.isArray(v) ? Object.fromEntries(v.map((p) => [typeof p === 'string' ? (p.split('.').pop() ?? p).replace(/\[\d+\]/g, '') : p, p])) : v),
      keyedRecord(jsonPath, 50, matching(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, 'an output field name: letters, digits or "_" (max 64)')),
    )
    .refine((m) => Object.keys(m).length >= 1, 'map at least one field, or leave responseMapping out')
    .optional(),
  /** absent: true for GET, false otherwise */
  idempotent: z.boolean().optional(),
  retry: z
    .strictObject({
      maxAttempts: z.number().int().min(1).max(10).default(3),
      /** retry even though the tool is not idempotent (the server deduplicates, say) */
      allowNonIdempotent: z.boolean().default(false),
    })
    .default({ maxAttempts: 3, allowNonIdempotent: false }),
};

export const toolSchema = z.strictObject(toolFields).superRefine((t, ctx) => {
  const check = (text: string, path: (string | number)[], secretsAllowed: boolean) => {
    const { placeholders, invalid } = scanPlaceholders(text);
    for (const raw of invalid) ctx.addIssue({ code: 'custom', path, message: `${raw} is not a placeholder: use {{args.name}} or {{secrets.NAME}}` });
    for (const p of placeholders) {
      if (p.kind === 'secrets' && !secretsAllowed) ctx.addIssue({ code: 'custom', path, message: `${p.raw}: secrets may only be used in headers` });
    }
  };
  check(t.url, ['url'], false);
  for (const [k, v] of Object.entries(t.headers)) check(v, ['headers', k], true);
  if (t.body !== undefined) for (const s of stringsIn(t.body)) check(s, ['body'], false);
  if (t.body !== undefined && t.method === 'GET') ctx.addIssue({ code: 'custom', path: ['body'], message: 'a GET request has no body: put arguments in the URL' });
  // the URL must parse once placeholders are filled, so a broken template fails now rather than at the first call
  try {
    new URL(t.url.replace(/\{\{[^{}]*\}\}/g, 'x'));
  } catch {
    ctx.addIssue({ code: 'custom', path: ['url'], message: 'not a valid URL' });
  }
});

export type ToolConfig = z.infer<typeof toolSchema>;

/** The `tools` section of the config file. */
export const toolsSectionSchema = z
  .strictObject({
    allowedHosts: allowedHostsSchema.default([]),
    definitions: z.array(toolSchema).max(500).default([]),
  })
  .superRefine((s, ctx) => {
    for (const key of ['id', 'name'] as const) {
      const seen = new Set<string>();
      s.definitions.forEach((t, i) => {
        if (seen.has(t[key])) ctx.addIssue({ code: 'custom', path: ['definitions', i, key], message: `duplicate tool ${key} "${t[key]}"` });
        seen.add(t[key]);
      });
    }
  });

export type ToolsSection = z.infer<typeof toolsSectionSchema>;
