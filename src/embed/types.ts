/**
 * Turns texts into unit-length vectors. Implementations: `hash` (no weights, src/embed/hash.ts)
 * and `onnx` (a sentence model through @huggingface/transformers, src/embed/onnx.ts).
 */
export interface Embedder {
  /** Model id, e.g. "riskpipe/hash-ngram-384-v1" or "intfloat/e5-small-v2". Part of the policy fingerprint. */
  readonly id: string;
  readonly dim: number;
  /** "cpu" (or the onnxruntime execution provider in use). */
  readonly device: string;
  /** One L2-normalised vector per text, in order. */
  embed(texts: string[]): Promise<Float32Array[]>;
  close(): Promise<void>;
}
