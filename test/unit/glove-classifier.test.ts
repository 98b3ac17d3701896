import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convertGlove, gloveCachePath, loadGlove, readGloveFile } from '../../src/embed/glove-vectors.js';
import { GloveEmbedder } from '../../src/embed/glove.js';
import { loadClassifier, type ScreeningClassifier } from '../../src/screen/classifier/index.js';
import { forward, K } from '../../src/screen/classifier/model.js';
import { evaluatePredictions } from '../../src/screen/classifier/evaluate.js';
import { fit, featurize, loadLabelledFile, targets } from '../../src/screen/classifier/train.js';
import { ruleSignals, ruleView, scoreEvent } from '../../src/screen/fusion.js';
import { defaultPolicy } from '../../src/screen/policy.js';
import { normalizeText } from '../../src/screen/text.js';

const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i], 0);
const ev = (content: string) => ({ event_id: 'g', event_type: 'message_created' as const, platform: 'discord' as const, channel_id: 'c', user_id: 'u', author_id: 'u', content, created_at: '2026-01-01T00:00:00.000Z', metadata: {} });

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'rp-glove-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('word vectors: converted once into a compact binary', () => {
  it('keeps the most frequent chat-spellable words, int8 rows within 1% of the source', () => {
    const src = join(dir, 'tiny.json');
    const words = ['the', ',', 'cat', "n't", 'dog', 'u.s.', 'k1ll'];
    const vectors: Record<string, number[]> = {};
    words.forEach((w, i) => (vectors[w] = [...Array.from({ length: 4 }, (_, j) => Math.sin(i * 4 + j)), 1, i]));
    writeFileSync(src, JSON.stringify({ precision: 6, l2NormIndex: 4, wordIndex: 5, size: words.length, dimensions: 4, words, vectors }));
    const out = convertGlove({ sourcePath: src, out: join(dir, 'tiny.bin'), maxWords: 3 });
    const g = readGloveFile(out);
    expect(g.words).toEqual(['the', 'cat', 'dog']);
    expect(g.dim).toBe(4);
    const cat = g.vector('cat')!;
    vectors.cat.slice(0, 4).forEach((x, j) => expect(Math.abs(cat[j] - x)).toBeLessThan(0.01));
    expect(g.row('k1ll')).toBe(-1);
  });

  it('the shipped package converts to ≤ 25 MB and loads fast with one read', () => {
    const g = loadGlove();
    expect(g.size).toBe(150_000);
    expect(statSync(gloveCachePath()).size).toBeLessThan(25 * 1024 * 1024);
    const t0 = performance.now();
    const again = readGloveFile(gloveCachePath());
    expect(performance.now() - t0).toBeLessThan(3000);
    expect(again.size).toBe(g.size);
  });
});

describe('glove sentence embedder', () => {
  it('puts paraphrases of a threat closer together than unrelated talk, through leetspeak', async () => {
    const e = new GloveEmbedder(loadGlove(), (t) => normalizeText(t).tokens);
    const [a, b, c, d] = await e.embed(['I will hurt you', 'you are going to get harmed', 'the weather is nice today', '1 w1ll hurt y0u']);
    expect(dot(a, b)).toBeGreaterThan(dot(a, c));
    expect(dot(a, d)).toBeGreaterThan(0.95);
    expect(e.id).toBe('riskpipe/glove-sif-100d-v1');
    const [none] = await e.embed(['zzqx qqzv']);
    expect(dot(none, none)).toBe(0);
  });
});

