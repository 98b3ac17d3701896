import { describe, expect, it } from 'vitest';
import { BruteForceIndex, UsearchIndex, createVectorIndex } from '../../src/screen/vector/index.js';
import type { VectorIndex } from '../../src/screen/types.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function unit(seed: number, dim: number): Float32Array {
  const v = new Float32Array(dim);
  let s = seed * 2654435761 + 1;
  for (let i = 0; i < dim; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    v[i] = s / 2147483648 - 0.5;
  }
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

// One conformance suite for every VectorIndex implementation.
const impls: [string, (dim: number) => VectorIndex][] = [
  ['usearch', (dim) => new UsearchIndex(dim)],
  ['brute force', (dim) => new BruteForceIndex(dim)],
];

describe.each(impls)('VectorIndex: %s', (_name, make) => {
  it('finds an added vector first, with similarity 1, and carries its label and source', () => {
    const idx = make(16);
    for (let i = 0; i < 50; i++) idx.add(`v${i}`, unit(i, 16), { label: i % 2 ? 'threat' : 'low_risk', source: 'exemplar', text: `t${i}` });
    expect(idx.size()).toBe(50);
    const [first] = idx.search(unit(7, 16), 3);
    expect(first).toMatchObject({ id: 'v7', label: 'threat', source: 'exemplar', text: 't7' });
    expect(first.similarity).toBeCloseTo(1, 4);
  });

  it('orders neighbours by similarity and returns at most k (and at most size)', () => {
    const idx = make(8);
    idx.add('a', unit(1, 8), { label: 'spam', source: 'escalated' });
    idx.add('b', unit(2, 8), { label: 'spam', source: 'escalated' });
    const res = idx.search(unit(1, 8), 10);
    expect(res).toHaveLength(2);
    expect(res[0].similarity).toBeGreaterThanOrEqual(res[1].similarity);
    expect(make(8).search(unit(1, 8), 5)).toEqual([]);
  });

  it('gives cosine similarity: opposite vectors score -1', () => {
    const idx = make(4);
    idx.add('x', new Float32Array([1, 0, 0, 0]), { label: 'toxic', source: 'exemplar' });
    idx.add('y', new Float32Array([0, 1, 0, 0]), { label: 'toxic', source: 'exemplar' });
    const res = idx.search(new Float32Array([-1, 0, 0, 0]), 2);
    const x = res.find((r) => r.id === 'x')!;
    expect(x.similarity).toBeCloseTo(-1, 4);
    expect(res.find((r) => r.id === 'y')!.similarity).toBeCloseTo(0, 4);
  });

  it('refuses a vector of the wrong size', () => {
    expect(() => make(8).add('bad', new Float32Array(4), { label: 'spam', source: 'exemplar' })).toThrow(/dimensions/);
  });
});

describe('UsearchIndex', () => {
  it('agrees with exact search on most neighbours (recall@10 >= 0.9 on 5000 random vectors)', () => {
    const dim = 64;
    const a = new UsearchIndex(dim);
    const b = new BruteForceIndex(dim);
    for (let i = 0; i < 5000; i++) {
      const v = unit(i, dim);
      a.add(`v${i}`, v, { label: 'low_risk', source: 'exemplar' });
      b.add(`v${i}`, v, { label: 'low_risk', source: 'exemplar' });
    }
    let hits = 0;
    for (let q = 0; q < 50; q++) {
      const v = unit(100_000 + q, dim);
      const exact = new Set(b.search(v, 10).map((n) => n.id));
      hits += a.search(v, 10).filter((n) => exact.has(n.id)).length;
    }
    expect(hits / 500).toBeGreaterThanOrEqual(0.9);
  });

  it('grows past its initial capacity and survives save/load', () => {
    const idx = new UsearchIndex(8, { initialCapacity: 4 });
    for (let i = 0; i < 100; i++) idx.add(`v${i}`, unit(i, 8), { label: 'spam', source: 'exemplar', text: `s${i}` });
    expect(idx.size()).toBe(100);
    const path = join(mkdtempSync(join(tmpdir(), 'rp-usearch-')), 'index.usearch');
    idx.save(path);
    const back = UsearchIndex.load(path);
    expect(back.size()).toBe(100);
    expect(back.search(unit(42, 8), 1)[0]).toMatchObject({ id: 'v42', label: 'spam', text: 's42' });
    back.add('new', unit(1000, 8), { label: 'threat', source: 'escalated' });
    expect(back.search(unit(1000, 8), 1)[0].id).toBe('new');
  });

  it('ignores a re-added id', () => {
    const idx = createVectorIndex(8);
    idx.add('same', unit(1, 8), { label: 'spam', source: 'exemplar' });
    idx.add('same', unit(2, 8), { label: 'threat', source: 'exemplar' });
    expect(idx.size()).toBe(1);
  });
});
