import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';

// JSON Schema for a tool's parameters: checked as a schema when the tool is saved, and used to check
// the model's arguments before anything is sent. Problems come back as text the model can act on.

/** Strict: an unknown keyword ("requried") is a typo to report at save time, not a rule silently skipped. */
const ajv = new Ajv({ strict: true, allErrors: true, validateFormats: false });

/** Arguments larger than this are refused unread: no legitimate tool call needs more. */
export const MAX_ARGUMENTS_CHARS = 64 * 1024;
export const MAX_SCHEMA_CHARS = 16 * 1024;

/** Compiled validators by schema text; bounded so edited tools cannot grow it without end. */
const compiled = new Map<string, ValidateFunction>();

function compile(schema: object): ValidateFunction {
  const key = JSON.stringify(schema);
  let fn = compiled.get(key);
  if (!fn) {
    if (compiled.size >= 500) compiled.clear();
    fn = ajv.compile(schema);
    compiled.set(key, fn);
  }
  return fn;
}

/** Why a parameters schema is unusable, or undefined when it is fine. OpenAI wants an object schema at the top. */
export function schemaProblem(schema: unknown): string | undefined {
  if (!schema || typeof schema !== 'object' || Array.isArray(schema)) return 'must be a JSON schema object';
  if (JSON.stringify(schema).length > MAX_SCHEMA_CHARS) return `must be at most ${MAX_SCHEMA_CHARS} characters of JSON`;
  if ((schema as { type?: unknown }).type !== 'object') return 'the top level must be {"type": "object", …} (function arguments are an object)';
  try {
    compile(schema);
  } catch (err) {
    return `not a valid JSON schema: ${(err as Error).message}`;
  }
  return undefined;
}

const describe = (e: ErrorObject) => {
  const where = e.instancePath ? e.instancePath.slice(1).replace(/\//g, '.') : '(arguments)';
  const extra = e.keyword === 'additionalProperties' ? ` ("${(e.params as { additionalProperty: string }).additionalProperty}")` : '';
  return `${where}: ${e.message}${extra}`;
};

/** The model's arguments parsed and checked, or what is wrong with them in words the model can fix. */
export function parseArguments(
  schema: object,
  argumentsJson: string,
): { ok: true; args: Record<string, unknown> } | { ok: false; error: string } {
  if (typeof argumentsJson !== 'string') return { ok: false, error: 'invalid arguments: expected a JSON object as text' };
  if (argumentsJson.length > MAX_ARGUMENTS_CHARS) return { ok: false, error: `invalid arguments: longer than ${MAX_ARGUMENTS_CHARS} characters` };
  let args: unknown;
  try {
    // models send "" for a function without parameters
    args = argumentsJson.trim() ? JSON.parse(argumentsJson) : {};
  } catch (err) {
    return { ok: false, error: `invalid arguments: not valid JSON (${(err as Error).message})` };
  }
  if (!args || typeof args !== 'object' || Array.isArray(args)) return { ok: false, error: 'invalid arguments: expected a JSON object' };
  const validate = compile(schema);
  if (!validate(args)) {
    const errors = validate.errors ?? [];
    const shown = errors.slice(0, 5).map(describe);
    if (errors.length > 5) shown.push(`and ${errors.length - 5} more`);
    return { ok: false, error: `invalid arguments: ${shown.join('; ')}` };
  }
  return { ok: true, args: args as Record<string, unknown> };
}