describe('screening classifier', () => {
  let cls: ScreeningClassifier;
  beforeAll(async () => {
    cls = await loadClassifier();
  });

  it('ships at a reasonable size (one int8 per bucket and output), with the fingerprint of the corpus it was trained on', () => {
    const m = cls.w.meta;
    expect(m.id).toMatch(/^riskpipe\/screening-lr-v1@[0-9a-f]{16}$/);
    expect(m.corpusHash).toMatch(/^[0-9a-f]{16}$/);
    expect(m.rows).toBeGreaterThan(1000);
    const bytes = statSync(join('data/models/screening/sparse.bin')).size;
    expect(bytes).toBe(cls.w.spec.buckets * cls.w.bias.length);
    expect(bytes).toBeLessThan(16 * 1024 * 1024);
  });

  it('is one more signal in the fusion, with its contribution and the words that pushed it most', () => {
    const p = scoreEvent({ event: ev('you are a pathetic worthless buffoon') }, defaultPolicy, cls);
    const s = p.details.signals.classifier;
    expect(s.value).toBeGreaterThan(0.5);
    expect(typeof s.contribution).toBe('number');
    expect(s.evidence?.join(' ')).toMatch(/words that pushed it most: .*(pathetic|worthless|buffoon)/);
    // Where no rule fires, the classifier alone carries the score (a stand-in with p = 0.95 on threat).
    const categories = { spam: 0.01, toxic: 0.01, targeted_harassment: 0.1, hate_speech: 0.01, threat: 0.9, self_harm: 0.01, sexual_content: 0.01 };
    const stand = { id: 'stand-in', predict: () => ({ categories, escalate: 0.95, category: 'threat' as const, logit: 3 }) };
    const q = scoreEvent({ event: ev('bring a friend to the parking lot, you will need him to carry you') }, defaultPolicy, stand);
    expect(q.risk_category).toBe('threat');
    expect(q.risk_score).toBeGreaterThanOrEqual(defaultPolicy.thresholds.screening);
    expect(q.details.signals.classifier.contribution).toBeCloseTo(q.risk_score, 3);
    expect(q.details.reason).toMatch(/classifier/);
    const calm = scoreEvent({ event: ev('thanks for the help with the build yesterday') }, defaultPolicy, cls);
    expect(calm.details.signals.classifier.value).toBeLessThan(0.3);
    expect(calm.risk_level).toBe('LOW');
  });

  it('gives from its int8 weights, as loaded, the logits a float32 copy of them gives, bit for bit', () => {
    const { sparse } = cls.w;
    if (sparse instanceof Float32Array) throw new Error('expected the loaded weights as stored (int8 and scales)');
    const copy = new Float32Array(sparse.q.length);
    for (let at = 0; at < copy.length; at += K) for (let k = 0; k < K; k++) copy[at + k] = sparse.q[at + k] * sparse.scales[k];
    const asFloat32 = { ...cls.w, sparse: copy };
    const texts = ['you are a pathetic worthless buffoon', 'thanks for the help with the build yesterday', 'i know where you live and im coming', 'free nitro at discord-gift.example click now', 'gg'];
    for (const text of texts) {
      const rs = ruleSignals(ev(text), defaultPolicy);
      const f = cls.features(rs.t, ruleView(rs));
      const a = new Float64Array(K);
      const b = new Float64Array(K);
      forward(cls.w, cls.dim, f, a);
      forward(asFloat32, cls.dim, f, b);
      expect([...a]).toEqual([...b]);
    }
  });

  it('rules alone give the same verdicts as before the classifier existed', () => {
    const p = scoreEvent({ event: ev('I know where you live') }, defaultPolicy);
    expect(p.details.signals.classifier).toBeUndefined();
    expect(p.risk_category).toBe('threat');
  });

  it('training is deterministic', () => {
    const rows = loadLabelledFile('data/exemplars.jsonl', { groupBy: 'id-block' }).slice(0, 120);
    const spec = { gloveDim: 100, buckets: 1 << 12 };
    const feats = featurize(rows, loadGlove(), defaultPolicy, spec);
    const h = { epochs: 2, lr: 0.2, l2: 1e-4, buckets: spec.buckets, seed: 7, maxPosWeight: 4, hidden: 8, sparseDropout: 0.5 };
    const a = fit(feats, rows.map(targets), spec, h);
    const b = fit(feats, rows.map(targets), spec, h);
    expect([...a.dense]).toEqual([...b.dense]);
    expect([...a.sparse]).toEqual([...b.sparse]);
    const rs = ruleSignals(ev('kys'), defaultPolicy);
    expect(ruleView(rs).values.harassment).toBeGreaterThan(0.5);
  });
});

