// Splits a document into overlapping chunks that end at sentence boundaries where possible, so a
// retrieved chunk reads as whole sentences and a fact cut by a boundary survives in the overlap.

export interface Chunk {
  ordinal: number;
  /** character offsets into the parsed text: [start, end) */
  start: number;
  end: number;
  text: string;
}

export interface ChunkOptions {
  /** target characters per chunk (a single sentence longer than this is cut hard) */
  size: number;
  /** characters of the previous chunk repeated at the start of the next, rounded to whole sentences */
  overlap: number;
}

// A sentence ends after Chinese 。！？；…, Western ! and ?, or a full stop followed by space (not the
// point in 24.5), optionally followed by closing quotes or brackets; a line break ends one too.
const SENTENCE_END = /(?:[。！？；!?…]+|\.(?=\s)|\.$)[”’"')）\]】》」』]*|\n+/gu;

/** [start, end) spans of the sentences of text; whitespace between them belongs to neither. */
export function sentenceSpans(text: string): [number, number][] {
  const spans: [number, number][] = [];
  let start = 0;
  const push = (end: number) => {
    let s = start;
    while (s < end && /\s/.test(text[s]!)) s++;
    let e = end;
    while (e > s && /\s/.test(text[e - 1]!)) e--;
    if (e > s) spans.push([s, e]);
  };
  for (const m of text.matchAll(SENTENCE_END)) {
    const end = m.index + m[0].length;
    push(end);
    start = end;
  }
  push(text.length);
  return spans;
}

/** Cuts spans longer than max into max-sized pieces (a table row or a run-on line without punctuation). */
function bounded(spans: [number, number][], max: number): [number, number][] {
  return spans.flatMap(([s, e]) => {
    if (e - s <= max) return [[s, e] as [number, number]];
    const out: [number, number][] = [];
    for (let i = s; i < e; i += max) out.push([i, Math.min(i + max, e)]);
    return out;
  });
}

export function chunkText(text: string, opts: ChunkOptions): Chunk[] {
  if (opts.size < 1 || opts.overlap < 0 || opts.overlap >= opts.size) throw new RangeError('chunk overlap must be in [0, size)');
  const sentences = bounded(sentenceSpans(text), opts.size);
  const chunks: Chunk[] = [];
  let first = 0; // index of the first sentence of the next chunk
  while (first < sentences.length) {
    let last = first;
    // sentences are added while the chunk stays within size (at least one sentence per chunk)
    while (last + 1 < sentences.length && sentences[last + 1]![1] - sentences[first]![0] <= opts.size) last++;
    const start = sentences[first]![0];
    const end = sentences[last]![1];
    chunks.push({ ordinal: chunks.length, start, end, text: text.slice(start, end) });
    if (last + 1 >= sentences.length) break;
    // the next chunk starts with as many trailing whole sentences of this one as fit in the overlap,
    // but always moves forward by at least one sentence
    let next = last + 1;
    while (next - 1 > first && end - sentences[next - 1]![0] <= opts.overlap) next--;
    first = next;
  }
  return chunks;
}
