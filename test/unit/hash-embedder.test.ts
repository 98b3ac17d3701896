import { describe, expect, it } from 'vitest';
import { HashEmbedder, hashEmbed, normalizeForHash } from '../../src/screen/embed/hash.js';
import { BatchingEmbedder } from '../../src/screen/embed/batching.js';
import type { Embedder } from '../../src/screen/types.js';

const cos = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i], 0);

describe('hash embedder', () => {
  it('normalises obfuscation: leetspeak, spacing, stretching, accents, zero-width characters', () => {
    expect(normalizeForHash('FR33 N1TR0!!!')).toBe('free nitro');
    expect(normalizeForHash('k y s')).toBe('kys');
    expect(normalizeForHash('K.I.L.L Y.O.U.R.S.E.L.F')).toBe('killyourself');
    expect(normalizeForHash('sooooo baaaad')).toBe('soo baad');
    expect(normalizeForHash('h\u200be\u200bllo wörld')).toBe('hello world');
    expect(normalizeForHash('I am a big fan')).toBe('i am a big fan'); // single words stay apart
  });

  it('is deterministic, unit length, 384-dim by default', async () => {
    const e = new HashEmbedder();
    const [a, b] = await e.embed(['the same text', 'the same text']);
    expect(a).toHaveLength(384);
    expect(Math.hypot(...a)).toBeCloseTo(1, 5);
    expect([...a]).toEqual([...b]);
    expect(hashEmbed('x', { dim: 64 })).toHaveLength(64);
  });

  it('puts obfuscated variants and near-duplicates close, unrelated texts far', () => {
    const base = hashEmbed('free nitro giveaway click the link');
    expect(cos(base, hashEmbed('FR33 N1TR0 giveaway!!! click the link'))).toBeGreaterThan(0.9);
    expect(cos(base, hashEmbed('free nitro giveaway, click this link now'))).toBeGreaterThan(0.6);
    expect(cos(base, hashEmbed('what time is the raid tonight'))).toBeLessThan(0.35);
    expect(cos(hashEmbed('kill yourself'), hashEmbed('k i l l y o u r s e l f'))).toBeGreaterThan(0.6);
  });

  it('maps an empty or symbol-only text to the zero vector instead of NaN', () => {
    const v = hashEmbed('!!! ???');
    expect(v.every((x) => x === 0)).toBe(true);
  });
});

describe('BatchingEmbedder', () => {
  class Counting implements Embedder {
    readonly id = 'counting';
    readonly dim = 2;
    readonly device = 'cpu';
    calls: string[][] = [];
    fail = false;
    async embed(texts: string[]) {
      this.calls.push(texts);
      if (this.fail) throw new Error('model exploded');
      return texts.map((t) => new Float32Array([t.length, 1]));
    }
    async close() {}
  }

  it('coalesces concurrent calls into one batch and returns each caller its own vectors in order', async () => {
    const inner = new Counting();
    const b = new BatchingEmbedder(inner, { maxBatchSize: 100, maxWaitMs: 20 });
    const [x, y, z] = await Promise.all([b.embed(['a']), b.embed(['bb', 'ccc']), b.embed(['dddd'])]);
    expect(inner.calls).toHaveLength(1);
    expect(inner.calls[0]).toEqual(['a', 'bb', 'ccc', 'dddd']);
    expect(x.map((v) => v[0])).toEqual([1]);
    expect(y.map((v) => v[0])).toEqual([2, 3]);
    expect(z.map((v) => v[0])).toEqual([4]);
  });

  it('flushes as soon as a batch is full', async () => {
    const inner = new Counting();
    const b = new BatchingEmbedder(inner, { maxBatchSize: 2, maxWaitMs: 10_000 });
    const started = Date.now();
    await Promise.all([b.embed(['a']), b.embed(['b'])]);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('fails every caller of a failed batch', async () => {
    const inner = new Counting();
    inner.fail = true;
    const b = new BatchingEmbedder(inner, { maxBatchSize: 10, maxWaitMs: 1 });
    const results = await Promise.allSettled([b.embed(['a']), b.embed(['b'])]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    await b.close();
  });
});
