import type { Embedder } from '../types.js';

export interface BatchingOptions {
  /** Most texts in one call to the inner embedder. Default 64. */
  maxBatchSize?: number;
  /** Longest a text waits for others to join its batch. Default 5 ms. */
  maxWaitMs?: number;
}

interface Pending {
  texts: string[];
  resolve: (v: Float32Array[]) => void;
  reject: (e: unknown) => void;
}

/**
 * Coalesces concurrent embed() calls into batches for the inner embedder (a model runs a batch
 * of 32 far faster than 32 single calls). Results go back to each caller in order; a failed
 * batch fails every caller in it.
 */
export class BatchingEmbedder implements Embedder {
  readonly id: string;
  readonly dim: number;
  readonly device: string;
  private readonly maxBatchSize: number;
  private readonly maxWaitMs: number;
  private queue: Pending[] = [];
  private queued = 0;
  private timer: NodeJS.Timeout | undefined;
  private inFlight = new Set<Promise<void>>();

  constructor(readonly inner: Embedder, opts: BatchingOptions = {}) {
    this.id = inner.id;
    this.dim = inner.dim;
    this.device = inner.device;
    this.maxBatchSize = opts.maxBatchSize ?? 64;
    this.maxWaitMs = opts.maxWaitMs ?? 5;
  }

  embed(texts: string[]): Promise<Float32Array[]> {
    if (texts.length === 0) return Promise.resolve([]);
    // A call that alone fills a batch goes straight through.
    if (texts.length >= this.maxBatchSize && this.queue.length === 0) return this.inner.embed(texts);
    return new Promise((resolve, reject) => {
      this.queue.push({ texts, resolve, reject });
      this.queued += texts.length;
      if (this.queued >= this.maxBatchSize) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.maxWaitMs);
    });
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.queue;
    this.queue = [];
    this.queued = 0;
    if (batch.length === 0) return;
    const all = batch.flatMap((p) => p.texts);
    const run = this.inner
      .embed(all)
      .then((vectors) => {
        let offset = 0;
        for (const p of batch) {
          p.resolve(vectors.slice(offset, offset + p.texts.length));
          offset += p.texts.length;
        }
      })
      .catch((err) => {
        for (const p of batch) p.reject(err);
      })
      .finally(() => this.inFlight.delete(run));
    this.inFlight.add(run);
  }

  /** Sends what is waiting, lets running batches finish, then closes the inner embedder. */
  async close(): Promise<void> {
    this.flush();
    await Promise.all([...this.inFlight]);
    await this.inner.close();
  }
}
