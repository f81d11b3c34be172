import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import type { Catalog, ModelDefaults } from '../runtime/catalog.js';
import {
  issueKey,
  modelDefaultsSchema,
  providerId,
  providerSchema,
  undefinedModelRefs,
  type ProviderConfig,
} from '../runtime/config.js';
import type { Db } from '../runtime/db.js';
import type { KeyValueStore } from '../runtime/kv.js';
import { modelHealth } from '../runtime/model-health.js';
import { adminAudit, validated } from './admin.js';
import { HttpError } from './http-errors.js';

/** A provider as the seed's JSON has it, the API key shown only as set or not. */
const providerView = (p: ProviderConfig) => ({ baseUrl: p.baseUrl, api: p.api, models: p.models, apiKey: !!p.apiKey });

/** The seed's shape for one provider; apiKey: omitted keeps the stored key, null clears it. */
const providerWrite = providerSchema.extend({ apiKey: z.string().min(1).max(4096).nullable().optional() });
const providerPath = z.object({ id: providerId });
const healthQuery = z.object({ minutes: z.coerce.number().int().min(1).max(1440).default(15) });

/** 409 unless every default/fallback ref still names a model once `providers` is what is stored. */
function assertRefsKept(providers: Record<string, ProviderConfig>, defaults: ModelDefaults, change: string) {
  const broken = undefinedModelRefs({ providers, ...defaults });
  if (broken.length) {
    const which = broken.map((b) => `${issueKey(b.path)} "${b.ref}"`).join(', ');
    throw new HttpError(409, `${change} would leave ${which} without a model: change them with PUT /api/models/defaults first`);
  }
}

/**
 * /api/models: the model providers in the seed's shape, their default and fallbacks, and their health
 * (call figures, breaker states, recent alerts).
 * API keys are write-only and sealed at rest. Providers named in the config file are rewritten from it
 * at every start (config-as-code); ones added here stay until deleted.
 */
export function modelsRouter(deps: { db: Db; catalog: Catalog; kv: KeyValueStore }): Router {
  const router = Router();
  const audit = adminAudit(deps.db);

  router.get('/models', async (_req, res) => {
    const [providers, defaults] = await Promise.all([deps.catalog.listProviders(), deps.catalog.modelDefaults()]);
    res.json({
      providers: Object.fromEntries(Object.entries(providers).map(([id, p]) => [id, providerView(p)])),
      default: defaults.default ?? null,
      fallbacks: defaults.fallbacks,
    });
  });

  router.get('/models/health', async (req, res) => {
    const { minutes } = validated(healthQuery, req.query, 'query');
    res.json(await modelHealth(deps, minutes));
  });

  router.put('/models/defaults', async (req, res) => {
    const providers = await deps.catalog.listProviders();
    const schema = modelDefaultsSchema.superRefine((d, ctx) => {
      for (const i of undefinedModelRefs({ providers, ...d })) ctx.addIssue({ code: 'custom', path: i.path, message: i.message });
    });
    const defaults = validated(schema, req.body, 'defaults');
    await deps.catalog.saveModelDefaults(defaults);
    const view = { default: defaults.default ?? null, fallbacks: defaults.fallbacks };
    await audit('model.defaults.update', 'models', view);
    res.json(view);
  });

  /** POST creates (409 if the id exists); PUT creates or replaces. */
  const save = (createOnly: boolean) => async (req: Request, res: Response) => {
    const { id } = validated(providerPath, req.params, 'provider');
    const body = validated(providerWrite, req.body, 'provider');
    const [providers, defaults] = await Promise.all([deps.catalog.listProviders(), deps.catalog.modelDefaults()]);
    const current = providers[id];
    if (current && createOnly) throw new HttpError(409, `provider "${id}" already exists`);
    // A kept key must not follow the provider to another server: that would hand it to whoever runs it.
    if (body.apiKey === undefined && current?.apiKey && new URL(body.baseUrl).origin !== new URL(current.baseUrl).origin) {
      throw new HttpError(400, 'invalid provider: apiKey: baseUrl points at another server: give the key again, or null to drop it');
    }
    const provider: ProviderConfig = { ...body, apiKey: body.apiKey === undefined ? current?.apiKey : (body.apiKey ?? undefined) };
    assertRefsKept({ ...providers, [id]: provider }, defaults, `changing provider "${id}"`);
    await deps.catalog.saveProvider(id, provider, 'api');
    await audit(current ? 'model.provider.update' : 'model.provider.create', id, {
      baseUrl: provider.baseUrl,
      models: provider.models.map((m) => m.id),
      apiKey: typeof body.apiKey === 'string' ? 'set' : body.apiKey === null ? 'cleared' : provider.apiKey ? 'kept' : 'none',
    });
    res.status(current ? 200 : 201).json({ id, ...providerView(provider) });
  };
  router.post('/models/providers/:id', save(true));
  router.put('/models/providers/:id', save(false));

  router.delete('/models/providers/:id', async (req, res) => {
    const id = req.params.id!;
    const [providers, defaults] = await Promise.all([deps.catalog.listProviders(), deps.catalog.modelDefaults()]);
    if (!providers[id]) throw new HttpError(404, `no provider "${id}"`);
    assertRefsKept(Object.fromEntries(Object.entries(providers).filter(([k]) => k !== id)), defaults, `deleting provider "${id}"`);
    await deps.catalog.deleteProvider(id);
    await audit('model.provider.delete', id, {});
    res.status(204).end();
  });

  return router;
}
