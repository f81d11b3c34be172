import type { Client } from '@temporalio/client';
import express, { Router, type Request, type Response } from 'express';
import type { ChannelRegistry } from '../channels/index.js';
import { ignoreReason } from '../channels/policy.js';
import { WebhookRejected, type WebhookRequest, type WebhookResponse } from '../channels/types.js';
import type { Catalog } from '../runtime/catalog.js';
import type { Db } from '../runtime/db.js';
import { logger } from '../runtime/logger.js';
import { inboundRejected } from '../runtime/metrics.js';
import type { InboundMessage } from '../workflows/types.js';
import { ingestMessage } from './ingest.js';
import { keepRawRequest } from './runs.js';

/** Platform callbacks are small; anything bigger is refused before it is read into memory. */
export const MAX_WEBHOOK_BODY = 256 * 1024;

export interface WebhookDeps {
  client: Client;
  db: Db;
  catalog: Catalog;
  channels: ChannelRegistry;
}

/**
 * `POST /webhooks/<type>/:channelId` (and `GET` for WeCom's URL check): verify → receive → ack.
 * Forgeries and malformed requests get a 4xx and start nothing. Every accepted message is handed to
 * its conversation workflow before the ack, so an ack always means "will be answered"; the answer
 * itself is produced asynchronously. Messages the channel's policy ignores are recorded, not run.
 */
export function webhooksRouter(deps: WebhookDeps): Router {
  const router = Router();
  const raw = express.raw({ type: () => true, limit: MAX_WEBHOOK_BODY });
  const handle = async (req: Request, res: Response) => {
    const type = String(req.params.type);
    const channelId = String(req.params.channelId);
    const log = logger.child({ channelId, type });
    try {
      const channel = await deps.catalog.channel(channelId);
      const adapter = deps.channels[type as keyof ChannelRegistry];
      if (!channel || channel.type !== type || !adapter) throw new WebhookRejected(404, `no ${type} channel "${channelId}"`);
      if (!channel.enabled) throw new WebhookRejected(404, `channel "${channelId}" is disabled`);

      const now = Date.now();
      const request: WebhookRequest = {
        method: req.method === 'GET' ? 'GET' : 'POST',
        query: Object.fromEntries(Object.entries(req.query).map(([k, v]) => [k, typeof v === 'string' ? v : undefined])),
        headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v[0] : v])),
        rawBody: Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0),
      };
      const payload = adapter.verify(channel, request, now);
      const received = adapter.receive(channel, payload, now);
      if (received.unhandled) log.info({ reason: received.unhandled }, 'webhook event not handled');

      for (const msg of received.messages) {
        const reason = ignoreReason(channel, msg);
        if (reason) await recordIgnored(deps.db, msg, reason);
        else {
          const { workflowId } = await ingestMessage(deps.client, msg);
          // for the console only: the platform's ack never waits on it
          void keepRawRequest(deps.db, workflowId, channelId, request.headers, payload);
        }
      }
      send(res, received.response);
    } catch (err) {
      if (!(err instanceof WebhookRejected)) throw err;
      inboundRejected.inc({ reason: String(err.status) });
      log.warn({ status: err.status, reason: err.reason }, 'webhook rejected');
      res.status(err.status).json({ error: err.reason });
    }
  };
  router.post('/webhooks/:type/:channelId', raw, handle);
  router.get('/webhooks/:type/:channelId', handle);
  return router;
}

function send(res: Response, r: WebhookResponse) {
  res.status(r.status);
  if (r.body === undefined) res.end();
  else if (typeof r.body === 'string') res.type(r.contentType ?? 'text/plain').send(r.body);
  else res.json(r.body);
}

/** Ignored messages are kept with their reason, so the console can say why the bot stayed silent. */
async function recordIgnored(db: Db, msg: InboundMessage, reason: string) {
  await db.query(
    `INSERT INTO ignored_messages (channel_id, platform_message_id, conversation_id, sender_id, chat_type, reason)
     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (channel_id, platform_message_id) DO NOTHING`,
    [msg.channelId, msg.platformMessageId, msg.conversationId, msg.senderId, msg.chatType, reason],
  );
}
