import type { RetryPolicy } from '@temporalio/common';
import type { ToolConfig } from './definition.js';

// Type-only imports on purpose: the workflow imports this file to set each tool call's activity options.

/** GET is safe to repeat unless the tool says otherwise; anything else changes something, so it is not by default. */
export const isIdempotent = (tool: Pick<ToolConfig, 'method' | 'idempotent'>): boolean => tool.idempotent ?? tool.method === 'GET';

/** Whether a failed call may be made again: only an idempotent tool, or one whose retry settings explicitly allow it. */
export const retriesAllowed = (tool: Pick<ToolConfig, 'method' | 'idempotent' | 'retry'>): boolean =>
  (isIdempotent(tool) || tool.retry.allowNonIdempotent) && tool.retry.maxAttempts > 1;

/**
 * Activity options for one call of this tool: its own timeout and retry policy. A tool that may not
 * be repeated gets exactly one attempt, whatever callTool throws.
 */
export function toolRetryPolicy(tool: Pick<ToolConfig, 'method' | 'idempotent' | 'retry' | 'timeoutMs'>): {
  startToCloseTimeout: number;
  retry: RetryPolicy;
} {
  const allowed = retriesAllowed(tool);
  return {
    // the HTTP deadline plus room for DNS and reading the tool from the database
    startToCloseTimeout: tool.timeoutMs + 5_000,
    retry: {
      maximumAttempts: allowed ? tool.retry.maxAttempts : 1,
      initialInterval: 1_000,
      backoffCoefficient: 2,
      maximumInterval: 10_000,
    },
  };
}
