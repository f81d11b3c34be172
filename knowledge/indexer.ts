import type { Catalog } from '../runtime/catalog.js';
import type { Db } from '../runtime/db.js';
import { logger } from '../runtime/logger.js';
import { chunkText } from './chunk.js';
import { EMBED_BATCH, EmbeddingError, embedderFor } from './embed.js';
import { documentKind, parseDocument } from './parse.js';
import { claimDocument, failDocument, orphanedDocuments, reportProgress, storeChunks, type Claimed } from './store.js';

// Indexing runs in the API process, one document at a time, off the request path: an upload answers
// 202 at once and the document's status/progress in Postgres tell how far it got. Each job holds a
// lease it renews as it goes; a job whose process died lets its lease lapse, and the periodic sweep of
// any API process (including the restarted one) picks the document up again from its stored upload.

export interface IndexerOptions {
  /** how long a claim lasts without renewal */
  leaseSeconds?: number;
  /** how often to look for unfinished documents nobody holds */
  sweepMs?: number;
}

/** share of progress spent before embedding starts (parse + chunk), and what the final write takes */
const PREPARED = 0.1;
const EMBEDDED = 0.95;
const EMBED_ATTEMPTS = 3;

class Stale extends Error {}

export class Indexer {
  private readonly queue: string[] = [];
  private running?: Promise<void>;
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private readonly leaseSeconds: number;
  private readonly sweepMs: number;

  constructor(
    private readonly deps: { db: Db; catalog: Catalog },
    opts: IndexerOptions = {},
  ) {
    this.leaseSeconds = opts.leaseSeconds ?? 60;
    this.sweepMs = opts.sweepMs ?? 10_000;
  }

  /** Resumes unfinished documents now, then sweeps periodically. */
  start(): this {
    void this.sweep();
    this.timer = setInterval(() => void this.sweep(), this.sweepMs);
    this.timer.unref(); // never keeps a process alive
    return this;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
  }

  /** Indexes this document soon (after the ones already waiting). */
  enqueue(id: string): void {
    if (this.stopped || this.queue.includes(id)) return;
    this.queue.push(id);
    this.running ??= this.drain().finally(() => (this.running = undefined));
  }

  /** Resolves once nothing is queued or running (tests and shutdown). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private async sweep(): Promise<void> {
    // the pool ends with the process (imflow.stop): stop quietly instead of failing every sweep after
    if ((this.deps.db as { ending?: boolean }).ending) return void this.stop();
    try {
      for (const id of await orphanedDocuments(this.deps.db)) this.enqueue(id);
    } catch (err) {
      logger.warn({ err: (err as Error).message }, 'knowledge: looking for unfinished documents failed');
    }
  }

  private async drain(): Promise<void> {
    for (let id = this.queue.shift(); id && !this.stopped; id = this.queue.shift()) {
      let job: Claimed | undefined;
      try {
        job = await claimDocument(this.deps.db, id, this.leaseSeconds);
        if (job) await this.index(job);
      } catch (err) {
        if (err instanceof Stale) continue;
        const message = (err as Error).message;
        logger.warn({ documentId: id, err: message }, 'knowledge: indexing failed');
        if (job) await failDocument(this.deps.db, job, message).catch(() => {});
      }
    }
  }

  private async index(job: Claimed): Promise<void> {
    const { db, catalog } = this.deps;
    const progress = async (p: number) => {
      if (this.stopped) throw new Stale(); // leave the lease to lapse: the next process takes over
      if (!(await reportProgress(db, job, p, this.leaseSeconds))) throw new Stale();
    };
    const text = await parseDocument(documentKind(job.name, job.contentType), job.source);
    const chunks = chunkText(text, { size: job.base.chunkSize, overlap: job.base.chunkOverlap });
    await progress(PREPARED);

    let embeddings: number[][] | undefined;
    if (job.base.embeddingModel && chunks.length) {
      const embed = await embedderFor(catalog, job.base.embeddingModel, job.base.embeddingDimensions ?? undefined);
      embeddings = [];
      for (let i = 0; i < chunks.length; i += EMBED_BATCH) {
        const batch = chunks.slice(i, i + EMBED_BATCH).map((c) => c.text);
        embeddings.push(...(await withRetries(() => embed(batch))));
        await progress(PREPARED + ((EMBEDDED - PREPARED) * Math.min(i + EMBED_BATCH, chunks.length)) / chunks.length);
      }
    }
    if (this.stopped) throw new Stale();
    const written = await storeChunks(db, job, chunks, embeddings);
    logger.info({ documentId: job.id, chunks: chunks.length, embedded: !!embeddings, written }, 'knowledge: document indexed');
  }
}

/** A local embedding server restarting should not fail a large upload: a few attempts, 1 s then 2 s apart. */
async function withRetries<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= EMBED_ATTEMPTS || err instanceof EmbeddingError) throw err; // a wrong answer stays wrong
      await new Promise((r) => setTimeout(r, 1000 * 2 ** (attempt - 1)));
    }
  }
}
