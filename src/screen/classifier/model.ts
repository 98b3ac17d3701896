/*
 * The screening classifier: one logistic output per harm category plus one for "should be
 * escalated", over the features of ./features.ts:
 *
 *   z_k        = bias_k + Σ_j dense_kj · x_j + Σ_b sparse_bk · s_b + Σ_h V_kh · relu(W1_h · x + b1_h)
 *                (the last term, a hidden layer over the dense features, only when trained with one)
 *   p_k        = σ(z_k)                                  (per category; they need not sum to 1)
 *   p_escalate = σ(calibration.a · z_escalate + calibration.b)   (Platt scaling fitted on
 *                out-of-fold predictions of the training corpus: a probability one can read)
 *
 * On disk (a folder, default data/models/screening/): model.json (spec, bias, dense weights,
 * calibration, the fingerprint of the corpus it was trained on, cross-validation figures) and
 * sparse.bin (the hashed-n-gram weights, int8 with one scale per output: ~0.5 MB).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RiskpipeError } from '../../common/errors.js';
import { forEachSifRow } from '../../embed/glove.js';
import type { GloveVectors } from '../../embed/glove-vectors.js';
import { HARM_CATEGORIES, type HarmCategory } from '../policy.js';
import type { NormalizedText } from '../text.js';
import { denseSize, extractFeatures, RULE_FEATURE_NAMES, type Features, type FeatureSpec, type RuleView } from './features.js';

export const OUTPUTS: readonly (HarmCategory | 'escalate')[] = [...HARM_CATEGORIES, 'escalate'];
export const K = OUTPUTS.length;
export const ESCALATE = K - 1;

export const DEFAULT_CLASSIFIER_DIR = fileURLToPath(new URL('../../../data/models/screening/', import.meta.url));

export interface ModelMeta {
  /** e.g. "riskpipe/screening-lr-v1@<fingerprint>" */
  id: string;
  /** sha256 (16 hex) over the training rows (content, labels) in id order, and the recipe. */
  fingerprint: string;
  corpusHash: string;
  rows: number;
  sources: Record<string, number>;
  hyper: Record<string, number>;
  cv?: Record<string, unknown>;
  /** What the word vectors were: the classifier expects the same ones. */
  vectors: string;
}

export interface ClassifierWeights {
  spec: FeatureSpec;
  bias: Float32Array; // K
  dense: Float32Array; // K × D, row-major by output
  /** B × K, bucket-major: float32 while training, as stored (int8 and a scale per output) once loaded. */
  sparse: Float32Array | QuantizedSparse;
  calibration: { a: number; b: number };
  meta: ModelMeta;
  /** A hidden layer over the dense features (H units); absent for plain logistic regression. */
  hidden?: HiddenLayer;
}

/**
 * The hashed n-gram weights as sparse.bin holds them: weight (b, k) = Math.fround(q[b·K + k] · scales[k]),
 * bit for bit what a float32 copy would hold, in a quarter of the memory (8 MB instead of 32 MB for
 * 2^20 buckets). Every active bucket of a message is a random read in this table, so in the worker,
 * where nothing stays in cache from one event to the next, the smaller table is the faster one.
 */
export interface QuantizedSparse {
  q: Int8Array;
  scales: Float64Array;
}

/** Weight (bucket-major entry `at`, output k) of either form. */
export function sparseWeight(sparse: Float32Array | QuantizedSparse, at: number, k: number): number {
  return sparse instanceof Float32Array ? sparse[at + k] : Math.fround(sparse.q[at + k] * sparse.scales[k]);
}

export interface HiddenLayer {
  size: number;
  w1: Float32Array; // H × D
  b1: Float32Array; // H
  v: Float32Array; // K × H
}

