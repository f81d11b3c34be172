import type { Db, Queryable } from './db.js';
import { inTransaction } from './db.js';
import { upsertDepartments } from './departments.js';
import { logger } from './logger.js';
import {
  alertsSchema,
  breakerSchema,
  channelSchema,
  limitsSchema,
  splitModelRef,
  type AlertSettings,
  type BreakerSettings,
  type LimitSettings,
  type ChannelConfig,
  type ImflowConfig,
  type ModelConfig,
  type ProviderConfig,
} from './config.js';
import type { SecretBox } from './secrets.js';
import { upsertFromConfig as upsertPipelines } from '../pipelines/store.js';
import * as toolStore from '../tools/store.js';
import type { ToolConfig } from '../tools/definition.js';

/** Fields of a channel that are secrets: stored sealed, never returned by the API. */
export const CHANNEL_SECRET_FIELDS = ['appSecret', 'token', 'aesKey', 'verificationToken', 'encryptKey', 'secret', 'encodingAESKey'] as const;

export type ModelDefaults = { default?: string; fallbacks: string[] };

export interface ResolvedModel {
  ref: string;
  providerId: string;
  provider: ProviderConfig;
  model: ModelConfig;
}

interface Snapshot {
  providers: Map<string, ProviderConfig>;
  channels: Map<string, ChannelConfig>;
  models: ModelDefaults;
  session: ImflowConfig['session'];
  breaker: BreakerSettings;
  limits: LimitSettings;
  alerts: AlertSettings;
  loadedAt: number;
}

const SANDBOX_CHANNEL: ChannelConfig = channelSchema.parse({ id: 'sandbox', type: 'sandbox', name: 'Sandbox', respondTo: 'all' });

/**
 * The runtime view of models, channels and settings. Postgres holds them (config-as-code upserts them
 * at start; the console edits the same rows); every process reads them through this short-lived cache,
 * so a change made through the API reaches all workers within `ttlMs`.
 */
export class Catalog {
  private snap?: Snapshot;
  private loading?: Promise<Snapshot>;
  private lastGood?: Snapshot;

  constructor(
    private readonly db: Db,
    private readonly box: SecretBox,
    private readonly ttlMs = 2000,
  ) {}

  async upsertFromConfig(cfg: ImflowConfig): Promise<void> {
    await inTransaction(this.db, async (c) => {
      for (const [id, p] of Object.entries(cfg.models.providers)) await this.saveProvider(id, p, 'config', c);
      for (const ch of cfg.channels) await this.saveChannel(ch, 'config', c);
      if (cfg.models.default || cfg.models.fallbacks.length) await this.saveModelDefaults(cfg.models, c);
      await putSetting(c, 'session', cfg.session);
      await putSetting(c, 'breaker', cfg.models.breaker);
      await putSetting(c, 'limits', cfg.models.limits);
      await putSetting(c, 'alerts', cfg.alerts);
      await putSetting(c, 'knowledge', cfg.knowledge); // read by knowledge/store.ts
      await upsertDepartments(c, cfg.departments);
      if (cfg.tools) {
        for (const t of cfg.tools.definitions) await this.saveTool(t, 'config', c);
        await toolStore.saveAllowedHosts(c, cfg.tools.allowedHosts);
      }
      await upsertPipelines(c, cfg.pipelines); // last: publishing checks what the lines above wrote
    });
    this.invalidate();
  }

  /** Creates or replaces a model provider; its API key is sealed with IMFLOW_SECRET_KEY before it reaches the table. */
  async saveProvider(id: string, p: ProviderConfig, source: 'config' | 'api', c: Queryable = this.db): Promise<void> {
    await c.query(
      `INSERT INTO model_providers (id, base_url, api, models, api_key_enc, source, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, now())
       ON CONFLICT (id) DO UPDATE SET base_url = $2, api = $3, models = $4, api_key_enc = $5, source = $6, updated_at = now()`,
      [id, p.baseUrl, p.api, JSON.stringify(p.models), p.apiKey ? this.box.seal(p.apiKey) : null, source],
    );
    this.invalidate();
  }

