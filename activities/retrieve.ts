import { searchKnowledge } from '../knowledge/search.js';
import type { InboundMessage, Retrieval, RuleMatch } from '../workflows/types.js';
import type { ActivityDeps } from './deps.js';

/**
 * Knowledge retrieval from the bases the rule names. Returns where the hits are and the bounded
 * context text only: the chunks' own text never enters workflow history.
 */
export const makeRetrieve = (deps: Pick<ActivityDeps, 'db' | 'catalog'>) =>
  async function retrieve({ message, rule }: { message: InboundMessage; rule: RuleMatch }): Promise<Retrieval> {
    const bases = rule.knowledgeBases ?? [];
    if (!bases.length) return { hits: [], context: '' };
    const { hits, context, mode, note } = await searchKnowledge(deps, bases, message.text);
    return { hits, context, mode, ...(note && { note }) };
  };
