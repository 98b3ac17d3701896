/*
 * Training the screening classifier (deterministic: a seeded shuffle, zero initial weights).
 *
 *   1. rows        the labelled corpus (data/labelled/corpus/**.jsonl), the eval set's dev split,
 *                  the exemplar bank, and any team files; fingerprinted (sha256 over id, content,
 *                  labels in id order, and the recipe)
 *   2. features    ./features.ts, with the rule signals of the default policy
 *   3. fit         logistic regression per output (7 categories + escalate), AdaGrad SGD with L2,
 *                  positives of rare categories up-weighted (at most ×4)
 *   4. CV          grouped k-fold (groups = writer batches: the corpus file, or blocks of ids), so a
 *                  batch's phrasing is never both trained on and scored; the out-of-fold logits
 *                  give the cross-validation figures and the Platt calibration of p(escalate)
 *   5. final fit   on every row, with the calibration from 4
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { GloveVectors } from '../../embed/glove-vectors.js';
import { HARM_CATEGORIES } from '../policy.js';
import { ruleSignals, ruleView, scoreEvent } from '../fusion.js';
import type { RiskCategory } from '../../models/index.js';
import type { Rates } from './evaluate.js';
import type { Policy } from '../policy.js';
import { denseSize, extractFeatures, type Features, type FeatureSpec } from './features.js';
import { ESCALATE, forward, K, OUTPUTS, outputFromLogits, type HiddenLayer, type ClassifierOutput, type TrainedWeights, type Classify, type ModelMeta } from './model.js';

export interface LabelledRow {
  id: string;
  content: string;
  should_escalate: boolean;
  category: string;
  kind?: string;
  /** Writer batch (CV group). */
  group: string;
  /** Which file it came from. */
  source: string;
}

export interface Hyper {
  epochs: number;
  lr: number;
  l2: number;
  buckets: number;
  seed: number;
  /** Most a rare category's positives are up-weighted. */
  maxPosWeight: number;
  /** Units of the hidden layer over the dense features; 0 = plain logistic regression. */
  hidden: number;
  /**
   * Share of an example's n-gram features dropped at each step (the rest scaled up to match).
   * Without it the n-grams memorise the corpus and the word vectors and rules learn nothing.
   */
  sparseDropout: number;
}

export const DEFAULT_HYPER: Hyper = { epochs: 12, lr: 0.2, l2: 1e-3, buckets: 1 << 20, seed: 20261201, maxPosWeight: 4, hidden: 0, sparseDropout: 0.3 };

function readJsonl(path: string): Record<string, unknown>[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l, i) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch (err) {
        throw new Error(`${path}:${i + 1}: ${(err as Error).message}`);
      }
    });
}

function idBlock(id: string, size = 40): string {
  const m = /^(.*?)(\d+)$/.exec(id);
  return m ? `${m[1]}${Math.floor(Number(m[2]) / size)}` : id;
}

/**
 * Labelled rows from a JSONL file: `{content | text, should_escalate?, category | label, kind?, id?}`.
 * Exemplar-bank rows (`text`, `label`) are accepted; should_escalate defaults to category ≠ low_risk.
 */
export function loadLabelledFile(path: string, opts: { split?: string; groupBy?: 'file' | 'id-block' } = {}): LabelledRow[] {
  const src = basename(path).replace(/\.jsonl$/, '');
  const out: LabelledRow[] = [];
  readJsonl(path).forEach((r, i) => {
    if (opts.split && r.split !== opts.split) return;
    const content = String(r.content ?? r.text ?? '');
    const category = String(r.category ?? r.label ?? (r.should_escalate ? 'toxic' : 'low_risk'));
    if (!content.trim()) return;
    const id = String(r.id ?? `${src}-${i + 1}`);
    out.push({
      id: `${src}:${id}`,
      content,
      should_escalate: typeof r.should_escalate === 'boolean' ? r.should_escalate : category !== 'low_risk',
      category,
      kind: typeof r.kind === 'string' ? r.kind : undefined,
      group: opts.groupBy === 'id-block' ? `${src}:${idBlock(id)}` : src,
      source: src,
    });
  });
  return out;
}

/** Every .jsonl file under a folder (recursively), sorted. */
export function jsonlFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...jsonlFiles(p));
    else if (name.endsWith('.jsonl')) out.push(p);
  }
  return out;
}

/**
 * The shipped training rows: corpus files, the eval set's dev split, the exemplar bank, and the
 * background chat (data/models/screening/background-chat.jsonl: greetings, acknowledgements and
 * reactions — the bulk of real traffic, which a corpus of look-alikes under-represents; without
 * it "hello" and "ok" look like the short abusive lines of the corpus).
 */