/** The linear part of the logits, z_k = bias_k + Σ_j dense_kj · x_j + Σ_b sparse_bk · s_b, for any K. */
function linear(m: Pick<ClassifierWeights, 'bias' | 'dense' | 'sparse'>, D: number, f: Features, z: Float64Array): void {
  const { bias, dense, sparse } = m;
  for (let k = 0; k < K; k++) {
    let s = bias[k];
    const base = k * D;
    for (let j = 0; j < D; j++) s += dense[base + j] * f.dense[j];
    z[k] = s;
  }
  for (let i = 0; i < f.idx.length; i++) {
    const b = f.idx[i] * K;
    const v = f.val[i];
    for (let k = 0; k < K; k++) z[k] += sparseWeight(sparse, b, k) * v;
  }
}

/**
 * linear() for the K = 8 outputs there are (7 categories and escalate), 2.5× faster: the eight
 * sums run side by side in locals (eight independent chains instead of one dependent chain at a
 * time, and no store per term). Each z_k still adds the same products in the same order, bias
 * first, then j = 0 … D−1, then the active buckets in order, so every bit is that of linear().
 */
function linear8(m: Pick<ClassifierWeights, 'bias' | 'dense' | 'sparse'>, D: number, f: Features, z: Float64Array): void {
  const { bias, dense, sparse } = m;
  const x = f.dense;
  let z0 = bias[0], z1 = bias[1], z2 = bias[2], z3 = bias[3], z4 = bias[4], z5 = bias[5], z6 = bias[6], z7 = bias[7];
  for (let j = 0; j < D; j++) {
    const v = x[j];
    z0 += dense[j] * v;
    z1 += dense[D + j] * v;
    z2 += dense[2 * D + j] * v;
    z3 += dense[3 * D + j] * v;
    z4 += dense[4 * D + j] * v;
    z5 += dense[5 * D + j] * v;
    z6 += dense[6 * D + j] * v;
    z7 += dense[7 * D + j] * v;
  }
  const { idx, val } = f;
  if (sparse instanceof Float32Array) {
    for (let i = 0; i < idx.length; i++) {
      const b = idx[i] * 8;
      const v = val[i];
      z0 += sparse[b] * v;
      z1 += sparse[b + 1] * v;
      z2 += sparse[b + 2] * v;
      z3 += sparse[b + 3] * v;
      z4 += sparse[b + 4] * v;
      z5 += sparse[b + 5] * v;
      z6 += sparse[b + 6] * v;
      z7 += sparse[b + 7] * v;
    }
  } else {
    // The same products as from a float32 copy: Math.fround(q · scale) is what it would hold.
    const { q, scales } = sparse;
    const s0 = scales[0], s1 = scales[1], s2 = scales[2], s3 = scales[3], s4 = scales[4], s5 = scales[5], s6 = scales[6], s7 = scales[7];
    for (let i = 0; i < idx.length; i++) {
      const b = idx[i] * 8;
      const v = val[i];
      z0 += Math.fround(q[b] * s0) * v;
      z1 += Math.fround(q[b + 1] * s1) * v;
      z2 += Math.fround(q[b + 2] * s2) * v;
      z3 += Math.fround(q[b + 3] * s3) * v;
      z4 += Math.fround(q[b + 4] * s4) * v;
      z5 += Math.fround(q[b + 5] * s5) * v;
      z6 += Math.fround(q[b + 6] * s6) * v;
      z7 += Math.fround(q[b + 7] * s7) * v;
    }
  }
  z[0] = z0;
  z[1] = z1;
  z[2] = z2;
  z[3] = z3;
  z[4] = z4;
  z[5] = z5;
  z[6] = z6;
  z[7] = z7;
}