describe('evaluatePredictions', () => {
  it('counts precision, recall, false alarms, category accuracy, kinds and misses', () => {
    const rows = [
      { id: '1', content: 'a', should_escalate: true, category: 'threat', kind: 'k1' },
      { id: '2', content: 'b', should_escalate: true, category: 'spam', kind: 'k2' },
      { id: '3', content: 'c', should_escalate: false, category: 'low_risk', kind: 'k3' },
      { id: '4', content: 'd', should_escalate: false, category: 'low_risk', kind: 'k3' },
    ];
    const p = (s: number, c: string) => ({ risk_score: s, risk_category: c as 'threat', details: { reason: `r${s}` } as never });
    const r = evaluatePredictions(rows, [p(0.9, 'threat'), p(0.2, 'low_risk'), p(0.8, 'toxic'), p(0.1, 'low_risk')], 0.7);
    expect(r.overall).toMatchObject({ tp: 1, fn: 1, fp: 1, tn: 1, precision: 0.5, recall: 0.5, falseAlarmRate: 0.5, categoryAccuracy: 1 });
    expect(r.byKind.k3).toMatchObject({ n: 2, escalated: 1, shouldEscalate: false });
    expect(r.misses.map((m) => m.id)).toEqual(['2']);
    expect(r.falseAlarms[0]).toMatchObject({ id: '3', predicted: 'toxic' });
    expect(r.confusion.threat.threat).toBe(1);
  });
});

describe('riskpipe train / eval', () => {
  const capture = async (argv: string[]) => {
    const out: string[] = [];
    const w = process.stdout.write.bind(process.stdout);
    const e = process.stderr.write.bind(process.stderr);
    process.stdout.write = ((s: string) => (out.push(String(s)), true)) as typeof process.stdout.write;
    process.stderr.write = (() => true) as typeof process.stderr.write;
    try {
      const { main } = await import('../../src/cli/index.js');
      return { code: await main(['node', 'riskpipe', ...argv]), out: out.join('') };
    } finally {
      process.stdout.write = w;
      process.stderr.write = e;
    }
  };
  const file = 'data/labelled/screening-holdout-independent.jsonl';

  it('trains on a team file into --out, with its fingerprint, and eval uses it with --classifier', async () => {
    const out = join(dir, 'team');
    const t = await capture(['train', '--file', file, '--no-shipped', '--out', out, '--folds', '3']);
    expect(t.code).toBe(0);
    expect(t.out).toMatch(/classifier riskpipe\/screening-lr-v1@[0-9a-f]{16} written to/);
    const cls = await loadClassifier(out);
    expect(cls.w.meta.rows).toBe(142);
    expect(cls.w.meta.sources).toEqual({ 'screening-holdout-independent': 142 });
    const r = await capture(['eval', '--file', file, '--classifier', out, '--json']);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.out) as { model: string; overall: { n: number; f1: number }; byKind: Record<string, unknown>; confusion: Record<string, unknown> };
    expect(report.model).toContain(cls.id);
    expect(report.overall.n).toBe(142);
    expect(report.overall.f1).toBeGreaterThan(0.8);
    expect(Object.keys(report.byKind).length).toBeGreaterThan(5);
    const plain = await capture(['eval', '--file', file, '--classifier', 'none', '--max-listed', '2']);
    expect(plain.out).toMatch(/precision .* recall .* F1 .* false alarms/);
    expect(plain.out).not.toContain('screening-lr');
  });
});
