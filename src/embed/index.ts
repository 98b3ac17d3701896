import type { Embedder } from './types.js';
import { BatchingEmbedder, type BatchingOptions } from './batching.js';
import { HashEmbedder } from './hash.js';

export { HashEmbedder, BatchingEmbedder };

export interface EmbedderOptions extends BatchingOptions {
  /** "hash" (built in, no weights), "glove" (SIF mean of pretrained word vectors, src/embed/glove.ts) or "onnx" (a sentence model from a local folder). */
  kind: 'hash' | 'glove' | 'onnx';
  /** glove: how a text becomes tokens (the screener passes its own normalisation). */
  tokenize?: (text: string) => readonly string[];
  /** Vector size of the hash embedder. Default 384. (An ONNX model's size comes from its config.json.) */
  dim?: number;
  /** onnx: the model's folder, or a folder holding `<modelId>/config.json`. Default ./models. */
  modelDir?: string;
  /** onnx: model id. Default intfloat/e5-small-v2. */
  modelId?: string;
  /** onnx: use onnx/model_quantized.onnx. Default false. */
  quantized?: boolean;
  /** onnx: tokens per text before truncation. Default 512. */
  maxLength?: number;
  /** onnx: onnxruntime intra-op threads. Default 0 = one per core. */
  threads?: number;
}

/** The embedder a stage runs with, wrapped so that concurrent calls are batched. */
export async function createEmbedder(opts: EmbedderOptions): Promise<Embedder> {
  // The hash embedder costs the same per text alone or in a batch: waiting for companions would
  // only add latency (5 ms per screened batch), so its batches go at the end of the turn.
  if (opts.kind === 'hash') return new BatchingEmbedder(new HashEmbedder({ dim: opts.dim }), { ...opts, maxWaitMs: opts.maxWaitMs ?? 0 });
  if (opts.kind === 'glove') {
    const { GloveEmbedder } = await import('./glove.js');
    return GloveEmbedder.load({ tokenize: opts.tokenize });
  }
  // Imported only when asked for: the hash path never loads onnxruntime.
  const { OnnxEmbedder } = await import('./onnx.js');
  const inner = await OnnxEmbedder.load({ modelDir: opts.modelDir, modelId: opts.modelId, quantized: opts.quantized, maxLength: opts.maxLength, threads: opts.threads });
  return new BatchingEmbedder(inner, opts);
}
