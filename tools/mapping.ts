import { getPath, parsePath } from './json-path.js';

// What of a response goes back to the model. Bounded either way: the output lands in the prompt
// and in workflow history.

/** The most characters of an unmapped response handed back. */
export const MAX_OUTPUT_CHARS = 8_000;

/** The mapped fields (absent ones as null), or the raw response, cut to MAX_OUTPUT_CHARS when it is longer. */
export function mapResponse(body: Buffer, mapping: Record<string, string> | undefined): unknown {
  const text = body.toString('utf8');
  let json: unknown;
  let isJson = true;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    isJson = false;
  }
  if (mapping) {
    if (!isJson) return { error: 'the response is not JSON, so responseMapping cannot apply', text: text.slice(0, 500) };
    return Object.fromEntries(Object.entries(mapping).map(([field, path]) => [field, bounded(getPath(json, parsePath(path) ?? []) ?? null)]));
  }
  return isJson ? bounded(json) : bounded(text);
}

/** A value as it is when its JSON fits, else its JSON text cut short and marked as such. */
function bounded(value: unknown): unknown {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  if (text.length <= MAX_OUTPUT_CHARS) return value;
  return { truncated: true, totalChars: text.length, text: text.slice(0, MAX_OUTPUT_CHARS) };
}
