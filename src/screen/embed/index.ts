import type { Embedder } from '../types.js';
import { BatchingEmbedder, type BatchingOptions } from './batching.js';
import { HashEmbedder } from './hash.js';

export { HashEmbedder, BatchingEmbedder };

export interface EmbedderOptions extends BatchingOptions {
  /** "hash" (built in, no weights) or "onnx" (a sentence model from a local folder). */
  kind: 'hash' | 'onnx';
  /** Vector size of the hash embedder. Default 384. */
  dim?: number;
  /** Folder holding the model (onnx): `<modelDir>/<modelId>/config.json`, or the model's own folder. */
  modelDir?: string;
  /** Model id. Default intfloat/e5-small-v2. */
  modelId?: string;
  /** Use onnx/model_quantized.onnx. Default false. */
  quantized?: boolean;
}

/** The embedder a stage runs with, wrapped so that concurrent calls are batched. */
export async function createEmbedder(opts: EmbedderOptions): Promise<Embedder> {
  if (opts.kind === 'hash') return new BatchingEmbedder(new HashEmbedder({ dim: opts.dim }), opts);
  // Loaded only when asked for: the hash path never loads onnxruntime.
  const { OnnxEmbedder } = await import('./onnx.js');
  const inner = await OnnxEmbedder.load({ modelDir: opts.modelDir, modelId: opts.modelId, quantized: opts.quantized });
  return new BatchingEmbedder(inner, opts);
}