  async deleteProvider(id: string): Promise<boolean> {
    const res = await this.db.query('DELETE FROM model_providers WHERE id = $1', [id]);
    this.invalidate();
    return !!res.rowCount;
  }

  /** The default model and its fallbacks; the caller has checked that the refs name configured models. */
  async saveModelDefaults(d: ModelDefaults, c: Queryable = this.db): Promise<void> {
    await putSetting(c, 'models', { default: d.default, fallbacks: d.fallbacks });
    this.invalidate();
  }

  /** Every provider by id, API keys included: for callers that keep them to themselves. */
  async listProviders(): Promise<Record<string, ProviderConfig>> {
    return Object.fromEntries((await this.snapshot()).providers);
  }

  async modelDefaults(): Promise<ModelDefaults> {
    return (await this.snapshot()).models;
  }

  /** Creates or replaces a channel; secrets are sealed with IMFLOW_SECRET_KEY before they reach the table. */
  async saveChannel(ch: ChannelConfig, source: 'config' | 'api', c: Queryable = this.db): Promise<void> {
    const { settings, secrets } = splitChannel(ch);
    await c.query(
      `INSERT INTO channels (id, type, name, enabled, settings, secrets_enc, source, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, now())
       ON CONFLICT (id) DO UPDATE SET type = $2, name = $3, enabled = $4, settings = $5, secrets_enc = $6, source = $7, updated_at = now()`,
      [ch.id, ch.type, ch.name ?? null, ch.enabled, JSON.stringify(settings), Object.keys(secrets).length ? this.box.seal(JSON.stringify(secrets)) : null, source],
    );
    this.invalidate();
  }

  /** Creates or replaces a tool (config-as-code and /api/tools); its secrets are sealed like a channel's. */
  async saveTool(tool: ToolConfig, source: 'config' | 'api', c: Queryable = this.db): Promise<void> {
    await toolStore.saveTool(c, this.box, tool, source);
  }

  /** Every tool, secrets included: for callers that keep them to themselves. Read per call, not cached. */
  async listTools(): Promise<toolStore.StoredTool[]> {
    return toolStore.listTools(this.db, this.box);
  }

  async tool(id: string): Promise<toolStore.StoredTool | undefined> {
    return toolStore.getTool(this.db, this.box, id);
  }

  async deleteChannel(id: string): Promise<boolean> {
    const res = await this.db.query('DELETE FROM channels WHERE id = $1', [id]);
    this.invalidate();
    return !!res.rowCount;
  }

  /** Every stored channel with where it came from (the built-in sandbox channel is not stored). */
  async listChannels(): Promise<{ channel: ChannelConfig; source: string; updatedAt: Date }[]> {
    const { rows } = await this.db.query<{ id: string; source: string; updated_at: Date }>('SELECT id, source, updated_at FROM channels ORDER BY id');
    const snap = await this.snapshot();
    return rows.flatMap((r) => {
      const channel = snap.channels.get(r.id);
      return channel ? [{ channel, source: r.source, updatedAt: r.updated_at }] : [];
    });
  }

  invalidate(): void {
    this.snap = undefined;
  }

  private async snapshot(): Promise<Snapshot> {
    if (this.snap && Date.now() - this.snap.loadedAt < this.ttlMs) return this.snap;
    this.loading ??= this.load().finally(() => (this.loading = undefined));
    try {
      this.snap = await this.loading;
      this.lastGood = this.snap;
    } catch (err) {
      // Postgres down: keep acking webhooks with the settings last read, rather than refusing
      // messages that a platform re-delivers only a few times (WeCom: 3 in ~15 s) and then drops
      if (!this.lastGood) throw err;
      logger.warn({ err: (err as Error).message }, 'catalog: database unreachable, serving the settings last read');
      return this.lastGood;
    }
    return this.snap;
  }

