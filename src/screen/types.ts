import type { Event, Neighbor, RiskCategory } from '../models/index.js';

/**
 * Turns texts into unit-length vectors. Implementations: `hash` (no weights, src/screen/embed/hash.ts)
 * and `onnx` (a sentence model through @huggingface/transformers, src/screen/embed/onnx.ts).
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

/** What a vector in the index stands for. */
export interface VectorMeta {
  label: RiskCategory;
  source: 'exemplar' | 'escalated';
  text?: string;
}

/** k-nearest-neighbour search over unit vectors by cosine similarity (src/screen/vector/). */
export interface VectorIndex {
  readonly dim: number;
  add(id: string, vector: Float32Array, meta: VectorMeta): void;
  /** Nearest first; `similarity` is cosine similarity in [-1, 1]. */
  search(vector: Float32Array, k: number): Neighbor[];
  size(): number;
}

/** Author behaviour read from Redis by the worker (src/screen/author.ts). */
export interface AuthorStats {
  /** Messages by this author within `windowS`, this one included. */
  messagesInWindow: number;
  windowS: number;
  /** Distinct channels where this exact content was posted by this author within the window, this one included. */
  sameContentChannels: number;
}

/** Everything the fusion needs to score one event. */
export interface ScreeningInput {
  event: Event;
  author?: AuthorStats;
  neighbors?: Neighbor[];
}
