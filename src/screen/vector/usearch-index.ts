import { readFileSync, writeFileSync } from 'node:fs';
import usearch from 'usearch';
import type { Neighbor } from '../../models/index.js';
import type { VectorIndex, VectorMeta } from '../types.js';

export interface UsearchIndexOptions {
  /** HNSW graph degree. Default 16. */
  connectivity?: number;
  /** Candidates kept while inserting. Default 128. */
  expansionAdd?: number;
  /** Candidates kept while searching (recall vs speed). Default 64. */
  expansionSearch?: number;
  /** Vectors to reserve room for up front; grows by doubling. Default 1024. */
  initialCapacity?: number;
}

/** Approximate cosine kNN (HNSW) on usearch, whose native binary ships inside the npm package. */
export class UsearchIndex implements VectorIndex {
  private readonly index: InstanceType<typeof usearch.Index>;
  private readonly metas = new Map<bigint, VectorMeta & { id: string }>();
  private readonly keys = new Map<string, bigint>();
  private nextKey = 1n;
  private capacity: number;

  constructor(readonly dim: number, private readonly opts: UsearchIndexOptions = {}) {
    this.index = new usearch.Index({
      metric: 'cos',
      dimensions: dim,
      connectivity: opts.connectivity ?? 16,
      expansion_add: opts.expansionAdd ?? 128,
      expansion_search: opts.expansionSearch ?? 64,
    } as never);
    this.capacity = 0;
    this.reserve(opts.initialCapacity ?? 1024);
  }

  private reserve(n: number): void {
    if (n <= this.capacity) return;
    // usearch's JS binding exposes reserve on the native object only in some versions.
    const native = (this.index as unknown as { reserve?: (n: number) => void; _native?: { reserve?: (n: number) => void } });
    (native.reserve ?? native._native?.reserve)?.call(native.reserve ? native : native._native, n);
    this.capacity = n;
  }

  add(id: string, vector: Float32Array, meta: VectorMeta): void {
    if (vector.length !== this.dim) throw new Error(`vector has ${vector.length} dimensions, index has ${this.dim}`);
    if (this.keys.has(id)) return; // ids are unique; re-adding is a no-op
    if (this.metas.size + 1 > this.capacity) this.reserve(Math.max(1024, this.capacity * 2));
    const key = this.nextKey++;
    this.index.add(key, vector);
    this.metas.set(key, { ...meta, id });
    this.keys.set(id, key);
  }

  search(vector: Float32Array, k: number): Neighbor[] {
    if (this.metas.size === 0) return [];
    // One thread: the calling event loop is the unit of parallelism (threads=0 measured slower here).
    const m = this.index.search(vector, Math.min(k, this.metas.size), 1);
    const out: Neighbor[] = [];
    for (let i = 0; i < m.keys.length; i++) {
      const meta = this.metas.get(m.keys[i]);
      if (!meta) continue;
      out.push({ id: meta.id, label: meta.label, similarity: 1 - m.distances[i], source: meta.source, ...(meta.text ? { text: meta.text } : {}) });
    }
    return out;
  }

  size(): number {
    return this.metas.size;
  }

  /** Writes the index to `path` and its labels to `path.meta.json`. */
  save(path: string): void {
    this.index.save(path);
    const metas = [...this.metas].map(([key, m]) => ({ key: key.toString(), ...m }));
    writeFileSync(`${path}.meta.json`, JSON.stringify({ dim: this.dim, nextKey: this.nextKey.toString(), metas }));
  }

  /** Reads an index written by save(). */
  static load(path: string, opts: UsearchIndexOptions = {}): UsearchIndex {
    const sidecar = JSON.parse(readFileSync(`${path}.meta.json`, 'utf8')) as { dim: number; nextKey: string; metas: (VectorMeta & { id: string; key: string })[] };
    const idx = new UsearchIndex(sidecar.dim, opts);
    idx.index.load(path);
    for (const { key, ...m } of sidecar.metas) {
      idx.metas.set(BigInt(key), m);
      idx.keys.set(m.id, BigInt(key));
    }
    idx.nextKey = BigInt(sidecar.nextKey);
    idx.capacity = Math.max(idx.capacity, idx.metas.size);
    return idx;
  }
}
