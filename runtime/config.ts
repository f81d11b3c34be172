import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';
import { configPipelines } from '../pipelines/schema.js';
import { toolsSectionSchema } from '../tools/definition.js';
import { departmentSchema } from './departments.js';

// The config file's keys are a fixed contract (docs/architecture §4). Unknown keys are rejected so a
// typo ("fallback" for "fallbacks") stops start-up instead of being silently ignored.

const modelId = z.string().min(1).max(200);
export const providerId = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, ".", "_" or "-" (max 64)');
export const modelRef = z
  .string()
  .regex(/^[A-Za-z0-9._-]{1,64}\/.{1,200}$/, 'a model ref is "<providerId>/<modelId>"');

export const modelSchema = z
  .strictObject({
    id: modelId,
    name: z.string().max(200).optional(),
    reasoning: z.boolean().default(false),
    input: z.array(z.enum(['text', 'image'])).default(['text']),
    contextWindow: z.number().int().min(512).max(10_000_000).default(32_000),
    maxTokens: z.number().int().min(1).max(1_000_000).default(2048),
    cost: z
      .strictObject({
        input: z.number().min(0).default(0),
        output: z.number().min(0).default(0),
        cacheRead: z.number().min(0).default(0),
        cacheWrite: z.number().min(0).default(0),
      })
      .optional(),
    /** total time one call may take, ms */
    timeoutMs: z.number().int().min(100).max(3_600_000).default(120_000),
    /** time to the first streamed token, ms (a silent model is treated as down) */
    firstTokenTimeoutMs: z.number().int().min(100).max(600_000).default(8_000),
  /** how prompts are measured: a pessimistic estimate, or Qwen's own tokenizer (exact, ~200 MB once) */
  tokenizer: z.enum(['estimate', 'qwen']).default('estimate'),
  })
  // the prompt gets contextWindow - maxTokens: an output budget that fills the window leaves no room for it
  .refine((m) => m.maxTokens < m.contextWindow, {
    path: ['maxTokens'],
    message: 'maxTokens must be less than contextWindow (the prompt needs the rest of the window)',
  });

export const providerSchema = z.strictObject({
  baseUrl: z.url({ protocol: /^https?$/ }),
  apiKey: z.string().max(4096).optional(),
  api: z.literal('openai-completions').default('openai-completions'),
  models: z.array(modelSchema).min(1),
});

/** The default model and its ordered fallbacks (refs must name configured models: see undefinedModelRefs). */
export const modelDefaultsSchema = z.strictObject({
  default: modelRef.optional(),
  fallbacks: z.array(modelRef).max(10).default([]),
});

const respondTo = z.enum(['mention', 'all']).default('mention');
const channelId = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'lower-case letters, digits, "_" or "-" (max 64)');
const common = {
  id: channelId,
  name: z.string().max(200).optional(),
  enabled: z.boolean().default(true),
  respondTo,
  groups: z.boolean().default(true),
  direct: z.boolean().default(true),
  /** group chats: one shared session per group, or one per sender within the group */
  groupSession: z.enum(['shared', 'sender']).default('shared'),
};
const secret = z.string().min(1).max(4096);
const apiBase = z.url({ protocol: /^https?$/ });

export const channelSchema = z.discriminatedUnion('type', [
  z.strictObject({
    ...common,
    type: z.literal('dingtalk'),
    appKey: z.string().max(200).optional(),
    appSecret: secret.optional(),
    robotCode: z.string().max(200).optional(),
    token: secret.optional(),
    aesKey: secret.optional(),
    apiBase: apiBase.default('https://api.dingtalk.com'),
    oapiBase: apiBase.default('https://oapi.dingtalk.com'),
  }),
  z.strictObject({
    ...common,
    type: z.literal('feishu'),
    appId: z.string().max(200).optional(),
    appSecret: secret.optional(),
    verificationToken: secret.optional(),
    encryptKey: secret.optional(),
    /** the bot's open_id: tells an @-mention of the bot from mentions of other people */
    botOpenId: z.string().max(200).optional(),
    apiBase: apiBase.default('https://open.feishu.cn'),
  }),
  z.strictObject({
    ...common,
    type: z.literal('wecom'),
    corpId: z.string().max(200).optional(),
    agentId: z.union([z.number().int(), z.string().regex(/^\d+$/)]).optional(),
    secret: secret.optional(),
    token: secret.optional(),
    encodingAESKey: z.string().length(43).optional(),
    apiBase: apiBase.default('https://qyapi.weixin.qq.com'),
  }),
  z.strictObject({ ...common, type: z.literal('sandbox') }),
]);

