import { ApplicationFailure } from '@temporalio/common';
import { SendRejected } from '../channels/types.js';
import type { ReplyButton } from '../pipelines/graph.js';
import type { InboundMessage, ReplyReceipt } from '../workflows/types.js';
import type { ActivityDeps } from './deps.js';

export interface ReplyInput {
  message: InboundMessage;
  text: string;
  /** the run's workflow id (and the node's, after the first reply): sent once, however often this step is retried */
  idempotencyKey: string;
  /** a pipeline reply node's buttons */
  buttons?: ReplyButton[];
}

/**
 * Sends the answer through the channel's adapter and records it. A recorded reply is never sent again,
 * so a retry after a successful send is a no-op; the platform-side key covers a crash in between where
 * the platform supports one. Dry runs (sandbox) record the reply and send nothing.
 */
export const makeReply = ({ db, kv, catalog, channels }: Pick<ActivityDeps, 'db' | 'kv' | 'catalog' | 'channels'>) =>
  async function reply({ message, text, idempotencyKey, buttons }: ReplyInput): Promise<ReplyReceipt> {
    const done = await db.query<{ platform_message_id: string | null; dry_run: boolean }>(
      'SELECT platform_message_id, dry_run FROM replies WHERE idempotency_key = $1',
      [idempotencyKey],
    );
    if (done.rows[0]) {
      const r = done.rows[0];
      return { sent: !r.dry_run, duplicate: true, dryRun: r.dry_run, platformMessageId: r.platform_message_id ?? undefined };
    }

    const dryRun = !!message.dryRun;
    let platformMessageId: string | undefined;
    if (!dryRun) {
      const channel = await catalog.channel(message.channelId);
      const adapter = channel && channels[channel.type];
      if (!channel || !adapter) {
        throw ApplicationFailure.nonRetryable(`no adapter can send to channel "${message.channelId}"`, 'NoAdapter');
      }
      try {
        platformMessageId = (await adapter.send(channel, message, { text, idempotencyKey, ...(buttons?.length && { buttons }) }, { kv })).platformMessageId;
      } catch (err) {
        if (err instanceof SendRejected) throw ApplicationFailure.nonRetryable(err.message, 'SendRejected');
        throw err;
      }
    }
    await db.query(
      `INSERT INTO replies (idempotency_key, channel_id, conversation_id, text, dry_run, platform_message_id)
       VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (idempotency_key) DO NOTHING`,
      [idempotencyKey, message.channelId, message.conversationId, text, dryRun, platformMessageId ?? null],
    );
    return { sent: !dryRun, duplicate: false, dryRun, platformMessageId };
  };
