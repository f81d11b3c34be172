import { ApplicationFailure } from '@temporalio/common';
import { defaultPipelineBases } from '../knowledge/store.js';
import type { InboundMessage, RuleMatch } from '../workflows/types.js';
import type { ActivityDeps } from './deps.js';

export const DEFAULT_SYSTEM_PROMPT =
  'You are a helpful colleague inside the company chat. Answer concisely, in the language the user writes in.';

/**
 * Picks the pipeline for a message. Until published pipelines exist, every message takes the default
 * pipeline: the configured default model and its fallbacks (a sandbox run may name its own model first),
 * retrieving from the knowledge bases attached to the default pipeline.
 */
export const makeMatchRule = ({ catalog, db }: Pick<ActivityDeps, 'catalog' | 'db'>) =>
  async function matchRule(msg: InboundMessage): Promise<RuleMatch> {
    const chain = await catalog.modelChain();
    if (msg.model && !(await catalog.resolveModel(msg.model))) {
      throw ApplicationFailure.nonRetryable(`model "${msg.model}" is not configured`, 'InvalidInput');
    }
    const models = msg.model ? [msg.model, ...chain.filter((m) => m !== msg.model)] : chain;
    return {
      pipelineId: 'default',
      pipelineVersion: 0,
      reason: msg.pipelineId ? `pipeline "${msg.pipelineId}" requested, but no pipelines are published yet: default pipeline` : 'no published pipeline matched: default pipeline',
      models,
      systemPrompt: DEFAULT_SYSTEM_PROMPT,
      knowledgeBases: await defaultPipelineBases(db),
    };
  };
