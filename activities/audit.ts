import { Context } from '@temporalio/activity';
import { appendAudit } from '../runtime/audit.js';
import { runDuration, runsFinished } from '../runtime/metrics.js';
import type { InboundMessage, MessageResult } from '../workflows/types.js';
import type { ActivityDeps } from './deps.js';

export interface AuditInput {
  message: InboundMessage;
  result: MessageResult;
}

/**
 * Writes the run's record (searchable in the console) and its hash-chained audit row. Safe to retry;
 * a run retried from the console (a workflow reset: a new Temporal run of the same workflow id) gets
 * its own audit row and updates the record with how it ended.
 */
export const makeAudit = ({ db }: Pick<ActivityDeps, 'db'>) =>
  async function audit({ message: m, result }: AuditInput): Promise<{ recorded: boolean }> {
    const startedAt = Date.now();
    const durationMs = Math.max(0, startedAt - m.receivedAt);
    // the stored chain ends with this step, as the workflow's own trace does
    const trace = [...result.trace, { step: 'audit', status: 'ok', startedAt, durationMs: 0 }];
    const pipelineId = (result.trace.find((s) => s.step === 'matchRule')?.output as { pipelineId?: string } | undefined)?.pipelineId;
    const ignoredReason = (result.trace.find((s) => s.step === 'verify')?.output as { reason?: string } | undefined)?.reason;
    const inserted = await db.query(
      `INSERT INTO runs (workflow_id, channel_id, conversation_id, sender_id, message_id, text, status, reply_text, model,
                         pipeline_id, dry_run, trace, received_at, duration_ms)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, to_timestamp($13 / 1000.0), $14)
       ON CONFLICT (workflow_id) DO UPDATE SET status = EXCLUDED.status, reply_text = EXCLUDED.reply_text, model = EXCLUDED.model,
         pipeline_id = EXCLUDED.pipeline_id, trace = EXCLUDED.trace, finished_at = now(), duration_ms = EXCLUDED.duration_ms
       WHERE runs.status IS DISTINCT FROM EXCLUDED.status`,
      [
        result.workflowId, m.channelId, m.conversationId, m.senderId, m.platformMessageId, m.text, result.status,
        result.reply?.text ?? null, result.reply?.model ?? null, pipelineId ?? null, !!m.dryRun, JSON.stringify(trace),
        m.receivedAt, durationMs,
      ],
    );
    await appendAudit(db, {
      actor: `${m.channelId}:${m.senderId}`,
      action: `message.${result.status}`,
      subject: result.workflowId,
      detail: {
        channelId: m.channelId,
        conversationId: m.conversationId,
        text: m.text,
        reply: result.reply?.text,
        model: result.reply?.model,
        pipelineId,
        reason: ignoredReason,
        dryRun: !!m.dryRun,
      },
      idempotencyKey: `${result.workflowId}/${Context.current().info.workflowExecution?.runId ?? ''}`,
    });
    if (inserted.rowCount) {
      runsFinished.inc({ channel: m.channelId, status: result.status });
      runDuration.observe({ channel: m.channelId }, durationMs / 1000);
    }
    return { recorded: !!inserted.rowCount };
  };