/** The logits of a feature vector (shared by screening and training). `h` receives the hidden activations. */
export function forward(m: Pick<ClassifierWeights, 'bias' | 'dense' | 'sparse' | 'hidden'>, D: number, f: Features, z: Float64Array, h?: Float64Array): void {
  const { hidden } = m;
  if (K === 8) linear8(m, D, f, z);
  else linear(m, D, f, z);
  if (hidden) {
    const H = hidden.size;
    const act = h ?? new Float64Array(H);
    for (let u = 0; u < H; u++) {
      let s = hidden.b1[u];
      const base = u * D;
      for (let j = 0; j < D; j++) s += hidden.w1[base + j] * f.dense[j];
      act[u] = s > 0 ? s : 0;
    }
    for (let k = 0; k < K; k++) {
      let s = 0;
      const base = k * H;
      for (let u = 0; u < H; u++) s += hidden.v[base + u] * act[u];
      z[k] += s;
    }
  }
}

export interface ClassifierOutput {
  /** p_k per harm category. */
  categories: Record<HarmCategory, number>;
  /** Calibrated probability that the message should be escalated. */
  escalate: number;
  /** The category the classifier would name. */
  category: HarmCategory;
  /** Raw escalate logit (before calibration). */
  logit: number;
}

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/** What fusion asks of a classifier (ScreeningClassifier, or a stand-in in cross-validation). */
export interface Classify {
  readonly id: string;
  predict(t: NormalizedText, rules: RuleView): ClassifierOutput & { features?: Features };
  topWords?(f: Features, n?: number): { word: string; weight: number }[];
}

/** The output for a vector of logits (categories then escalate) under a calibration. */
export function outputFromLogits(z: ArrayLike<number>, calibration: { a: number; b: number }): ClassifierOutput {
  const categories = {} as Record<HarmCategory, number>;
  let best: HarmCategory = HARM_CATEGORIES[0];
  for (let k = 0; k < HARM_CATEGORIES.length; k++) {
    const c = HARM_CATEGORIES[k];
    categories[c] = sigmoid(z[k]);
    if (categories[c] > categories[best]) best = c;
  }
  return { categories, escalate: sigmoid(calibration.a * z[ESCALATE] + calibration.b), category: best, logit: z[ESCALATE] };
}

export class ScreeningClassifier implements Classify {
  readonly id: string;
  readonly dim: number;
  constructor(
    readonly w: ClassifierWeights,
    readonly glove: GloveVectors,
  ) {
    this.id = w.meta.id;
    this.dim = denseSize(w.spec);
  }

  features(t: NormalizedText, rules: RuleView): Features {
    return extractFeatures(t, rules, this.glove, this.w.spec);
  }

  logits(f: Features, out = new Float64Array(K)): Float64Array {
    forward(this.w, this.dim, f, out);
    return out;
  }

  /** Logits of the message being predicted: outputFromLogits reads them into a fresh output. */
  private readonly z = new Float64Array(K);

  predictFeatures(f: Features): ClassifierOutput {
    return outputFromLogits(this.logits(f, this.z), this.w.calibration);
  }

  predict(t: NormalizedText, rules: RuleView): ClassifierOutput & { features: Features } {
    const f = this.features(t, rules);
    const out = this.predictFeatures(f) as ClassifierOutput & { features: Features };
    out.features = f;
    return out;
  }

  /**
   * The words that pushed the escalate logit most, either way: each token's share of the sparse
   * n-grams it produced plus its SIF-weighted share of the sentence vector's term.
   */
  topWords(f: Features, n = 5): { word: string; weight: number }[] {
    return this.pushers(f, n);
  }

  private per = new Float64Array(64);
  private sparseShare = new Float64Array(64);
  private total = new Float32Array(0);

