import { getPath, parsePath, type PathSegment } from './json-path.js';

// Placeholders in a tool's URL, headers and body: {{args.orderId}} (the model's arguments) and
// {{secrets.ERP_TOKEN}} (headers only). Substitution never splices text into a URL or JSON document:
// URL values are percent-encoded, body values are placed as JSON values.

export interface Placeholder {
  raw: string;
  kind: 'args' | 'secrets';
  path: PathSegment[];
  /** the argument or secret name (first path segment) */
  name: string;
}

const ANY = /\{\{([^{}]*)\}\}/g;
const INNER = /^\s*(args|secrets)\.(.+?)\s*$/;

/** Every placeholder in a text; a "{{…}}" that is not one is reported, so typos fail when the tool is saved. */
export function scanPlaceholders(text: string): { placeholders: Placeholder[]; invalid: string[] } {
  const placeholders: Placeholder[] = [];
  const invalid: string[] = [];
  for (const m of text.matchAll(ANY)) {
    const inner = INNER.exec(m[1]!);
    const path = inner && parsePath(inner[2]!);
    if (!inner || !path || (inner[1] === 'secrets' && path.length !== 1)) invalid.push(m[0]);
    else placeholders.push({ raw: m[0], kind: inner[1] as Placeholder['kind'], path, name: String(path[0]) });
  }
  return { placeholders, invalid };
}

export interface Scope {
  args: Record<string, unknown>;
  secrets: Record<string, string>;
}

export class TemplateError extends Error {}

const lookup = (p: Placeholder, scope: Scope): unknown => {
  if (p.kind === 'args') return getPath(scope.args, p.path);
  const v = Object.hasOwn(scope.secrets, p.name) ? scope.secrets[p.name] : undefined;
  if (v === undefined) throw new TemplateError(`tool misconfigured: secret "${p.name}" is not set`);
  return v;
};

/** A value as text: strings as they are, absent as empty, everything else as JSON. */
const asText = (v: unknown): string => (v === undefined || v === null ? '' : typeof v === 'string' ? v : JSON.stringify(v));

function interpolate(text: string, scope: Scope, encode: (s: string) => string): string {
  return text.replace(ANY, (raw) => {
    const p = scanPlaceholders(raw).placeholders[0];
    if (!p) throw new TemplateError(`invalid placeholder ${raw}`);
    return encode(asText(lookup(p, scope)));
  });
}

/** The URL with each {{args.x}} percent-encoded, so "../admin" or "?x=" in a value stays inside its segment. */
export const renderUrl = (template: string, scope: Scope): string => interpolate(template, scope, encodeURIComponent);

/** Header values with placeholders filled in; a value with a line break is refused (header injection). */
export function renderHeaders(headers: Record<string, string>, scope: Scope): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) {
    const value = interpolate(v, scope, (s) => s);
    if (/[\r\n\0]/.test(value)) throw new TemplateError(`header "${k}" would contain a line break`);
    out[k] = value;
  }
  return out;
}

/**
 * The body as a JSON value: a string that is exactly one placeholder becomes the argument's value
 * (number, object, …; an absent one drops its key), a placeholder inside longer text is interpolated.
 */
export function renderBody(body: unknown, scope: Scope): unknown {
  if (typeof body === 'string') {
    const { placeholders } = scanPlaceholders(body);
    if (placeholders.length === 1 && placeholders[0]!.raw === body.trim()) return lookup(placeholders[0]!, scope);
    return placeholders.length ? interpolate(body, scope, (s) => s) : body;
  }
  if (Array.isArray(body)) return body.map((v) => renderBody(v, scope) ?? null);
  if (body && typeof body === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(body)) {
      const r = renderBody(v, scope);
      if (r !== undefined) out[k] = r;
    }
    return out;
  }
  return body;
}

/** Every string inside a JSON value (for scanning a body template). */
export function stringsIn(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(stringsIn);
  if (value && typeof value === 'object') return Object.values(value).flatMap(stringsIn);
  return [];
}
