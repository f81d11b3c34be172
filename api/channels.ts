import { Router, type Request } from 'express';
import { z } from 'zod';
import { CHANNEL_SECRET_FIELDS, type Catalog } from '../runtime/catalog.js';
import { channelSchema, type ChannelConfig } from '../runtime/config.js';
import type { Db } from '../runtime/db.js';
import { adminAudit, validated } from './admin.js';
import { HttpError } from './http-errors.js';

const secretFields = new Set<string>(CHANNEL_SECRET_FIELDS);

/** What the API shows of a channel: settings in full, secrets only as "set" or not, and where to point the platform. */
export function channelView(channel: ChannelConfig, publicUrl: string, source?: string) {
  const settings: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(channel)) if (!secretFields.has(k)) settings[k] = v;
  const secrets = Object.fromEntries(secretFieldsOf(channel.type).map((k) => [k, !!(channel as Record<string, unknown>)[k]]));
  const callbackUrl = channel.type === 'sandbox' ? null : `${publicUrl}/webhooks/${channel.type}/${encodeURIComponent(channel.id)}`;
  return { ...settings, secrets, callbackUrl, source };
}

/** The secret fields a channel of this type can have, from the config schema itself. */
function secretFieldsOf(type: ChannelConfig['type']): string[] {
  const branch = channelSchema.options.find((o) => o.shape.type.value === type);
  return Object.keys(branch?.shape ?? {}).filter((k) => secretFields.has(k));
}

/** IMFLOW_PUBLIC_URL when imflow sits behind a proxy; otherwise the address this request came in on. */
function publicUrl(req: Request): string {
  return (process.env.IMFLOW_PUBLIC_URL ?? `${req.protocol}://${req.get('host')}`).replace(/\/+$/, '');
}

const validate = (candidate: unknown): ChannelConfig => validated(channelSchema, candidate, 'channel');

/** Which secret fields an update sets or clears: audited by name, never by value. */
const touchedSecrets = (patch: Record<string, unknown>) => Object.keys(patch).filter((k) => secretFields.has(k));

/**
 * /api/channels: list, read, create, update (PATCH merges; a secret field set to null is cleared,
 * an absent one kept), delete, enable/disable, and the messages each channel ignored and why.
 * Secrets are write-only: no response ever contains one.
 */
export function channelsRouter(deps: { db: Db; catalog: Catalog }): Router {
  const router = Router();
  const audit = adminAudit(deps.db);
  const find = async (id: string) => {
    const channel = (await deps.catalog.listChannels()).find((c) => c.channel.id === id);
    if (!channel) throw new HttpError(404, `no channel "${id}"`);
    return channel;
  };

  router.get('/channels', async (req, res) => {
    const all = await deps.catalog.listChannels();
    res.json({ channels: all.map((c) => channelView(c.channel, publicUrl(req), c.source)) });
  });

  router.get('/channels/:id', async (req, res) => {
    const c = await find(req.params.id!);
    res.json(channelView(c.channel, publicUrl(req), c.source));
  });

  router.post('/channels', async (req, res) => {
    const channel = validate(req.body);
    if (channel.id === 'sandbox' || (await deps.catalog.listChannels()).some((c) => c.channel.id === channel.id)) {
      throw new HttpError(409, `channel "${channel.id}" already exists`);
    }
    await deps.catalog.saveChannel(channel, 'api');
    await audit('channel.create', channel.id, { type: channel.type, secretsSet: touchedSecrets(req.body) });
    res.status(201).json(channelView(channel, publicUrl(req), 'api'));
  });

  router.patch('/channels/:id', async (req, res) => {
    const patch = z.record(z.string(), z.unknown()).safeParse(req.body);
    if (!patch.success) throw new HttpError(400, 'invalid request: (body): expected an object of fields to change');
    const { channel: current } = await find(req.params.id!);
    if ('id' in patch.data && patch.data.id !== current.id) throw new HttpError(400, 'invalid request: id: a channel id cannot change');
    if ('type' in patch.data && patch.data.type !== current.type) throw new HttpError(400, 'invalid request: type: a channel type cannot change');
    const merged: Record<string, unknown> = { ...current, ...patch.data };
    for (const [k, v] of Object.entries(patch.data)) if (v === null) delete merged[k];
    const channel = validate(merged);
    // Stored secrets must not follow the channel to another server: whoever holds the admin token could
    // otherwise point apiBase at their own host and collect the app secret with the next token request.
    const moved = (['apiBase', 'oapiBase'] as const).filter(
      (k) => k in channel && new URL(String((channel as Record<string, unknown>)[k])).origin !== new URL(String((current as Record<string, unknown>)[k])).origin,
    );
    const kept = secretFieldsOf(channel.type).filter((k) => (current as Record<string, unknown>)[k] && !(k in patch.data));
    if (moved.length && kept.length) {
      throw new HttpError(400, `invalid request: ${moved.join(', ')}: points at another server: give ${kept.join(', ')} again (or null to drop)`);
    }
    await deps.catalog.saveChannel(channel, 'api');
    const changed = Object.keys(patch.data).filter((k) => !secretFields.has(k));
    await audit('channel.update', channel.id, { changed, secretsSet: touchedSecrets(patch.data) });
    res.json(channelView(channel, publicUrl(req), 'api'));
  });

  for (const [verb, enabled] of [['enable', true], ['disable', false]] as const) {
    router.post(`/channels/:id/${verb}`, async (req, res) => {
      const { channel: current } = await find(req.params.id!);
      const channel = { ...current, enabled };
      await deps.catalog.saveChannel(channel, 'api');
      await audit(`channel.${verb}`, channel.id, {});
      res.json(channelView(channel, publicUrl(req), 'api'));
    });
  }

  router.delete('/channels/:id', async (req, res) => {
    await find(req.params.id!);
    await deps.catalog.deleteChannel(req.params.id!);
    await audit('channel.delete', req.params.id!, {});
    res.status(204).end();
  });

  router.get('/channels/:id/ignored', async (req, res) => {
    await find(req.params.id!);
    const { rows } = await deps.db.query(
      `SELECT platform_message_id AS "messageId", conversation_id AS "conversationId", sender_id AS "senderId",
              chat_type AS "chatType", reason, received_at AS "receivedAt"
       FROM ignored_messages WHERE channel_id = $1 ORDER BY received_at DESC LIMIT 200`,
      [req.params.id],
    );
    res.json({ ignored: rows });
  });

  return router;
}