  private pushers(f: Features, n: number): { word: string; weight: number }[] {
    const tokens = f.tokens;
    // Reused buffers (cleared here): three typed arrays per call cost more than the sums.
    if (this.per.length < tokens.length) {
      this.per = new Float64Array(2 * tokens.length);
      this.sparseShare = new Float64Array(2 * tokens.length);
    }
    const per = this.per.fill(0, 0, tokens.length);
    const { sparse, dense } = this.w;
    for (let i = 0; i < f.idx.length; i++) if (f.tok[i] >= 0) per[f.tok[i]] += sparseWeight(sparse, f.idx[i] * K, ESCALATE) * f.val[i];
    // The sentence vector's term is linear in the (normalised) vector: split it by each word's weighted vector.
    const D = this.dim;
    const gd = this.w.spec.gloveDim;
    const wvAt = ESCALATE * D; // the escalate output's weights of the sentence vector
    let norm = 0;
    for (let j = 0; j < gd; j++) norm += f.dense[j] * f.dense[j];
    if (norm > 0) {
      const sparseShare = this.sparseShare;
      sparseShare.set(per.subarray(0, tokens.length));
      // The vector is Σ w_i·v_i / ‖Σ w_i·v_i‖: word i's share of the term is (w_i·v_i · weights) / ‖Σ‖.
      if (this.total.length !== gd) this.total = new Float32Array(gd);
      const total = this.total.fill(0);
      const g = this.glove;
      for (let i = 0; i < tokens.length; i++) {
        forEachSifRow(g, tokens[i], (row, weight) => {
          const base = row * gd;
          const sc = g.scales[row] * weight;
          let d = 0;
          for (let j = 0; j < gd; j++) {
            const x = g.rows[base + j] * sc;
            d += x * dense[wvAt + j];
            total[j] += x;
          }
          per[i] += d;
        });
      }
      let tn = 0;
      for (let j = 0; j < gd; j++) tn += total[j] * total[j];
      const inv = tn > 0 ? 1 / Math.sqrt(tn) : 0;
      // per[i] held the sparse share plus the raw dot: scale only the latter.
      for (let i = 0; i < tokens.length; i++) per[i] = sparseShare[i] + (per[i] - sparseShare[i]) * inv;
    }
    const merged = new Map<string, number>();
    for (let i = 0; i < tokens.length; i++) merged.set(tokens[i], (merged.get(tokens[i]) ?? 0) + per[i]);
    const out: { word: string; weight: number }[] = [];
    for (const [word, weight] of merged) {
      const w = Math.round(weight * 1000) / 1000;
      if (w !== 0) out.push({ word, weight: w });
    }
    return out.sort((a, b) => Math.abs(b.weight) - Math.abs(a.weight)).slice(0, n);
  }
}

// ---- persistence ----

interface ModelJson {
  format: 'riskpipe-screening-classifier/1';
  spec: FeatureSpec;
  outputs: string[];
  denseFeatures: string[];
  bias: number[];
  dense: number[][];
  calibration: { a: number; b: number };
  sparseScales: number[];
  sparseSha256: string;
  meta: ModelMeta;
  hidden?: { size: number; w1: number[][]; b1: number[]; v: number[][] };
}

const r6 = (x: number) => Math.round(x * 1e6) / 1e6;

/** Weights as training makes them (float32 sparse weights), before saveClassifier quantises them. */
export type TrainedWeights = ClassifierWeights & { sparse: Float32Array };

