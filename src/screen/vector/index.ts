import type { VectorIndex } from '../types.js';
import { BruteForceIndex } from './brute-force.js';
import { UsearchIndex, type UsearchIndexOptions } from './usearch-index.js';

export { BruteForceIndex, UsearchIndex };

/** A cosine kNN index: usearch's HNSW by default, or an exact scan (`kind: 'brute'`). */
export function createVectorIndex(dim: number, opts: UsearchIndexOptions & { kind?: 'usearch' | 'brute' } = {}): VectorIndex {
  return opts.kind === 'brute' ? new BruteForceIndex(dim) : new UsearchIndex(dim, opts);
}
