import type { ChatMessage } from '../workflows/types.js';

// Scripts as well as ranges: Han outside the BMP (e.g. 𠮷, common in names) and Hangul jamo are one token each too.
const CJK =
  /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}\u2E80-\u9FFF\uAC00-\uD7AF\uF900-\uFAFF\uFF00-\uFFEF\u3000-\u303F]/gu;

/**
 * A deliberately pessimistic token estimate: one token per CJK character, one per three other
 * characters (real tokenizers average ~4 for English). Over-counting trims a little more history;
 * under-counting would cause a context-length error.
 */
export function estimateTokens(text: string): number {
  const cjk = text.match(CJK) ?? [];
  const cjkUnits = cjk.reduce((n, c) => n + c.length, 0); // a character outside the BMP is two UTF-16 units
  return cjk.length + Math.ceil((text.length - cjkUnits) / 3);
}

export type TokenCounter = (text: string) => number;

const PER_MESSAGE = 4; // role and separators
const MARGIN = 64; // chat template overhead

export interface PromptInput {
  systemPrompt?: string;
  context?: string;
  history: ChatMessage[];
  userText: string;
  contextWindow: number;
  maxTokens: number;
  /** the model's own tokenizer where imflow has it; the pessimistic estimate otherwise */
  countTokens?: TokenCounter;
}

export interface Prompt {
  messages: ChatMessage[];
  promptTokens: number;
  droppedHistory: number;
}

/**
 * system (+ retrieved context) → as much recent history as fits → the user's message, so that
 * prompt + maxTokens ≤ contextWindow. Oldest turns go first; history is dropped whole turns from the front.
 */
export function buildPrompt(p: PromptInput): Prompt {
  const budget = p.contextWindow - p.maxTokens - MARGIN;
  const system = [p.systemPrompt, p.context ? `Reference material:\n${p.context}` : ''].filter(Boolean).join('\n\n');
  const count = p.countTokens ?? estimateTokens;
  const head: ChatMessage[] = system ? [{ role: 'system', content: clip(system, budget / 2, count) }] : [];
  const cost = (m: ChatMessage) => count(m.content) + PER_MESSAGE;
  let used = head.reduce((n, m) => n + cost(m), 0);
  const user: ChatMessage = { role: 'user', content: clip(p.userText, budget - used - PER_MESSAGE, count) };
  used += cost(user);

  const kept: ChatMessage[] = [];
  for (let i = p.history.length - 1; i >= 0; i--) {
    const m = p.history[i]!;
    if (used + cost(m) > budget) break;
    used += cost(m);
    kept.unshift(m);
  }
  // a conversation should not open with a dangling assistant turn
  while (kept[0]?.role === 'assistant') used -= cost(kept.shift()!);
  return { messages: [...head, ...kept, user], promptTokens: used, droppedHistory: p.history.length - kept.length };
}

/** Cuts text to about `tokens` tokens, saying so, rather than letting the model server reject it. */
function clip(text: string, tokens: number, count: TokenCounter): string {
  if (count(text) <= tokens) return text;
  const note = '\n[…truncated]';
  let lo = 0;
  let hi = text.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (count(text.slice(0, mid) + note) <= tokens) lo = mid;
    else hi = mid - 1;
  }
  // never cut a surrogate pair (emoji, rare Han) in half: a lone surrogate is not valid text
  if (lo > 0 && /[\uD800-\uDBFF]/.test(text[lo - 1]!)) lo--;
  return text.slice(0, lo) + note;
}