export function saveClassifier(w: TrainedWeights, dir: string): void {
  mkdirSync(dir, { recursive: true });
  const B = w.spec.buckets;
  const scales = new Array<number>(K).fill(0);
  for (let b = 0; b < B; b++) for (let k = 0; k < K; k++) scales[k] = Math.max(scales[k], Math.abs(w.sparse[b * K + k]));
  for (let k = 0; k < K; k++) scales[k] = scales[k] > 0 ? scales[k] / 127 : 1;
  const q = new Int8Array(B * K);
  for (let b = 0; b < B; b++) for (let k = 0; k < K; k++) q[b * K + k] = Math.round(w.sparse[b * K + k] / scales[k]);
  const buf = Buffer.from(q.buffer);
  const D = denseSize(w.spec);
  const json: ModelJson = {
    format: 'riskpipe-screening-classifier/1',
    spec: w.spec,
    outputs: [...OUTPUTS],
    denseFeatures: [...Array.from({ length: w.spec.gloveDim }, (_, i) => `glove:${i}`), ...Array.from({ length: w.spec.gloveDim }, (_, i) => `glovemax:${i}`), ...RULE_FEATURE_NAMES],
    bias: [...w.bias].map(r6),
    dense: OUTPUTS.map((_, k) => [...w.dense.subarray(k * D, (k + 1) * D)].map(r6)),
    calibration: { a: r6(w.calibration.a), b: r6(w.calibration.b) },
    sparseScales: scales.map((s) => Number(s.toPrecision(8))),
    sparseSha256: createHash('sha256').update(buf).digest('hex'),
    meta: w.meta,
    ...(w.hidden
      ? {
          hidden: {
            size: w.hidden.size,
            w1: Array.from({ length: w.hidden.size }, (_, u) => [...w.hidden!.w1.subarray(u * D, (u + 1) * D)].map(r6)),
            b1: [...w.hidden.b1].map(r6),
            v: OUTPUTS.map((_, k) => [...w.hidden!.v.subarray(k * w.hidden!.size, (k + 1) * w.hidden!.size)].map(r6)),
          },
        }
      : {}),
  };
  writeFileSync(join(dir, 'sparse.bin'), buf);
  writeFileSync(join(dir, 'model.json'), `${JSON.stringify(json, null, 1)}\n`);
}

export function loadClassifierWeights(dir: string = DEFAULT_CLASSIFIER_DIR): ClassifierWeights {
  const mj = join(dir, 'model.json');
  if (!existsSync(mj)) throw new RiskpipeError('RP_ERR_CONFIG', `no classifier in ${dir} (model.json missing): train one with \`riskpipe train\` or \`npm run train:screening\``);
  const json = JSON.parse(readFileSync(mj, 'utf8')) as ModelJson;
  if (json.format !== 'riskpipe-screening-classifier/1') throw new RiskpipeError('RP_ERR_CONFIG', `${mj}: unknown format ${String(json.format)}`);
  if (json.outputs.join() !== OUTPUTS.join()) throw new RiskpipeError('RP_ERR_CONFIG', `${mj}: outputs ${json.outputs.join()} differ from ${OUTPUTS.join()}`);
  if (json.denseFeatures.length !== denseSize(json.spec) || json.denseFeatures.slice(2 * json.spec.gloveDim).join() !== RULE_FEATURE_NAMES.join()) {
    throw new RiskpipeError('RP_ERR_CONFIG', `${mj}: trained on other rule features; retrain it (riskpipe train)`);
  }
  const buf = readFileSync(join(dir, 'sparse.bin'));
  if (createHash('sha256').update(buf).digest('hex') !== json.sparseSha256) throw new RiskpipeError('RP_ERR_CONFIG', `${dir}/sparse.bin does not match model.json (checksum)`);
  const B = json.spec.buckets;
  if (buf.length !== B * K) throw new RiskpipeError('RP_ERR_CONFIG', `${dir}/sparse.bin has ${buf.length} bytes, expected ${B * K}`);
  const sparse: QuantizedSparse = { q: new Int8Array(buf.buffer, buf.byteOffset, buf.length), scales: Float64Array.from(json.sparseScales) };
  const D = denseSize(json.spec);
  const dense = new Float32Array(K * D);
  json.dense.forEach((row, k) => dense.set(row, k * D));
  let hidden: HiddenLayer | undefined;
  if (json.hidden) {
    const H = json.hidden.size;
    const w1 = new Float32Array(H * D);
    json.hidden.w1.forEach((row, u) => w1.set(row, u * D));
    const v = new Float32Array(K * H);
    json.hidden.v.forEach((row, k) => v.set(row, k * H));
    hidden = { size: H, w1, b1: Float32Array.from(json.hidden.b1), v };
  }
  return { spec: json.spec, bias: Float32Array.from(json.bias), dense, sparse, calibration: json.calibration, meta: json.meta, hidden };
}
