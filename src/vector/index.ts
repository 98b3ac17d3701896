import type { VectorIndex } from './types.js';
import { BruteForceIndex } from './brute-force.js';
import { UsearchIndex, type UsearchIndexOptions } from './usearch-index.js';

export { BruteForceIndex, UsearchIndex, type UsearchIndexOptions };
export type { VectorItem } from './usearch-index.js';

export interface VectorIndexOptions extends UsearchIndexOptions {
  /** "usearch" (approximate HNSW, the default) or "brute" (exact scan, for tests and tiny banks). */
  kind?: 'usearch' | 'brute';
}

/** A cosine kNN index over `dim`-dimensional vectors. */
export function createVectorIndex(dim: number, opts: VectorIndexOptions = {}): VectorIndex {
  return opts.kind === 'brute' ? new BruteForceIndex(dim) : new UsearchIndex(dim, opts);
}
