// The pipeline graph as zod schemas: the shape of every field, with bounds. The API parses drafts with
// it, the config file embeds it, the studio checks forms with it (so no Node-only imports here).
// Whether the graph makes sense as a whole (one trigger, references exist, …) is validate.ts's job:
// a draft with a missing model must still save, a draft with a 10 MB prompt must not.
import { z } from 'zod';
import type { PipelineGraph } from './graph.js';

/** Bounds shared with the node catalogue, so the studio's number inputs stop where the schema does. */
export const LIMITS = {
  nodes: 200,
  edges: 400,
  topK: { min: 1, max: 20 },
  minScore: { min: 0, max: 1 },
  temperature: { min: 0, max: 2 },
  maxToolSteps: { min: 1, max: 10 },
  timeoutMs: { min: 100, max: 3_600_000 },
  retries: { min: 0, max: 10 },
  priority: { min: -1000, max: 1000 },
  regexLength: 200,
  templateLength: 8000,
} as const;

/** "default" names the built-in pipeline; the other reserved words are routes under /api/pipelines. */
const RESERVED_PIPELINE_IDS = ['default', 'catalogue', 'lookups', 'validate'];
export const pipelineId = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'lower-case letters, digits, "_" or "-" (max 64)')
  .refine((id) => !RESERVED_PIPELINE_IDS.includes(id), { message: `${RESERVED_PIPELINE_IDS.map((r) => `"${r}"`).join(', ')} are reserved` });

/** Node and edge ids: short and plain, because they appear in traces and default variable names. */
export const elementId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, "_" or "-" (1 to 64)');
/** A model ref "<providerId>/<modelId>", as runtime/config.ts spells it (that module reads files, so it cannot be imported here). */
const modelRef = z.string().regex(/^[A-Za-z0-9._-]{1,64}\/.{1,200}$/, 'a model ref is "<providerId>/<modelId>"');
/** Ids of knowledge bases, tools, channels, departments and roles. */
const refId = z.string().min(1).max(64);
const refList = (max: number) => z.array(refId).max(max);
const template = z.string().max(LIMITS.templateLength);
const shortText = (max: number) => z.string().max(max);
/** A variable name as templates read it: {{vars.orderNo}}. */
export const variableName = z.string().regex(/^[A-Za-z_][\w-]{0,63}$/, 'a name of letters, digits, "_" or "-", not starting with a digit (max 64)');

/** A JavaScript regular expression source, compiled with flag "u" as the trigger and condition match it. */
export const regexSource = z
  .string()
  .min(1)
  .max(LIMITS.regexLength)
  .superRefine((src, ctx) => {
    const problem = regexProblem(src);
    if (problem) ctx.addIssue({ code: 'custom', message: `not a valid regular expression: ${problem}` });
  });