/** Circuit breaker per model, shared by all workers: when to stop sending to a failing model. */
export const breakerSchema = z.strictObject({
  /** open when errors / calls over the window exceed this share… */
  errorRate: z.number().min(0).max(1).default(0.05),
  /** …once at least this many calls were made in the window */
  minCalls: z.number().int().min(1).max(100_000).default(20),
  /** or when this many calls time out within the window */
  timeouts: z.number().int().min(1).max(100_000).default(5),
  windowSeconds: z.number().int().min(10).max(3600).default(60),
  /** how long it stays open before one probe call may test the model again */
  openSeconds: z.number().int().min(1).max(3600).default(30),
});

const rateAndConcurrency = {
  /** calls started per second */
  rps: z.number().int().min(1).max(100_000).optional(),
  /** calls in flight at once (protects the GPU) */
  concurrency: z.number().int().min(1).max(100_000).optional(),
};

/** Flow control: over a limit a message waits (durably, in order) instead of being dropped. */
export const limitsSchema = z.strictObject({
  ...rateAndConcurrency,
  perModel: z.record(modelRef, z.strictObject(rateAndConcurrency)).default({}),
  /** messages one sender may have answered per minute */
  perSenderPerMinute: z.number().int().min(1).max(100_000).optional(),
  /** after waiting this long, the sender is told once that they are queued */
  queueNoticeAfterSeconds: z.number().int().min(1).max(3600).default(15),
  queueNotice: z.string().min(1).max(500).default('当前咨询较多，您的消息已排队，请稍候。(Busy right now: your message is queued.)'),
});

/** Where admins hear about breaker state changes: chats through configured channels and/or webhooks. */
export const alertsSchema = z.strictObject({
  webhooks: z.array(z.url({ protocol: /^https?$/ })).max(10).default([]),
  chats: z
    .array(
      z.strictObject({
        channelId: z.string().min(1).max(64),
        /** the platform's chat id (group) or user id (direct) to post to */
        to: z.string().min(1).max(256),
        chatType: z.enum(['group', 'direct']).default('group'),
      }),
    )
    .max(10)
    .default([]),
});

/** Knowledge bases: defaults for new bases (chunking, embedding model) and for retrieval (docs/knowledge.md). */
export const knowledgeSchema = z
  .strictObject({
    embedding: z
      .strictObject({
        /** an OpenAI-compatible /v1/embeddings model ("<providerId>/<modelId>"); unset: lexical retrieval only */
        model: modelRef.optional(),
        /** expected vector length; a model answering with another length fails indexing instead of mixing spaces */
        dimensions: z.number().int().min(2).max(8192).optional(),
      })
      .default({}),
    /** characters per chunk, and how many characters of the previous chunk each one repeats */
    chunkSize: z.number().int().min(100).max(8000).default(800),
    chunkOverlap: z.number().int().min(0).max(4000).default(120),
    /** chunks handed to the model per message */
    topK: z.number().int().min(1).max(50).default(5),
    /** fused score floor, 0..1 (1 = ranked first by every retriever) */
    minScore: z.number().min(0).max(1).default(0),
  })
  .refine((k) => k.chunkOverlap < k.chunkSize, { path: ['chunkOverlap'], message: 'chunkOverlap must be less than chunkSize' });

export const configSchema = z
  .strictObject({
    models: z
      .strictObject({
        providers: z.record(providerId, providerSchema).default({}),
        ...modelDefaultsSchema.shape,
        breaker: breakerSchema.default(breakerSchema.parse({})),
        limits: limitsSchema.default(limitsSchema.parse({})),
      })
      .default({ providers: {}, fallbacks: [], breaker: breakerSchema.parse({}), limits: limitsSchema.parse({}) }),
    alerts: alertsSchema.default(alertsSchema.parse({})),
    knowledge: knowledgeSchema.default(knowledgeSchema.parse({})),
    channels: z.array(channelSchema).default([]),
    /** HTTP tools and the hosts they may reach (docs/tools.md). Absent: what the API stored stays as it is. */
    tools: toolsSectionSchema.optional(),
    /** departments, their members and what they may use (docs/knowledge-and-tools.md) */
    departments: z.array(departmentSchema).max(1000).default([]),
    /** pipelines as the studio draws them (pipelines/schema.ts); references are checked when they are published */
    pipelines: configPipelines.default([]),
    session: z
      .strictObject({
        /** most recent messages kept per session (older ones stay in Postgres but are not sent) */
        maxHistoryMessages: z.number().int().min(0).max(1000).default(50),
      })
      .default({ maxHistoryMessages: 50 }),
  })
  .superRefine((cfg, ctx) => {
    for (const issue of undefinedModelRefs(cfg.models)) ctx.addIssue({ code: 'custom', path: ['models', ...issue.path], message: issue.message });
    const seen = new Set<string>();
    cfg.channels.forEach((c, i) => {
      if (seen.has(c.id)) ctx.addIssue({ code: 'custom', path: ['channels', i, 'id'], message: `duplicate channel id "${c.id}"` });
      seen.add(c.id);
    });
    const departments = new Set<string>();
    cfg.departments.forEach((d, i) => {
      if (departments.has(d.id)) ctx.addIssue({ code: 'custom', path: ['departments', i, 'id'], message: `duplicate department id "${d.id}"` });
      departments.add(d.id);
    });
  });