export function shippedTrainingRows(dataDir: string): LabelledRow[] {
  const rows: LabelledRow[] = [];
  const background = join(dataDir, 'models', 'screening', 'background-chat.jsonl');
  if (existsSync(background)) for (const r of loadLabelledFile(background, { groupBy: 'id-block' })) rows.push(r);
  for (const f of jsonlFiles(join(dataDir, 'labelled', 'corpus'))) for (const r of loadLabelledFile(f)) rows.push(r);
  const evalSet = join(dataDir, 'labelled', 'screening-eval.jsonl');
  if (existsSync(evalSet)) for (const r of loadLabelledFile(evalSet, { split: 'dev', groupBy: 'id-block' })) rows.push(r);
  const bank = join(dataDir, 'exemplars.jsonl');
  if (existsSync(bank)) for (const r of loadLabelledFile(bank, { groupBy: 'id-block' })) rows.push(r);
  return rows;
}

/** sha256 (16 hex) of the rows' ids, texts and labels, order-independent. */
export function corpusHash(rows: readonly LabelledRow[]): string {
  const h = createHash('sha256');
  for (const r of [...rows].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))) h.update(`${r.id}\u0000${r.content}\u0000${r.category}\u0000${r.should_escalate}\u0001`);
  return h.digest('hex').slice(0, 16);
}

export function targets(r: LabelledRow): Float32Array {
  const y = new Float32Array(K);
  const c = HARM_CATEGORIES.indexOf(r.category as (typeof HARM_CATEGORIES)[number]);
  if (c >= 0) y[c] = 1;
  y[ESCALATE] = r.should_escalate ? 1 : 0;
  return y;
}

