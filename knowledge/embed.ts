import OpenAI from 'openai';
import type { Catalog } from '../runtime/catalog.js';

// Dense vectors from an OpenAI-compatible /v1/embeddings model (Ollama, vLLM, TEI…). Vectors are stored
// at unit length, so cosine similarity is a plain dot product in the exact scan.

/** inputs per request: small enough for local servers' batch limits */
export const EMBED_BATCH = 16;
/** characters per input: chunks are far smaller; this only bounds a pathological question */
const MAX_INPUT = 8000;

export class EmbeddingError extends Error {}

export type Embedder = (texts: string[]) => Promise<number[][]>;

/** An embedder for a model ref, or an error naming what is wrong with the ref. */
export async function embedderFor(catalog: Catalog, ref: string, expectedDimensions?: number, timeoutMs = 60_000): Promise<Embedder> {
  const resolved = await catalog.resolveModel(ref);
  if (!resolved) throw new EmbeddingError(`embedding model "${ref}" is not configured under models.providers`);
  const { provider, model } = resolved;
  // retries belong to the caller (the indexing job, the retrieve activity's policy)
  const client = new OpenAI({ baseURL: provider.baseUrl, apiKey: provider.apiKey || 'none', maxRetries: 0, timeout: timeoutMs });
  return async (texts) => {
    const res = await client.embeddings.create({ model: model.id, input: texts.map((t) => t.slice(0, MAX_INPUT)), encoding_format: 'float' });
    const vectors = [...res.data].sort((a, b) => a.index - b.index).map((d) => d.embedding);
    if (vectors.length !== texts.length) throw new EmbeddingError(`embedding model "${ref}" returned ${vectors.length} vectors for ${texts.length} inputs`);
    const dims = expectedDimensions ?? vectors[0]?.length;
    const wrong = vectors.find((v) => v.length !== dims || v.length === 0);
    if (wrong) throw new EmbeddingError(`embedding model "${ref}" returned a vector of ${wrong.length} dimensions, expected ${dims}`);
    return vectors.map(unit);
  };
}

export function unit(v: number[]): number[] {
  const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  return norm > 0 ? v.map((x) => x / norm) : v;
}
