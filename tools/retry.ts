import type { ToolConfig } from './definition.js';

/** GET is safe to repeat unless the tool says otherwise; anything else changes something, so it is not by default. */
export const isIdempotent = (tool: Pick<ToolConfig, 'method' | 'idempotent'>): boolean => tool.idempotent ?? tool.method === 'GET';

/**
 * Whether a call that failed on this attempt (1 = the first) may be made again: only an idempotent
 * tool, or one whose retry settings explicitly allow it, and only up to the tool's own attempt limit.
 * callTool decides with this, so every tool call runs under one set of activity options in the
 * workflow, yet each tool gets its own retry policy.
 */
export const mayRetry = (tool: Pick<ToolConfig, 'method' | 'idempotent' | 'retry'>, attempt: number): boolean =>
  (isIdempotent(tool) || tool.retry.allowNonIdempotent) && attempt < tool.retry.maxAttempts;
