import type { Neighbor, RiskCategory } from '../models/index.js';

/** What a vector in the index stands for. */
export interface VectorMeta {
  label: RiskCategory;
  source: 'exemplar' | 'escalated';
  text?: string;
}

/** k-nearest-neighbour search over unit vectors by cosine similarity (src/vector/). */
export interface VectorIndex {
  readonly dim: number;
  add(id: string, vector: Float32Array, meta: VectorMeta): void;
  /** Nearest first; `similarity` is cosine similarity in [-1, 1]. */
  search(vector: Float32Array, k: number): Neighbor[];
  /**
   * search() of each vector, in one call where the index can do better than a loop (the screener
   * searches a whole batch at once). Same neighbours, in the same order, as search() one by one.
   */
  searchMany?(vectors: readonly Float32Array[], k: number): Neighbor[][];
  size(): number;
}
