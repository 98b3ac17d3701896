import { RiskpipeError } from '../common/errors.js';
import type { Embedder } from './types.js';

export interface BatchingOptions {
  /** Most texts in one call to the inner embedder. Default 64. */
  maxBatchSize?: number;
  /**
   * Longest the first text of a batch waits for others to join it. Default 5 ms. 0: no wait —
   * the batch goes at the end of the current event-loop turn (calls made in one turn still share
   * it), for an inner embedder that gains nothing from batching (the hash embedder).
   */
  maxWaitMs?: number;
}

interface Waiting {
  texts: string[];
  resolve: (v: Float32Array[]) => void;
  reject: (e: unknown) => void;
}

/**
 * Coalesces concurrent embed() calls into batches for the inner embedder (a model runs one
 * batch of 32 far faster than 32 single calls). A batch goes when it holds `maxBatchSize` texts
 * or its first text has waited `maxWaitMs`, whichever comes first; every inner call gets at most
 * `maxBatchSize` texts. Results go back to each caller in order; a failed batch fails every
 * caller in it.
 */
export class BatchingEmbedder implements Embedder {
  readonly id: string;
  readonly dim: number;
  readonly device: string;
  private readonly maxBatchSize: number;
  private readonly maxWaitMs: number;
  private waiting: Waiting[] = [];
  private waitingTexts = 0;
  private timer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  private readonly inFlight = new Set<Promise<unknown>>();
  private closing: Promise<void> | undefined;

  constructor(
    readonly inner: Embedder,
    opts: BatchingOptions = {},
  ) {
    this.id = inner.id;
    this.dim = inner.dim;
    this.device = inner.device;
    this.maxBatchSize = Math.max(1, opts.maxBatchSize ?? 64);
    this.maxWaitMs = opts.maxWaitMs ?? 5;
  }

  embed(texts: string[]): Promise<Float32Array[]> {
    if (this.closing) return Promise.reject(new RiskpipeError('RP_ERR_NOT_READY', 'The embedder is closed'));
    if (texts.length === 0) return Promise.resolve([]);
    if (texts.length >= this.maxBatchSize) {
      // A call that fills a batch by itself is not held back; what waits goes first, in order.
      this.flush();
      return this.track(this.embedInChunks(texts));
    }
    if (this.waitingTexts + texts.length > this.maxBatchSize) this.flush();
    return new Promise((resolve, reject) => {
      this.waiting.push({ texts, resolve, reject });
      this.waitingTexts += texts.length;
      if (this.waitingTexts === this.maxBatchSize) this.flush();
      else this.timer ??= this.maxWaitMs > 0 ? setTimeout(this.flushNow, this.maxWaitMs) : setImmediate(this.flushNow);
    });
  }

  private readonly flushNow = () => {
    this.timer = undefined;
    this.flush();
  };

  /** Sends the waiting texts as one inner call and hands each caller its slice. */
  private flush(): void {
    if (this.timer !== undefined) {
      if (this.maxWaitMs > 0) clearTimeout(this.timer as NodeJS.Timeout);
      else clearImmediate(this.timer as NodeJS.Immediate);
      this.timer = undefined;
    }
    const batch = this.waiting;
    this.waiting = [];
    this.waitingTexts = 0;
    if (batch.length === 0) return;
    const texts = batch.flatMap((w) => w.texts);
    const run = this.innerEmbed(texts).then(
      (vectors) => {
        let offset = 0;
        for (const w of batch) {
          w.resolve(vectors.slice(offset, offset + w.texts.length));
          offset += w.texts.length;
        }
      },
      (err: unknown) => {
        for (const w of batch) w.reject(err);
      },
    );
    void this.track(run);
  }

  /** A large call, `maxBatchSize` texts at a time, one after another (the model is busy anyway). */
  private async embedInChunks(texts: string[]): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    for (let i = 0; i < texts.length; i += this.maxBatchSize) out.push(...(await this.innerEmbed(texts.slice(i, i + this.maxBatchSize))));
    return out;
  }

  /** The inner call, checked: a wrong count would hand callers each other's vectors. */
  private async innerEmbed(texts: string[]): Promise<Float32Array[]> {
    const vectors = await this.inner.embed(texts);
    if (vectors.length !== texts.length) {
      throw new RiskpipeError('RP_ERR_INTERNAL', `Embedder ${this.id} returned ${vectors.length} vectors for ${texts.length} texts`);
    }
    return vectors;
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inFlight.add(p);
    const done = () => this.inFlight.delete(p);
    p.then(done, done);
    return p;
  }

  /**
   * Stops intake (later embed() calls reject with RP_ERR_NOT_READY), sends what is waiting,
   * lets running batches finish, then closes the inner embedder. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.flush();
      await Promise.allSettled([...this.inFlight]);
      await this.inner.close();
    })();
    return this.closing;
  }
}
