import { RiskpipeError } from '../common/errors.js';
import type { Neighbor } from '../models/index.js';
import type { VectorIndex, VectorMeta } from './types.js';

/** A vector's label with its id, as both indexes keep it. */
export type Stored = VectorMeta & { id: string };

/**
 * Exact cosine kNN by scanning every vector: the reference the usearch index is tested against,
 * and fine for banks of a few thousand vectors. Same rules as UsearchIndex: vectors are copied,
 * a repeated id is ignored.
 */
export class BruteForceIndex implements VectorIndex {
  private readonly vectors: Float32Array[] = [];
  /** 1 / |v| per vector, so a search costs one dot product per vector. */
  private readonly invNorms: number[] = [];
  private readonly metas: Stored[] = [];
  private readonly ids = new Set<string>();

  constructor(readonly dim: number) {}

  add(id: string, vector: Float32Array, meta: VectorMeta): void {
    checkDim(vector, this.dim);
    if (this.ids.has(id)) return;
    this.ids.add(id);
    this.vectors.push(Float32Array.from(vector));
    this.invNorms.push(inverseNorm(vector));
    this.metas.push({ ...meta, id });
  }

  search(vector: Float32Array, k: number): Neighbor[] {
    checkDim(vector, this.dim);
    const want = Math.min(Math.floor(k), this.vectors.length);
    if (want <= 0) return [];
    const qInv = inverseNorm(vector);
    // Keep the best `want` in a small array sorted best-first (k is small; a heap buys nothing).
    const top: { i: number; s: number }[] = [];
    for (let i = 0; i < this.vectors.length; i++) {
      const s = dot(this.vectors[i], vector) * this.invNorms[i] * qInv;
      if (top.length === want && s <= top[want - 1].s) continue;
      let at = top.length;
      while (at > 0 && top[at - 1].s < s) at--;
      top.splice(at, 0, { i, s });
      if (top.length > want) top.pop();
    }
    return top.map(({ i, s }) => toNeighbor(this.metas[i], s));
  }

  size(): number {
    return this.vectors.length;
  }
}

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let j = 0; j < a.length; j++) s += a[j] * b[j];
  return s;
}

/** 0 for the zero vector, so it scores similarity 0 with everything instead of NaN. */
function inverseNorm(v: Float32Array): number {
  const n = Math.sqrt(dot(v, v));
  return n > 0 ? 1 / n : 0;
}

/** Both indexes refuse a vector of the wrong size: it means the embedder and the index disagree. */
export function checkDim(vector: Float32Array, dim: number): void {
  if (vector.length !== dim) throw new RiskpipeError('RP_ERR_INTERNAL', `vector has ${vector.length} dimensions, index has ${dim}`);
}

export function toNeighbor(meta: Stored, similarity: number): Neighbor {
  const n: Neighbor = { id: meta.id, label: meta.label, similarity, source: meta.source };
  if (meta.text !== undefined) n.text = meta.text;
  return n;
}
