import { createHash } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { RiskpipeError } from '../../src/common/errors.js';
import { BatchingEmbedder } from '../../src/embed/batching.js';
import { HASH_EMBEDDER_ID, HashEmbedder, hashEmbed, normalizeForHash } from '../../src/embed/hash.js';
import { createEmbedder } from '../../src/embed/index.js';
import type { Embedder } from '../../src/screen/types.js';

const cos = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i], 0);

describe('hash embedder', () => {
  it('normalises obfuscation: leetspeak, spacing, stretching, accents, homoglyphs, zero-width characters', () => {
    expect(normalizeForHash('FR33 N1TR0!!!')).toBe('free nitro');
    expect(normalizeForHash('fr33 n1tro')).toBe('free nitro');
    expect(normalizeForHash('k y s')).toBe('kys');
    expect(normalizeForHash('K.I.L.L Y.O.U.R.S.E.L.F')).toBe('killyourself');
    expect(normalizeForHash('sooooo baaaad')).toBe('soo baad');
    expect(normalizeForHash('h\u200be\u200bllo wörld')).toBe('hello world');
    expect(normalizeForHash('\u0440\u0430y\u0440\u0430l')).toBe('paypal'); // Cyrillic р and а
    expect(normalizeForHash('ＦＲＥＥ')).toBe('free'); // full-width, by NFKC
    expect(normalizeForHash('$crypt0 @dmin')).toBe('scrypto admin');
    expect(normalizeForHash('I am a big fan')).toBe('i am a big fan'); // single words stay apart
    expect(normalizeForHash('won $100 in 2024')).toBe('won 100 in 2024'); // numbers are not words to fold
  });

  it('is deterministic, unit length, 384-dim by default, and reports its id and device', async () => {
    const e = new HashEmbedder();
    expect(e).toMatchObject({ id: HASH_EMBEDDER_ID, dim: 384, device: 'cpu' });
    expect(HASH_EMBEDDER_ID).toBe('riskpipe/hash-ngram-384-v1');
    const [a, b] = await e.embed(['the same text', 'the same text']);
    expect(a).toHaveLength(384);
    expect(Math.hypot(...a)).toBeCloseTo(1, 5);
    expect([...a]).toEqual([...b]);
    const small = new HashEmbedder({ dim: 64 });
    expect(small).toMatchObject({ dim: 64, id: 'riskpipe/hash-ngram-64-v1' });
    expect((await small.embed(['x']))[0]).toHaveLength(64);
  });

  it('gives exactly the vectors of hash-ngram-384-v1 (a change here needs a new embedder id)', () => {
    const h = createHash('sha256');
    for (const t of ['free nitro giveaway click the link', 'I know where you live.', 'k y s']) h.update(hashEmbed(t));
    expect(h.digest('hex').slice(0, 16)).toBe('90d9e637ba6e487d');
  });

  it('puts obfuscated variants and near-duplicates close, unrelated texts far', () => {
    const base = hashEmbed('free nitro giveaway click the link');
    expect(cos(base, hashEmbed('FR33 N1TR0 giveaway!!! click the link'))).toBeGreaterThan(0.9);
    expect(cos(base, hashEmbed('free nitro giveaway, click this link now'))).toBeGreaterThan(0.6);
    expect(cos(base, hashEmbed('what time is the raid tonight'))).toBeLessThan(0.35);
    const kys = hashEmbed('kys');
    expect(cos(kys, hashEmbed('k y s'))).toBeCloseTo(1, 5);
    expect(cos(kys, hashEmbed('K.Y.S'))).toBeCloseTo(1, 5);
    expect(cos(hashEmbed('kill yourself'), hashEmbed('k.i.l.l y.o.u.r.s.e.l.f'))).toBeGreaterThan(0.6);
    expect(cos(hashEmbed('kill yourself'), hashEmbed('k i l l y o u r s e l f'))).toBeGreaterThan(0.6);
    expect(cos(hashEmbed('kill yourself'), hashEmbed('good luck in your match'))).toBeLessThan(0.3);
  });

  it('tells word order apart through bigrams, but only a little', () => {
    const s = cos(hashEmbed('dog bites man'), hashEmbed('man bites dog'));
    expect(s).toBeLessThan(0.99);
    expect(s).toBeGreaterThan(0.6);
  });

  it('maps an empty or symbol-only text to the zero vector instead of NaN', () => {
    for (const t of ['', '!!! ???', '   ']) expect(hashEmbed(t).every((x) => x === 0)).toBe(true);
  });

  it('embeds short messages fast (loose floor: 2,000 in under 2 s even on a busy machine)', () => {
    const started = performance.now();
    for (let i = 0; i < 2000; i++) hashEmbed(`hey @everyone, fr33 n1tro at https://bit.ly/x${i} — first come first served!!!`);
    expect(performance.now() - started).toBeLessThan(2000);
  });
});