function regexProblem(src: string): string | undefined {
  try {
    new RegExp(src, 'u');
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'a time "HH:MM" from 00:00 to 23:59');

export const timeZone = z
  .string()
  .min(1)
  .max(64)
  .refine(isTimeZone, { message: 'not an IANA time zone such as "Asia/Shanghai"' });

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

const between = (b: { min: number; max: number }) => z.number().min(b.min).max(b.max);
const intBetween = (b: { min: number; max: number }) => z.number().int().min(b.min).max(b.max);

const common = {
  label: shortText(100).optional(),
  timeoutMs: intBetween(LIMITS.timeoutMs).optional(),
  retries: intBetween(LIMITS.retries).optional(),
};

export const timeWindowSchema = z
  .strictObject({
    days: z
      .array(z.number().int().min(1).max(7))
      .max(7)
      .refine((d) => new Set(d).size === d.length, { message: 'each weekday once' })
      .optional(),
    start: hhmm,
    end: hhmm,
    timeZone,
  })
  .refine((w) => w.start !== w.end, { path: ['end'], message: 'end must differ from start (leave the time window out to match all day)' });

// Data objects are strict: a misspelt setting ("keyword" for "keywordsAny") is an error, not silently ignored.
export const triggerData = z.strictObject({
  ...common,
  channels: refList(50).optional(),
  keywordsAny: z.array(z.string().min(1).max(100)).max(50).optional(),
  keywordsAll: z.array(z.string().min(1).max(100)).max(50).optional(),
  regex: regexSource.optional(),
  chatType: z.enum(['any', 'group', 'direct']).optional(),
  mentioned: z.boolean().optional(),
  departments: refList(100).optional(),
  roles: refList(100).optional(),
  timeWindow: timeWindowSchema.optional(),
  priority: intBetween(LIMITS.priority).optional(),
});

export const retrieveData = z.strictObject({
  ...common,
  // may be empty while the analyst is still choosing: validate.ts asks for one before publishing
  knowledgeBases: refList(20),
  topK: intBetween(LIMITS.topK).optional(),
  minScore: between(LIMITS.minScore).optional(),
  query: template.optional(),
});

export const llmData = z.strictObject({
  ...common,
  model: modelRef.optional(),
  fallbacks: z.array(modelRef).max(10).optional(),
  systemPrompt: template.optional(),
  prompt: template.optional(),
  temperature: between(LIMITS.temperature).optional(),
  tools: refList(20).optional(),
  maxToolSteps: intBetween(LIMITS.maxToolSteps).optional(),
});

export const toolData = z.strictObject({
  ...common,
  // may be empty while the analyst is still choosing: validate.ts asks for one before publishing
  tool: z.string().max(64),
  arguments: z
    .record(z.string().min(1).max(64), z.string().max(2000))
    .refine((a) => Object.keys(a).length <= 50, { message: 'at most 50 arguments' }),
  saveAs: variableName.optional(),
});

export const conditionData = z
  .strictObject({
    ...common,
    subject: z.enum(['message', 'reply', 'variable']),
    variable: z.string().max(200).optional(),
    operator: z.enum(['contains', 'regex', 'equals']),
    value: z.string().max(1000),
  })
  .superRefine((c, ctx) => {
    if (c.operator !== 'regex' || !c.value) return;
    const problem = c.value.length > LIMITS.regexLength ? `longer than ${LIMITS.regexLength} characters` : regexProblem(c.value);
    if (problem) ctx.addIssue({ code: 'custom', path: ['value'], message: `not a valid regular expression: ${problem}` });
  });

export const replyButton = z.strictObject({
  label: z.string().min(1).max(40),
  url: z.url({ protocol: /^https?$/ }).max(2000).optional(),
});

export const replyData = z.strictObject({
  ...common,
  text: template.optional(),
  buttons: z.array(replyButton).max(10).optional(),
});

export const handoffData = z.strictObject({
  ...common,
  text: template.optional(),
  target: shortText(200).optional(),
});

export const endData = z.strictObject(common);

// The envelope of nodes and edges strips unknown keys: React Flow adds its own (selected, measured, …).
const position = z.object({ x: z.number().min(-1e6).max(1e6), y: z.number().min(-1e6).max(1e6) });
const node = <T extends string, D extends z.ZodType>(type: T, data: D) => z.object({ id: elementId, type: z.literal(type), position, data });

export const pipelineNode = z.discriminatedUnion('type', [
  node('trigger', triggerData),
  node('retrieve', retrieveData),
  node('llm', llmData),
  node('tool', toolData),
  node('condition', conditionData),
  node('reply', replyData),
  node('handoff', handoffData),
  node('end', endData),
]);

export const pipelineEdge = z.object({
  id: elementId,
  source: elementId,
  target: elementId,
  sourceHandle: z.string().max(16).nullable().optional(),
});

export const pipelineGraph = z.object({
  nodes: z.array(pipelineNode).max(LIMITS.nodes),
  edges: z.array(pipelineEdge).max(LIMITS.edges),
});

// The schema must describe graph.ts exactly, in both directions: tsc fails here when one drifts.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
true satisfies Same<z.infer<typeof pipelineGraph>, PipelineGraph>;

/** A pipeline in the config file's `pipelines:` list (upserted at start; pipelines/store.ts). */
export const configPipeline = z.strictObject({
  id: pipelineId,
  name: z.string().min(1).max(200).optional(),
  description: z.string().max(2000).optional(),
  graph: pipelineGraph,
  /** publish the graph as a new version when it differs from the latest published one */
  publish: z.boolean().default(true),
});

export const configPipelines = z
  .array(configPipeline)
  .max(100)
  .superRefine((list, ctx) => {
    const seen = new Set<string>();
    list.forEach((p, i) => {
      if (seen.has(p.id)) ctx.addIssue({ code: 'custom', path: [i, 'id'], message: `duplicate pipeline id "${p.id}"` });
      seen.add(p.id);
    });
  });

export type ConfigPipeline = z.infer<typeof configPipeline>;
