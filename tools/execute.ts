import { parseArguments } from './arguments.js';
import type { ToolConfig } from './definition.js';
import { RequestTimedOut, ResponseTooLarge, sendRequest } from './http.js';
import { mapResponse } from './mapping.js';
import { checkDestination, type Lookup } from './ssrf.js';
import { renderBody, renderHeaders, renderUrl, TemplateError, type Scope } from './template.js';

/** Responses larger than this are refused, not read: a tool answer belongs in a prompt. */
export const MAX_RESPONSE_BYTES = 1024 * 1024;

/**
 * What one call came to. `ok: false` is for the model to read and react to (bad arguments, refused
 * host, 4xx); `unavailable` is the server's fault (5xx, 429, timeout, connection) and may be retried
 * when the tool allows it.
 */
export type ToolOutcome =
  | { ok: true; status: number; output: unknown }
  | { ok: false; error: string; unavailable?: false; misconfigured?: boolean }
  | { ok: false; error: string; unavailable: true };

export interface ExecuteContext {
  allowedHosts: readonly string[];
  lookup?: Lookup;
  maxResponseBytes?: number;
}

/** Runs one call of an HTTP tool: check the arguments, fill the templates, check the destination, send, map. */
export async function executeTool(tool: ToolConfig, argumentsJson: string, ctx: ExecuteContext): Promise<ToolOutcome> {
  const parsed = parseArguments(tool.parameters, argumentsJson);
  if (!parsed.ok) return parsed;
  const secrets = tool.secrets ?? {};
  const scope: Scope = { args: parsed.args, secrets };
  const outcome = await send(tool, scope, ctx);
  return redact(outcome, Object.values(secrets));
}

async function send(tool: ToolConfig, scope: Scope, ctx: ExecuteContext): Promise<ToolOutcome> {
  let url: URL;
  let headers: Record<string, string>;
  let body: string | undefined;
  try {
    url = new URL(renderUrl(tool.url, scope));
    headers = renderHeaders(tool.headers, scope);
    body = tool.body === undefined || tool.method === 'GET' ? undefined : JSON.stringify(renderBody(tool.body, scope));
  } catch (err) {
    if (err instanceof TemplateError) return { ok: false, error: err.message, misconfigured: err.message.startsWith('tool misconfigured') };
    return { ok: false, error: `the arguments do not make a valid URL: ${(err as Error).message}` };
  }
  const dest = await checkDestination(url, ctx.allowedHosts, ctx.lookup);
  if (!dest.ok) return { ok: false, error: dest.reason };

  let res;
  try {
    res = await sendRequest({
      url,
      method: tool.method,
      headers,
      body,
      address: dest.address,
      family: dest.family,
      timeoutMs: tool.timeoutMs,
      maxBytes: ctx.maxResponseBytes ?? MAX_RESPONSE_BYTES,
    });
  } catch (err) {
    if (err instanceof ResponseTooLarge) return { ok: false, error: `refused: ${err.message}` };
    if (err instanceof RequestTimedOut) return { ok: false, unavailable: true, error: `timed out: ${err.message}` };
    if (err instanceof TypeError) return { ok: false, misconfigured: true, error: `cannot send the request: ${err.message}` }; // e.g. an invalid header value
    return { ok: false, unavailable: true, error: `cannot reach ${url.host}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` };
  }

  const snippet = () => res.body.toString('utf8').slice(0, 500);
  if (res.status >= 300 && res.status < 400) {
    // never followed: the next hop would escape the checks above (and a same-host hop is a misconfigured URL)
    const location = String(res.headers.location ?? '');
    let target = location;
    try {
      target = new URL(location, url).host;
    } catch {
      /* keep the raw header */
    }
    return { ok: false, error: `refused: the server redirected (HTTP ${res.status}) to ${target || 'nowhere'}; redirects are not followed` };
  }
  if (res.status >= 500 || res.status === 429) return { ok: false, unavailable: true, error: `HTTP ${res.status}: ${snippet()}` };
  if (res.status >= 400) return { ok: false, error: `HTTP ${res.status}: ${snippet()}` };
  return { ok: true, status: res.status, output: mapResponse(res.body, tool.responseMapping) };
}

/** Secret values echoed back by a server (or in an error) never leave this function. */
function redact(outcome: ToolOutcome, secrets: string[]): ToolOutcome {
  const values = secrets.filter((s) => s.length >= 4);
  if (!values.length) return outcome;
  const text = JSON.stringify(outcome);
  const escaped = values.map((v) => JSON.stringify(v).slice(1, -1).replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  const cleaned = text.replace(new RegExp(escaped.join('|'), 'g'), '[secret]');
  return cleaned === text ? outcome : JSON.parse(cleaned);
}
