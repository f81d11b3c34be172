import type { InboundMessage, Retrieval, RuleMatch } from '../workflows/types.js';

/** Knowledge retrieval. The default pipeline names no knowledge base, so there is nothing to search. */
export const makeRetrieve = () =>
  async function retrieve(_input: { message: InboundMessage; rule: RuleMatch }): Promise<Retrieval> {
    return { hits: [], context: '' };
  };
