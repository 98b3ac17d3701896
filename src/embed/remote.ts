import { z } from 'zod';
import { RiskpipeError } from '../common/errors.js';
import { postJson, type RetryOptions } from '../common/http-client.js';
import type { Embedder } from './types.js';

/*
 * Embeddings from an OpenAI-compatible `POST {baseUrl}/embeddings` endpoint (OpenAI, Azure,
 * vLLM, Ollama, LM Studio, text-embeddings-inference). Texts go in batches of `batchSize`;
 * answers are checked (count, order by `index`, dimension) and L2-normalised.
 */

export interface RemoteEmbedderOptions extends RetryOptions {
  /** Base URL including the version path, e.g. https://api.openai.com/v1. */
  baseUrl: string;
  model: string;
  apiKey?: string;
  /** The vectors' size; unset = asked of the endpoint once at connect(). */
  dim?: number;
  /** Texts per request. Default 64. */
  batchSize?: number;
}

const EmbeddingAnswer = z.object({
  data: z.array(z.object({ embedding: z.array(z.number()), index: z.number().int().min(0).optional() })),
});

export class RemoteEmbedder implements Embedder {
  readonly id: string;
  readonly device = 'remote';
  private readonly url: string;

  private constructor(
    private readonly opts: RemoteEmbedderOptions,
    readonly dim: number,
  ) {
    this.id = `openai-embeddings:${opts.model}`;
    this.url = `${opts.baseUrl.replace(/\/+$/, '')}/embeddings`;
  }

  /** Ready to embed; without `dim`, one probe request finds the model's vector size. */
  static async connect(opts: RemoteEmbedderOptions): Promise<RemoteEmbedder> {
    if (opts.dim !== undefined) return new RemoteEmbedder(opts, opts.dim);
    const probe = new RemoteEmbedder(opts, -1);
    const [v] = await probe.request(['dimension probe']);
    return new RemoteEmbedder(opts, v.length);
  }

  private async request(texts: string[]): Promise<Float32Array[]> {
    const body = await postJson({
      url: this.url,
      what: `embeddings endpoint (${this.opts.model} at ${this.opts.baseUrl})`,
      headers: this.opts.apiKey ? { authorization: `Bearer ${this.opts.apiKey}` } : {},
      body: { model: this.opts.model, input: texts, encoding_format: 'float' },
      timeoutMs: this.opts.timeoutMs,
      maxRetries: this.opts.maxRetries,
      baseDelayMs: this.opts.baseDelayMs,
      maxDelayMs: this.opts.maxDelayMs,
      sleep: this.opts.sleep,
    });
    const parsed = EmbeddingAnswer.safeParse(body);
    if (!parsed.success) throw new RiskpipeError('RP_ERR_UPSTREAM_INVALID', `the embeddings endpoint's answer is not an embeddings list: ${parsed.error.issues[0]?.message}`);
    const data = parsed.data.data;
    if (data.length !== texts.length) throw new RiskpipeError('RP_ERR_UPSTREAM_INVALID', `the embeddings endpoint returned ${data.length} vectors for ${texts.length} texts`);
    const ordered = data.every((d) => d.index !== undefined) ? [...data].sort((a, b) => a.index! - b.index!) : data;
    return ordered.map((d) => {
      if (this.dim > 0 && d.embedding.length !== this.dim) {
        throw new RiskpipeError('RP_ERR_UPSTREAM_INVALID', `the embeddings endpoint returned a ${d.embedding.length}-dimensional vector, expected ${this.dim}`);
      }
      const v = Float32Array.from(d.embedding);
      let s = 0;
      for (const x of v) s += x * x;
      if (s > 0) {
        const inv = 1 / Math.sqrt(s);
        for (let i = 0; i < v.length; i++) v[i] *= inv;
      }
      return v;
    });
  }

  async embed(texts: string[]): Promise<Float32Array[]> {
    const size = this.opts.batchSize ?? 64;
    const out: Float32Array[] = [];
    for (let i = 0; i < texts.length; i += size) out.push(...(await this.request(texts.slice(i, i + size))));
    return out;
  }

  async close(): Promise<void> {}
}