describe('BatchingEmbedder', () => {
  class Counting implements Embedder {
    readonly id = 'counting';
    readonly dim = 2;
    readonly device = 'cpu';
    calls: string[][] = [];
    fail = false;
    closed = 0;
    short = false;
    async embed(texts: string[]) {
      this.calls.push(texts);
      await new Promise((r) => setTimeout(r, 1));
      if (this.fail) throw new Error('model exploded');
      const out = texts.map((t) => new Float32Array([t.length, 1]));
      return this.short ? out.slice(1) : out;
    }
    async close() {
      this.closed++;
    }
  }

  it('coalesces concurrent calls into one batch and returns each caller its own vectors in order', async () => {
    const inner = new Counting();
    const b = new BatchingEmbedder(inner, { maxBatchSize: 100, maxWaitMs: 20 });
    const [x, y, z] = await Promise.all([b.embed(['a']), b.embed(['bb', 'ccc']), b.embed(['dddd'])]);
    expect(inner.calls).toEqual([['a', 'bb', 'ccc', 'dddd']]);
    expect(x.map((v) => v[0])).toEqual([1]);
    expect(y.map((v) => v[0])).toEqual([2, 3]);
    expect(z.map((v) => v[0])).toEqual([4]);
    expect(b).toMatchObject({ id: 'counting', dim: 2, device: 'cpu' });
  });

  it('sends a batch as soon as it is full, without waiting maxWaitMs', async () => {
    const inner = new Counting();
    const b = new BatchingEmbedder(inner, { maxBatchSize: 2, maxWaitMs: 10_000 });
    const started = Date.now();
    await Promise.all([b.embed(['a']), b.embed(['b'])]);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(inner.calls).toEqual([['a', 'b']]);
  });

  it('sends a lone text after maxWaitMs', async () => {
    const inner = new Counting();
    const b = new BatchingEmbedder(inner, { maxBatchSize: 64, maxWaitMs: 30 });
    const started = performance.now();
    await b.embed(['alone']);
    expect(performance.now() - started).toBeGreaterThanOrEqual(25);
    expect(inner.calls).toEqual([['alone']]);
  });

  it('never gives the inner embedder more than maxBatchSize texts, and keeps callers in order', async () => {
    const inner = new Counting();
    const b = new BatchingEmbedder(inner, { maxBatchSize: 4, maxWaitMs: 5 });
    const big = Array.from({ length: 10 }, (_, i) => 'x'.repeat(i + 1));
    const [first, second, third] = await Promise.all([b.embed(['a', 'bb', 'ccc']), b.embed(['dd', 'eee']), b.embed(big)]);
    for (const call of inner.calls) expect(call.length).toBeLessThanOrEqual(4);
    expect(inner.calls.flat()).toHaveLength(15);
    expect(first.map((v) => v[0])).toEqual([1, 2, 3]);
    expect(second.map((v) => v[0])).toEqual([2, 3]);
    expect(third.map((v) => v[0])).toEqual(big.map((t) => t.length));
  });

  it('fails every caller of a failed batch, and only them', async () => {
    const inner = new Counting();
    inner.fail = true;
    const b = new BatchingEmbedder(inner, { maxBatchSize: 10, maxWaitMs: 1 });
    const results = await Promise.allSettled([b.embed(['a']), b.embed(['b'])]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect((results[0] as PromiseRejectedResult).reason.message).toBe('model exploded');
    inner.fail = false;
    expect(await b.embed(['ok'])).toHaveLength(1);
  });

  it('rejects a batch whose inner result has the wrong count instead of mixing callers up', async () => {
    const inner = new Counting();
    inner.short = true;
    const b = new BatchingEmbedder(inner, { maxBatchSize: 10, maxWaitMs: 1 });
    await expect(b.embed(['a', 'b'])).rejects.toThrow(/returned 1 vectors for 2 texts/);
  });

  it('close() sends what is waiting, then refuses new work, closes the inner embedder once, and is idempotent', async () => {
    const inner = new Counting();
    const b = new BatchingEmbedder(inner, { maxBatchSize: 64, maxWaitMs: 60_000 });
    const pending = b.embed(['waiting']);
    await Promise.all([b.close(), b.close()]);
    expect((await pending).map((v) => v[0])).toEqual([7]);
    expect(inner.closed).toBe(1);
    const err = await b.embed(['late']).catch((e) => e);
    expect(err).toBeInstanceOf(RiskpipeError);
    expect(err.code).toBe('RP_ERR_NOT_READY');
    await b.close();
    expect(inner.closed).toBe(1);
  });

  it('with maxWaitMs 0 sends a batch at the end of the turn, on no timer: calls made in one turn share it', async () => {
    // Timers are frozen: a batch waiting on a timer would never go and the test would time out.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const calls: string[][] = [];
      const inner = { id: 'now', dim: 1, device: 'cpu', embed: async (t: string[]) => (calls.push(t), t.map((x) => new Float32Array([x.length]))), close: async () => {} };
      const b = new BatchingEmbedder(inner, { maxWaitMs: 0 });
      const [x, y] = await Promise.all([b.embed(['a']), b.embed(['bb', 'ccc'])]);
      expect(calls).toEqual([['a', 'bb', 'ccc']]);
      expect([...x, ...y].map((v) => v[0])).toEqual([1, 2, 3]);
      expect((await b.embed(['dddd']))[0][0]).toBe(4);
      expect(calls).toHaveLength(2);
      // The hash embedder gains nothing from waiting for companions: createEmbedder sets 0 for it.
      const e = await createEmbedder({ kind: 'hash', dim: 64 });
      expect([...(await e.embed(['free nitro']))[0]]).toEqual([...hashEmbed('free nitro', { dim: 64 })]);
      await e.close();
    } finally {
      vi.useRealTimers();
    }
  });

  it('createEmbedder({ kind: "hash" }) gives a batching hash embedder', async () => {
    const e = await createEmbedder({ kind: 'hash', dim: 128 });
    expect(e).toBeInstanceOf(BatchingEmbedder);
    expect(e).toMatchObject({ id: 'riskpipe/hash-ngram-128-v1', dim: 128 });
    const [[v]] = await Promise.all([e.embed(['fr33 n1tro']), e.embed(['other'])]);
    expect([...v]).toEqual([...hashEmbed('free nitro', { dim: 128 })]);
    await e.close();
  });
});