export function featurize(rows: readonly LabelledRow[], glove: GloveVectors, policy: Policy, spec: FeatureSpec): Features[] {
  return rows.map((r) => {
    const rs = ruleSignals({ event_id: r.id, event_type: 'message_created', platform: 'discord', channel_id: 'train', user_id: 'u', author_id: 'u', content: r.content, created_at: '2026-01-01T00:00:00.000Z', metadata: {} }, policy);
    return extractFeatures(rs.t, ruleView(rs), glove, spec);
  });
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Fitted {
  bias: Float32Array;
  dense: Float32Array;
  sparse: Float32Array;
  hidden?: HiddenLayer;
}

/** Logistic regression per output, AdaGrad SGD with L2 on the weights an example touches. */
export function fit(feats: readonly Features[], ys: readonly Float32Array[], spec: FeatureSpec, h: Hyper): Fitted {
  const D = denseSize(spec);
  const B = spec.buckets;
  const bias = new Float32Array(K);
  const dense = new Float32Array(K * D);
  const sparse = new Float32Array(B * K);
  const gBias = new Float32Array(K).fill(1e-6);
  const gDense = new Float32Array(K * D).fill(1e-6);
  const gSparse = new Float32Array(B * K).fill(1e-6);
  // Rare categories: weight positives by (negatives / positives), capped.
  const pos = new Float64Array(K);
  for (const y of ys) for (let k = 0; k < K; k++) pos[k] += y[k];
  const posW = Array.from(pos, (p) => (p > 0 ? Math.min(h.maxPosWeight, Math.max(1, (ys.length - p) / p / 2)) : 1));
  const order = feats.map((_, i) => i);
  const rand = mulberry32(h.seed);
  // Hidden layer: He-style uniform init from the seeded generator; the output weights start at 0.
  const H = h.hidden;
  const hidden: HiddenLayer | undefined = H > 0 ? { size: H, w1: new Float32Array(H * D), b1: new Float32Array(H), v: new Float32Array(K * H) } : undefined;
  const gW1 = new Float32Array(H * D).fill(1e-6);
  const gB1 = new Float32Array(H).fill(1e-6);
  const gV = new Float32Array(K * H).fill(1e-6);
  if (hidden) {
    const r = Math.sqrt(6 / D);
    for (let i = 0; i < hidden.w1.length; i++) hidden.w1[i] = (rand() * 2 - 1) * r;
    for (let u = 0; u < H; u++) hidden.b1[u] = 0.01;
  }
  const act = new Float64Array(Math.max(1, H));
  const model = { bias, dense, sparse, hidden };
  const z = new Float64Array(K);
  const g = new Float64Array(K);
  for (let ep = 0; ep < h.epochs; ep++) {
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    for (const i of order) {
      const f = h.sparseDropout > 0 ? dropSparse(feats[i], h.sparseDropout, rand) : feats[i];
      const y = ys[i];
      forward(model, D, f, z, act);
      for (let k = 0; k < K; k++) {
        const p = 1 / (1 + Math.exp(-z[k]));
        g[k] = (p - y[k]) * (y[k] > 0 ? posW[k] : 1);
        gBias[k] += g[k] * g[k];
        bias[k] -= (h.lr * g[k]) / Math.sqrt(gBias[k]);
      }
      for (let k = 0; k < K; k++) {
        const base = k * D;
        for (let j = 0; j < D; j++) {
          const x = f.dense[j];
          const gr = g[k] * x + h.l2 * dense[base + j];
          if (gr === 0) continue;
          gDense[base + j] += gr * gr;
          dense[base + j] -= (h.lr * gr) / Math.sqrt(gDense[base + j]);
        }
      }
      for (let e = 0; e < f.idx.length; e++) {
        const b = f.idx[e] * K;
        const x = f.val[e];
        for (let k = 0; k < K; k++) {
          const gr = g[k] * x + h.l2 * sparse[b + k];
          gSparse[b + k] += gr * gr;
          sparse[b + k] -= (h.lr * gr) / Math.sqrt(gSparse[b + k]);
        }
      }
      if (hidden) {
        // Back through the hidden layer (before V moves): dL/da_u = Σ_k g_k V_ku, through the ReLU.
        for (let u = 0; u < H; u++) {
          if (act[u] <= 0) continue;
          let ga = 0;
          for (let k = 0; k < K; k++) ga += g[k] * hidden.v[k * H + u];
          if (ga === 0) continue;
          gB1[u] += ga * ga;
          hidden.b1[u] -= (h.lr * ga) / Math.sqrt(gB1[u]);
          const base = u * D;
          for (let j = 0; j < D; j++) {
            const x = f.dense[j];
            if (x === 0) continue;
            const gr = ga * x + h.l2 * hidden.w1[base + j];
            gW1[base + j] += gr * gr;
            hidden.w1[base + j] -= (h.lr * gr) / Math.sqrt(gW1[base + j]);
          }
        }
        for (let k = 0; k < K; k++) {
          const base = k * H;
          for (let u = 0; u < H; u++) {
            if (act[u] <= 0) continue;
            const gr = g[k] * act[u] + h.l2 * hidden.v[base + u];
            gV[base + u] += gr * gr;
            hidden.v[base + u] -= (h.lr * gr) / Math.sqrt(gV[base + u]);
          }
        }
      }
    }
  }
  return { bias, dense, sparse, hidden };
}

/** The example with a random share `p` of its n-grams removed and the rest scaled by 1 / (1 − p). */
function dropSparse(f: Features, p: number, rand: () => number): Features {
  const keep: number[] = [];
  for (let e = 0; e < f.idx.length; e++) if (rand() >= p) keep.push(e);
  const scale = 1 / (1 - p);
  return {
    dense: f.dense,
    idx: Int32Array.from(keep, (e) => f.idx[e]),
    val: Float32Array.from(keep, (e) => f.val[e] * scale),
    tok: Int32Array.from(keep, (e) => f.tok[e]),
    tokens: f.tokens,
  };
}

export function logitsOf(m: Fitted, f: Features, spec: FeatureSpec): Float64Array {
  const z = new Float64Array(K);
  forward(m, denseSize(spec), f, z);
  return z;
}

/** Out-of-fold logits by grouped k-fold (groups assigned to folds by a seeded shuffle). */
export function crossValidate(rows: readonly LabelledRow[], feats: readonly Features[], ys: readonly Float32Array[], spec: FeatureSpec, h: Hyper, folds = 5): { oof: Float64Array[]; foldOf: number[] } {
  const groups = [...new Set(rows.map((r) => r.group))].sort();
  const rand = mulberry32(h.seed ^ 0x9e3779b9);
  for (let i = groups.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [groups[i], groups[j]] = [groups[j], groups[i]];
  }
  const fold = new Map(groups.map((g, i) => [g, i % folds]));
  const foldOf = rows.map((r) => fold.get(r.group)!);
  const oof = new Array<Float64Array>(rows.length);
  for (let k = 0; k < folds; k++) {
    const tr = rows.map((_, i) => i).filter((i) => foldOf[i] !== k);
    const te = rows.map((_, i) => i).filter((i) => foldOf[i] === k);
    if (te.length === 0) continue;
    const m = fit(tr.map((i) => feats[i]), tr.map((i) => ys[i]), spec, h);
    for (const i of te) oof[i] = logitsOf(m, feats[i], spec);
  }
  return { oof, foldOf };
}

/** Platt scaling: σ(a·z + b) fitted to labels by Newton's method on the log-loss (with Platt's target smoothing). */
export function fitPlatt(z: readonly number[], y: readonly number[]): { a: number; b: number } {
  const np = y.filter((v) => v > 0).length;
  const nn = y.length - np;
  const tp = (np + 1) / (np + 2);
  const tn = 1 / (nn + 2);
  let a = 1;
  let b = 0;
  for (let it = 0; it < 50; it++) {
    let ga = 0;
    let gb = 0;
    let haa = 1e-9;
    let hab = 0;
    let hbb = 1e-9;
    for (let i = 0; i < z.length; i++) {
      const p = 1 / (1 + Math.exp(-(a * z[i] + b)));
      const t = y[i] > 0 ? tp : tn;
      const d = p - t;
      const w = p * (1 - p);
      ga += d * z[i];
      gb += d;
      haa += w * z[i] * z[i];
      hab += w * z[i];
      hbb += w;
    }
    const det = haa * hbb - hab * hab;
    if (Math.abs(det) < 1e-12) break;
    const da = (hbb * ga - hab * gb) / det;
    const db = (haa * gb - hab * ga) / det;
    a -= da;
    b -= db;
    if (Math.abs(da) + Math.abs(db) < 1e-9) break;
  }
  return { a, b };
}

export interface TrainResult {
  weights: TrainedWeights;
  /** Out-of-fold calibrated p(escalate) and category argmax per row (for CV reports). */
  oof: (ClassifierOutput & { fold: number })[];
}

export function trainClassifier(rows: readonly LabelledRow[], glove: GloveVectors, vectorsId: string, policy: Policy, h: Hyper = DEFAULT_HYPER, opts: { folds?: number; log?: (msg: string) => void } = {}): TrainResult {
  const spec: FeatureSpec = { gloveDim: glove.dim, buckets: h.buckets };
  const log = opts.log ?? (() => undefined);
  const t0 = Date.now();
  const feats = featurize(rows, glove, policy, spec);
  const ys = rows.map(targets);
  log(`features for ${rows.length} rows in ${Date.now() - t0} ms`);
  const { oof, foldOf } = crossValidate(rows, feats, ys, spec, h, opts.folds ?? 5);
  const calibration = fitPlatt(
    oof.map((z) => z[ESCALATE]),
    ys.map((y) => y[ESCALATE]),
  );
  log(`cross-validation done in ${Date.now() - t0} ms; calibration a=${calibration.a.toFixed(3)} b=${calibration.b.toFixed(3)}`);
  const m = fit(feats, ys, spec, h);
  const hash = corpusHash(rows);
  const fingerprint = createHash('sha256').update(JSON.stringify({ hash, h, outputs: OUTPUTS, vectorsId })).digest('hex').slice(0, 16);
  const sources: Record<string, number> = {};
  for (const r of rows) sources[r.source] = (sources[r.source] ?? 0) + 1;
  const meta: ModelMeta = {
    id: `riskpipe/screening-${h.hidden > 0 ? `mlp${h.hidden}` : 'lr'}-v1@${fingerprint}`,
    fingerprint,
    corpusHash: hash,
    rows: rows.length,
    sources,
    hyper: { ...h },
    vectors: vectorsId,
  };
  const oofOut = oof.map((z, i) => ({ ...outputFromLogits(z, calibration), fold: foldOf[i] }));
  return { weights: { spec, bias: m.bias, dense: m.dense, sparse: m.sparse, hidden: m.hidden, calibration, meta }, oof: oofOut };
}

// ---- cross-validation figures ----

export interface Scores extends Rates {
  categoryAccuracy: number;
}

export function scoresOf(rows: readonly { should_escalate: boolean; category: string }[], decided: readonly { escalate: boolean; category: string }[]): Scores {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let tn = 0;
  let catOk = 0;
  rows.forEach((r, i) => {
    const d = decided[i];
    if (r.should_escalate && d.escalate) {
      tp++;
      if (d.category === r.category) catOk++;
    } else if (r.should_escalate) fn++;
    else if (d.escalate) fp++;
    else tn++;
  });
  const precision = tp + fp ? tp / (tp + fp) : 0;
  const recall = tp + fn ? tp / (tp + fn) : 0;
  return { n: rows.length, tp, fp, fn, tn, precision, recall, f1: precision + recall ? (2 * precision * recall) / (precision + recall) : 0, falseAlarmRate: fp + tn ? fp / (fp + tn) : 0, categoryAccuracy: tp ? catOk / tp : 0 };
}

/** The fused decision per row with the out-of-fold classifier output standing in for the classifier. */
export function fusedOof(rows: readonly LabelledRow[], oof: readonly ClassifierOutput[], policy: Policy): { escalate: boolean; category: RiskCategory; score: number }[] {
  return rows.map((r, i) => {
    const stand: Classify = { id: 'oof', predict: () => oof[i] };
    const event = { event_id: r.id, event_type: 'message_created' as const, platform: 'discord' as const, channel_id: 'cv', user_id: 'u', author_id: 'u', content: r.content, created_at: '2026-01-01T00:00:00.000Z', metadata: {} };
    const s = scoreEvent({ event }, policy, stand, ruleSignals(event, policy));
    return { escalate: s.risk_score >= policy.thresholds.screening, category: s.risk_category, score: s.risk_score };
  });
}

