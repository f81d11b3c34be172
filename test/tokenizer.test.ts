import { describe, expect, it } from 'vitest';
import { buildPrompt, estimateTokens } from '../activities/prompt.js';
import { qwenTokenCounter } from '../activities/tokenizer.js';

describe('Qwen tokenizer (models with tokenizer: qwen)', () => {
  it('counts with Qwen3 own vocabulary', async () => {
    const count = await qwenTokenCounter();
    expect(count('Hello')).toBe(1);
    expect(count('你好')).toBe(1);
    expect(count('<think>')).toBe(1); // a Qwen3 special token: proof this is its real vocabulary
    // the default estimate is pessimistic by design: never below the real count
    for (const text of ['电子发票开具时效：下单后24小时内', 'Invoices are issued within 24 hours of ordering.', '混合 mixed 文本 text 123']) {
      expect(estimateTokens(text)).toBeGreaterThanOrEqual(count(text));
    }
  });

  it('loads once per process', async () => {
    expect(await qwenTokenCounter()).toBe(await qwenTokenCounter());
  });

  it('an exact count keeps more history in the same window than the estimate', async () => {
    const count = await qwenTokenCounter();
    const history = Array.from({ length: 40 }, (_, i) => ({
      role: (i % 2 ? 'assistant' : 'user') as 'user' | 'assistant',
      content: `Turn ${i}: the customer asks about refunds and the assistant explains the policy in detail.`,
    }));
    const input = { history, userText: 'And the invoice?', contextWindow: 1200, maxTokens: 300, systemPrompt: 'You are helpful.' };
    const exact = buildPrompt({ ...input, countTokens: count });
    const estimated = buildPrompt(input);
    expect(exact.messages.length).toBeGreaterThan(estimated.messages.length);
    const real = exact.messages.reduce((n, m) => n + count(m.content) + 4, 0);
    expect(real + input.maxTokens).toBeLessThanOrEqual(input.contextWindow);
  });
});
