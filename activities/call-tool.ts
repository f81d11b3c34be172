import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { permitted, senderProfile } from '../runtime/departments.js';
import { executeTool } from '../tools/execute.js';
import { mayRetry } from '../tools/retry.js';
import type { Lookup } from '../tools/ssrf.js';
import { allowedHosts } from '../tools/store.js';
import { logger } from '../runtime/logger.js';
import type { ActivityDeps } from './deps.js';

export interface CallToolInput {
  toolId: string;
  /** the model's arguments, as the JSON text it produced */
  argumentsJson: string;
  /** the model's tool_call id or the pipeline node's id (with the run's id): ties log lines to the call */
  callId: string;
  /** whose message this is: the tool must be open to their departments */
  requester: { channelId: string; senderId: string };
}

export type CallToolResult = { ok: true; output: unknown } | { ok: false; error: string; denied?: boolean };

/**
 * One tool call, as its own activity with the tool's own retry policy (tools/retry.ts). Whatever the
 * model can fix or react to (bad arguments, a refused host, a 4xx) comes back as `{ ok: false }` for
 * it to read; a server failure throws, retryable only when the tool may be called twice.
 */
export const makeCallTool = (deps: Pick<ActivityDeps, 'db' | 'catalog'>, opts: { lookup?: Lookup; maxResponseBytes?: number } = {}) =>
  async function callTool({ toolId, argumentsJson, callId, requester }: CallToolInput): Promise<CallToolResult> {
    const stored = await deps.catalog.tool(toolId);
    if (!stored) return { ok: false, error: `there is no tool "${toolId}"` };
    const { tool } = stored;
    const profile = await senderProfile(deps.db, requester.channelId, requester.senderId);
    if ((await permitted(deps.db, 'tools', [toolId], profile)).denied.length) {
      logger.info({ toolId, callId }, 'tool call refused: not open to the sender\'s departments');
      return { ok: false, error: `${tool.name}: not permitted for this user`, denied: true };
    }
    const started = Date.now();
    const outcome = await executeTool(tool, argumentsJson, { allowedHosts: await allowedHosts(deps.db), ...opts });
    // secrets and arguments stay out of the log: arguments may carry customer data
    const log = { toolId, callId, ok: outcome.ok, ms: Date.now() - started, ...(!outcome.ok && { error: outcome.error }) };
    if (outcome.ok) {
      logger.info(log, 'tool called');
      return { ok: true, output: outcome.output };
    }
    if ('misconfigured' in outcome && outcome.misconfigured) logger.warn(log, 'tool misconfigured');
    else logger.info(log, 'tool call failed');
    if (outcome.unavailable) {
      throw ApplicationFailure.create({
        message: `${tool.name}: ${outcome.error}`,
        type: 'ToolUnavailable',
        // a POST that timed out may have happened: calling it again could book twice
        nonRetryable: !mayRetry(tool, Context.current().info.attempt),
      });
    }
    return { ok: false, error: outcome.error };
  };
