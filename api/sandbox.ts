import crypto from 'node:crypto';
import { WorkflowFailedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import { Router } from 'express';
import { z } from 'zod';
import type { ChannelRegistry } from '../channels/index.js';
import { WebhookRejected } from '../channels/types.js';
import type { Catalog } from '../runtime/catalog.js';
import { modelRef, type ChannelConfig } from '../runtime/config.js';
import type { Db } from '../runtime/db.js';
import type { InboundMessage, MessageResult } from '../workflows/types.js';
import { ingestMessage } from './ingest.js';
import { HttpError, parseBody } from './http-errors.js';
import { readRun } from './runs.js';

const MAX_TEXT = 16_000;
const id = (max: number) => z.string().min(1).max(max).regex(/^[^\s:]+$/, 'no spaces or ":"');

export const sandboxRequest = z
  .strictObject({
    channelId: id(64).optional(),
    channelType: z.enum(['dingtalk', 'feishu', 'wecom', 'sandbox']).optional(),
    payload: z.record(z.string(), z.unknown()).optional(),
    text: z.string().min(1).max(MAX_TEXT).optional(),
    senderId: id(128).optional(),
    conversationId: id(256).optional(),
    /** re-sending the same id is how a platform re-delivery looks: it must not run twice */
    messageId: id(256).optional(),
    chatType: z.enum(['direct', 'group']).optional(),
    mentioned: z.boolean().optional(),
    model: modelRef.optional(),
    pipelineId: z.string().min(1).max(64).optional(),
    /** the version of pipelineId to run ("draft": its unpublished draft); the published one otherwise */
    pipelineVersion: z.union([z.number().int().min(1), z.literal('draft')]).optional(),
    /** how long to wait for the answer before returning 202 with the run id */
    waitMs: z.number().int().min(0).max(600_000).optional(),
  })
  .refine((b) => b.text !== undefined || b.payload !== undefined, { message: 'give "text" or "payload"', path: ['text'] })
  .refine((b) => b.pipelineVersion === undefined || b.pipelineId !== undefined, { message: 'give the pipelineId it is a version of', path: ['pipelineVersion'] });

/**
 * POST /api/sandbox/messages: one message through the same conversation and message workflows as a
 * real one, marked dry-run so nothing is sent to a platform; answers with the reply and the trace.
 */
export function sandboxRouter(deps: { client: Client; db: Db; catalog: Catalog; channels: ChannelRegistry }): Router {
  const router = Router();
  router.post('/sandbox/messages', async (req, res) => {
    const body = parseBody(sandboxRequest, req);
    const channelId = body.channelId ?? 'sandbox';
    const channel = await deps.catalog.channel(channelId);
    if (!channel) throw new HttpError(404, `channelId: no channel "${channelId}"`);
    if (body.model && !(await deps.catalog.resolveModel(body.model))) throw new HttpError(400, `model: "${body.model}" is not configured`);

    const base = body.payload ? fromPayload(deps.channels, channel, body.channelType, body.payload) : fromFields(channel, body);
    const { workflowId } = await ingestMessage(deps.client, {
      ...base,
      text: body.text ?? base.text, // typed text replaces the payload's, to try variations quickly
      receivedAt: Date.now(),
      dryRun: true,
      model: body.model,
      pipelineId: body.pipelineId,
      pipelineVersion: body.pipelineVersion,
    });

    const outcome = await waitForRun(deps.client, workflowId, body.waitMs ?? 120_000);
    if (outcome === 'timeout') {
      res.status(202).json({ workflowId, status: 'running', reply: null, trace: [] });
      return;
    }
    const run = outcome ?? (await readRun(deps.client, deps.db, workflowId));
    res.json({ workflowId, status: run?.status ?? 'failed', reply: run?.reply ?? null, trace: run?.trace ?? [] });
  });
  return router;
}

type SandboxBody = z.infer<typeof sandboxRequest>;

function fromFields(channel: ChannelConfig, body: SandboxBody): InboundMessage {
  const senderId = body.senderId ?? 'sandbox-user';
  return {
    channelId: channel.id,
    channelType: channel.type,
    platformMessageId: body.messageId ?? crypto.randomUUID(),
    conversationId: body.conversationId ?? `sandbox-${senderId}`,
    chatType: body.chatType ?? 'direct',
    senderId,
    text: body.text!,
    mentioned: body.mentioned ?? true,
    receivedAt: Date.now(),
  };
}

/**
 * A platform-native body (decrypted), parsed by that platform's adapter exactly as a webhook would be.
 * `channelType` lets one try a platform's payload on the sandbox channel before configuring it.
 */
function fromPayload(channels: ChannelRegistry, channel: ChannelConfig, channelType: SandboxBody['channelType'], payload: unknown): InboundMessage {
  const type = channel.type === 'sandbox' && channelType ? channelType : channel.type;
  const adapter = channels[type];
  if (!adapter) throw new HttpError(400, `channelType: no adapter for "${type}"`);
  const asChannel = type === channel.type ? channel : ({ ...channel, type } as ChannelConfig);
  let received;
  try {
    received = adapter.receive(asChannel, payload, Date.now());
  } catch (err) {
    if (err instanceof WebhookRejected) throw new HttpError(400, `payload: ${err.reason}`);
    throw err;
  }
  const msg = received.messages[0];
  if (!msg) throw new HttpError(400, `payload: carries no message to answer${received.unhandled ? ` (${received.unhandled})` : ''}`);
  // a pasted real message must not take the id of (and so dedup away) the real delivery
  return { ...msg, channelId: channel.id, platformMessageId: `sandbox-${msg.platformMessageId}` };
}

/** The run's result; undefined if it failed (its trace is then read from Postgres); 'timeout' if still running. */
async function waitForRun(client: Client, workflowId: string, waitMs: number): Promise<MessageResult | undefined | 'timeout'> {
  const deadline = Date.now() + waitMs;
  // The child starts when the conversation gets to this message: until then it does not exist.
  while (Date.now() < deadline) {
    try {
      return await Promise.race([
        client.workflow.getHandle(workflowId).result() as Promise<MessageResult>,
        new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), Math.max(0, deadline - Date.now())).unref()),
      ]);
    } catch (err) {
      if (err instanceof WorkflowFailedError) return undefined;
      if (!(err instanceof WorkflowNotFoundError)) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return 'timeout';
}