export type ImflowConfig = z.infer<typeof configSchema>;
export type ProviderConfig = z.infer<typeof providerSchema>;
export type ModelConfig = z.infer<typeof modelSchema>;
export type ChannelConfig = z.infer<typeof channelSchema>;
export type BreakerSettings = z.infer<typeof breakerSchema>;
export type LimitSettings = z.infer<typeof limitsSchema>;
export type AlertSettings = z.infer<typeof alertsSchema>;
export type KnowledgeSettings = z.infer<typeof knowledgeSchema>;

export function splitModelRef(ref: string): { providerId: string; modelId: string } {
  const slash = ref.indexOf('/');
  return { providerId: ref.slice(0, slash), modelId: ref.slice(slash + 1) };
}

export function findModel(cfg: { models: Pick<ImflowConfig['models'], 'providers'> }, ref: string): ModelConfig | undefined {
  const { providerId: p, modelId: m } = splitModelRef(ref);
  return cfg.models.providers[p]?.models.find((x) => x.id === m);
}

/** The default and fallback refs that name no model under `providers`, each with its path ("fallbacks", 0). */
export function undefinedModelRefs(models: Pick<ImflowConfig['models'], 'providers' | 'default' | 'fallbacks'>): { ref: string; path: (string | number)[]; message: string }[] {
  const refs: [string, (string | number)[]][] = models.fallbacks.map((ref, i) => [ref, ['fallbacks', i]]);
  if (models.default) refs.unshift([models.default, ['default']]);
  return refs
    .filter(([ref]) => !findModel({ models }, ref))
    .map(([ref, path]) => ({ ref, path, message: `model "${ref}" is not defined under models.providers` }));
}

export class ConfigError extends Error {}

/** A key as the config file spells it: models.fallbacks[0]. */
export function issueKey(path: readonly PropertyKey[]): string {
  return path.reduce<string>((acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${String(p)}` : String(p)), '');
}

/** "models.fallbacks[0]: model "x/y" is not defined …" — one line per problem, naming the key. */
export function describeIssues(issues: z.core.$ZodIssue[]): string {
  return issues.map((i) => `  ${issueKey(i.path) || '(root)'}: ${i.message}`).join('\n');
}

export function parseConfig(raw: unknown, source = 'config'): ImflowConfig {
  const res = configSchema.safeParse(raw ?? {});
  if (!res.success) throw new ConfigError(`invalid ${source}:\n${describeIssues(res.error.issues)}`);
  return res.data;
}

/** Reads IMFLOW_CONFIG (or ./imflow.config.{yaml,yml,json} if present). No file → empty config. */
export function loadConfig(file = resolveConfigPath()): { config: ImflowConfig; file?: string } {
  if (!file) return { config: parseConfig({}) };
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read config file ${file}: ${(e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = file.endsWith('.json') ? JSON.parse(text) : YAML.parse(text);
  } catch (e) {
    throw new ConfigError(`config file ${file} is not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}: ${(e as Error).message}`);
  }
  return { config: parseConfig(raw, `config file ${file}`), file };
}

function resolveConfigPath(): string | undefined {
  if (process.env.IMFLOW_CONFIG) return path.resolve(process.env.IMFLOW_CONFIG);
  for (const name of ['imflow.config.yaml', 'imflow.config.yml', 'imflow.config.json']) {
    if (fs.existsSync(name)) return path.resolve(name);
  }
  return undefined;
}
