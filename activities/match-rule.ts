import { ApplicationFailure } from '@temporalio/common';
import { defaultPipelineBases } from '../knowledge/store.js';
import type { PinnedPipeline } from '../pipelines/graph.js';
import { loadLookups, refsOf } from '../pipelines/lookups.js';
import { pickPipeline, type PipelineReason } from '../pipelines/rules.js';
import { getPipeline, getVersion, publishedPipelines } from '../pipelines/store.js';
import { describeErrors, validateGraph } from '../pipelines/validate.js';
import { permitted, senderProfile } from '../runtime/departments.js';
import type { Db } from '../runtime/db.js';
import type { InboundMessage, RuleMatch } from '../workflows/types.js';
import type { ActivityDeps } from './deps.js';

export const DEFAULT_SYSTEM_PROMPT =
  'You are a helpful colleague inside the company chat. Answer concisely, in the language the user writes in.';

/** The trace shows the reason; a few hundred characters say enough about many pipelines. */
const MAX_REASON = 400;
const bounded = (s: string) => (s.length > MAX_REASON ? `${s.slice(0, MAX_REASON - 1)}…` : s);

const invalidInput = (message: string) => ApplicationFailure.nonRetryable(message, 'InvalidInput');

/**
 * Picks the pipeline for a message: the published, enabled pipeline whose trigger matches it (highest
 * priority first) and that the sender's departments may use; a sandbox run may name a pipeline (and a
 * version, or its draft) instead. The run is pinned to that version's graph. When none matches, the
 * default pipeline answers: the configured default model and its fallbacks (a sandbox run may name its
 * own model first), retrieving from the knowledge bases attached to the default pipeline.
 */
export const makeMatchRule = ({ catalog, db }: Pick<ActivityDeps, 'catalog' | 'db'>) =>
  async function matchRule(msg: InboundMessage): Promise<RuleMatch> {
    const chain = await catalog.modelChain();
    if (msg.model && !(await catalog.resolveModel(msg.model))) throw invalidInput(`model "${msg.model}" is not configured`);
    const models = msg.model ? [msg.model, ...chain.filter((m) => m !== msg.model)] : chain;
    const sender = await senderProfile(db, msg.channelId, msg.senderId);
    const take = (pipeline: PinnedPipeline, reason: string): RuleMatch => ({
      pipelineId: pipeline.id,
      // a draft has no version number yet: pipeline.version says "draft"
      pipelineVersion: typeof pipeline.version === 'number' ? pipeline.version : 0,
      reason: bounded(reason),
      models,
      systemPrompt: DEFAULT_SYSTEM_PROMPT,
      knowledgeBases: [],
      pipeline,
      sender,
    });
    const byDefault = async (reason: string): Promise<RuleMatch> => ({
      pipelineId: 'default',
      pipelineVersion: 0,
      reason: bounded(reason),
      models,
      systemPrompt: DEFAULT_SYSTEM_PROMPT,
      knowledgeBases: await defaultPipelineBases(db),
      sender,
    });

    if (msg.pipelineId === 'default') return byDefault('the default pipeline was requested');
    if (msg.pipelineId) {
      const pinned = await requested(db, msg.pipelineId, msg.pipelineVersion);
      return take(pinned, `pipeline "${pinned.id}" ${pinned.version === 'draft' ? 'draft' : `version ${pinned.version}`} was requested`);
    }

    const published = await publishedPipelines(db);
    const { allowed } = await permitted(db, 'pipelines', published.map((p) => p.id), sender);
    const { chosen, reasons } = pickPipeline(
      published.filter((p) => allowed.includes(p.id)),
      { text: msg.text, channelId: msg.channelId, chatType: msg.chatType, mentioned: msg.mentioned, departments: sender.departments, roles: sender.roles, now: msg.receivedAt },
    );
    const notOpen = published.filter((p) => !allowed.includes(p.id)).map((p): PipelineReason => ({ id: p.id, matched: false, reason: "not open to the sender's departments" }));
    if (chosen) return take(chosen, `pipeline "${chosen.id}" version ${chosen.version} matched: ${reasons.at(-1)!.reason}`);
    const why = [...reasons, ...notOpen].map((r) => `"${r.id}": ${r.reason}`).join('; ');
    return byDefault(`no published pipeline matched${why ? ` (${why})` : ''}: default pipeline`);
  };

/** A sandbox run's own choice: the published version, a given one, or the draft (which must pass validation: it has not been published). */
async function requested(db: Db, id: string, version: InboundMessage['pipelineVersion']): Promise<PinnedPipeline> {
  const p = await getPipeline(db, id);
  if (!p) throw invalidInput(`there is no pipeline "${id}"`);
  if (version === 'draft') {
    const { errors } = validateGraph(p.draft.graph, refsOf(await loadLookups(db)));
    if (errors.length) throw invalidInput(`the draft of pipeline "${id}" cannot run: ${describeErrors(errors)}`);
    return { id, version: 'draft', name: p.name, graph: p.draft.graph };
  }
  const wanted = version ?? p.published?.version;
  if (wanted === undefined) throw invalidInput(`pipeline "${id}" has no published version: publish it, or run its draft (pipelineVersion "draft")`);
  const found = await getVersion(db, id, wanted);
  if (!found) throw invalidInput(`pipeline "${id}" has no version ${wanted}`);
  return { id, version: wanted, name: p.name, graph: found.graph };
}
