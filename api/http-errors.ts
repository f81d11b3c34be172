import type { ErrorRequestHandler, Request } from 'express';
import type { z } from 'zod';
import { logger } from '../runtime/logger.js';
import { inboundRejected } from '../runtime/metrics.js';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

/** Parses a request body with a zod schema; a bad body is a 400 naming the first offending field. */
export function parseBody<S extends z.ZodType>(schema: S, req: Request): z.infer<S> {
  const res = schema.safeParse(req.body);
  if (res.success) return res.data;
  const issues = res.error.issues.map((i) => ({ field: i.path.join('.') || '(body)', message: i.message }));
  throw new HttpError(400, `invalid request: ${issues[0]!.field}: ${issues[0]!.message}`, issues);
}

export const errorHandler: ErrorRequestHandler = (err, req, res, _next) => {
  // body-parser's own errors: too large, or not JSON
  const type = (err as { type?: string }).type;
  let status = err instanceof HttpError ? err.status : type === 'entity.too.large' ? 413 : type === 'entity.parse.failed' ? 400 : 500;
  if (typeof (err as { status?: unknown }).status === 'number' && !(err instanceof HttpError) && status === 500) status = (err as { status: number }).status;
  const message =
    type === 'entity.too.large' ? 'request body too large' : type === 'entity.parse.failed' ? 'request body is not valid JSON' : status >= 500 ? 'internal error' : (err as Error).message;
  if (status >= 500) logger.error({ err, path: req.path }, 'request failed');
  else {
    inboundRejected.inc({ reason: String(status) });
    logger.info({ path: req.path, status, reason: message }, 'request rejected');
  }
  res.status(status).json({ error: message, ...(err instanceof HttpError && err.details ? { details: err.details } : {}) });
};