  private async load(): Promise<Snapshot> {
    const [providers, channels, settings] = await Promise.all([
      this.db.query('SELECT id, base_url, api, models, api_key_enc FROM model_providers'),
      this.db.query('SELECT id, type, name, enabled, settings, secrets_enc FROM channels'),
      this.db.query<{ key: string; value: any }>('SELECT key, value FROM settings'),
    ]);
    const byKey = new Map(settings.rows.map((r) => [r.key, r.value]));
    return {
      providers: new Map(
        providers.rows.map((r) => [
          r.id,
          { baseUrl: r.base_url, api: r.api, models: r.models, apiKey: r.api_key_enc ? this.box.open(r.api_key_enc) : undefined },
        ]),
      ),
      channels: new Map([
        ['sandbox', SANDBOX_CHANNEL],
        ...channels.rows.map((r): [string, ChannelConfig] => [
          r.id,
          {
            ...r.settings,
            ...(r.secrets_enc ? JSON.parse(this.box.open(r.secrets_enc)) : {}),
            id: r.id,
            type: r.type,
            name: r.name ?? undefined,
            enabled: r.enabled,
          },
        ]),
      ]),
      models: byKey.get('models') ?? { fallbacks: [] },
      session: byKey.get('session') ?? { maxHistoryMessages: 50 },
      // stored settings are re-read through their schema, so defaults added later apply to old rows
      breaker: breakerSchema.parse(byKey.get('breaker') ?? {}),
      limits: limitsSchema.parse(byKey.get('limits') ?? {}),
      alerts: alertsSchema.parse(byKey.get('alerts') ?? {}),
      loadedAt: Date.now(),
    };
  }

  async resolveModel(ref: string): Promise<ResolvedModel | undefined> {
    const { providerId, modelId } = splitModelRef(ref);
    const provider = (await this.snapshot()).providers.get(providerId);
    const model = provider?.models.find((m) => m.id === modelId);
    return provider && model ? { ref, providerId, provider, model } : undefined;
  }

  async channel(id: string): Promise<ChannelConfig | undefined> {
    return (await this.snapshot()).channels.get(id);
  }

  async modelChain(): Promise<string[]> {
    const m = await this.modelDefaults();
    return [m.default, ...m.fallbacks].filter((r): r is string => !!r);
  }

  async sessionSettings(): Promise<ImflowConfig['session']> {
    return (await this.snapshot()).session;
  }

  async breakerSettings(): Promise<BreakerSettings> {
    return (await this.snapshot()).breaker;
  }

  async limitSettings(): Promise<LimitSettings> {
    return (await this.snapshot()).limits;
  }

  async alertSettings(): Promise<AlertSettings> {
    return (await this.snapshot()).alerts;
  }

  /** Replaces one of the settings the console edits; the caller has validated it with its config schema. */
  async saveSetting(key: 'breaker' | 'limits' | 'alerts', value: BreakerSettings | LimitSettings | AlertSettings): Promise<void> {
    await putSetting(this.db, key, value);
    this.invalidate();
  }

  /** The largest context window among configured models: an upper bound for what a session may need. */
  async largestContextWindow(): Promise<number> {
    let max = 0;
    for (const p of (await this.snapshot()).providers.values()) for (const m of p.models) max = Math.max(max, m.contextWindow);
    return max || 32_000;
  }
}

function splitChannel(ch: ChannelConfig) {
  const settings: Record<string, unknown> = {};
  const secrets: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(ch)) {
    if (['id', 'type', 'name', 'enabled'].includes(k)) continue;
    ((CHANNEL_SECRET_FIELDS as readonly string[]).includes(k) ? secrets : settings)[k] = v;
  }
  return { settings, secrets };
}

async function putSetting(c: Queryable, key: string, value: unknown) {
  await c.query(
    `INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, now()) ON CONFLICT (key) DO UPDATE SET value = $2, updated_at = now()`,
    [key, JSON.stringify(value)],
  );
}
