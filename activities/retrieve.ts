import { searchKnowledge } from '../knowledge/search.js';
import { permitted, senderProfile } from '../runtime/departments.js';
import type { InboundMessage, Retrieval, RuleMatch } from '../workflows/types.js';
import type { ActivityDeps } from './deps.js';

export interface RetrieveInput {
  message: InboundMessage;
  rule: RuleMatch;
  /** a pipeline's retrieve node: its bases, limits and rendered query; the rule's bases otherwise */
  node?: { knowledgeBases: string[]; topK?: number; minScore?: number; query?: string };
}

/**
 * Knowledge retrieval from the bases the node (or rule) names, minus those the sender's departments
 * may not read: checked here, against the directory as it is now, whatever the pipeline or prompt
 * asks for. Returns where the hits are and the bounded context text only: the chunks' own text never
 * enters workflow history.
 */
export const makeRetrieve = (deps: Pick<ActivityDeps, 'db' | 'catalog'>) =>
  async function retrieve({ message, rule, node }: RetrieveInput): Promise<Retrieval> {
    const requested = node?.knowledgeBases ?? rule.knowledgeBases ?? [];
    if (!requested.length) return { hits: [], context: '' };
    const profile = await senderProfile(deps.db, message.channelId, message.senderId);
    const { allowed, denied } = await permitted(deps.db, 'knowledgeBases', requested, profile);
    const refused = denied.length ? { denied } : {};
    if (!allowed.length) return { hits: [], context: '', ...refused };
    const query = node?.query?.trim() || message.text;
    const { hits, context, mode, note } = await searchKnowledge(deps, allowed, query, { topK: node?.topK, minScore: node?.minScore });
    return { hits, context, mode, ...(note && { note }), ...refused };
  };
