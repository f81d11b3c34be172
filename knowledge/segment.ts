import { Jieba } from '@node-rs/jieba';
import { dict } from '@node-rs/jieba/dict.js';

// Postgres has no Chinese parser: jieba cuts the text into words here, and the `simple` text-search
// configuration indexes those words as they are (lower-cased, no stemming), for Chinese and English alike.

let jieba: Jieba | undefined;
/** Loading the bundled dictionary takes a moment and some memory: once per process. */
const segmenter = () => (jieba ??= Jieba.withDict(dict));

// a token worth indexing holds a letter or a digit in any script (drops punctuation and spaces)
const WORDY = /[\p{L}\p{N}]/u;
/** tsvector lexemes are limited to 2 KB; nobody searches for a token this long */
const MAX_TOKEN = 64;

/**
 * Words of a text for the full-text index and for queries: jieba's search mode, which adds the
 * shorter words inside long ones (电子发票 → 电子, 发票, 电子发票) so a question matches either.
 */
export function segment(text: string): string[] {
  return segmenter()
    .cutForSearch(text, true)
    .map((t) => t.trim().toLowerCase())
    .filter((t) => t.length > 0 && t.length <= MAX_TOKEN && WORDY.test(t));
}

/** The space-joined tokens for `to_tsvector('simple', …)`. */
export const lexicalText = (text: string) => segment(text).join(' ');
