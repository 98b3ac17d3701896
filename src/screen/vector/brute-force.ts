import type { Neighbor } from '../../models/index.js';
import type { VectorIndex, VectorMeta } from '../types.js';

/** Exact cosine kNN by scanning every vector: the reference for tests and tiny banks. */
export class BruteForceIndex implements VectorIndex {
  private readonly ids: string[] = [];
  private readonly vectors: Float32Array[] = [];
  private readonly metas: VectorMeta[] = [];
  constructor(readonly dim: number) {}

  add(id: string, vector: Float32Array, meta: VectorMeta): void {
    if (vector.length !== this.dim) throw new Error(`vector has ${vector.length} dimensions, index has ${this.dim}`);
    this.ids.push(id);
    this.vectors.push(vector);
    this.metas.push(meta);
  }

  search(vector: Float32Array, k: number): Neighbor[] {
    const scored: { i: number; s: number }[] = [];
    for (let i = 0; i < this.vectors.length; i++) {
      const v = this.vectors[i];
      let dot = 0;
      let na = 0;
      let nb = 0;
      for (let j = 0; j < this.dim; j++) {
        dot += v[j] * vector[j];
        na += v[j] * v[j];
        nb += vector[j] * vector[j];
      }
      scored.push({ i, s: na > 0 && nb > 0 ? dot / Math.sqrt(na * nb) : 0 });
    }
    scored.sort((a, b) => b.s - a.s);
    return scored.slice(0, k).map(({ i, s }) => ({ id: this.ids[i], label: this.metas[i].label, similarity: s, source: this.metas[i].source, ...(this.metas[i].text ? { text: this.metas[i].text } : {}) }));
  }

  size(): number {
    return this.ids.length;
  }
}
