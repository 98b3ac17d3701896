/*
 * What the screening classifier sees of a message (one fixed recipe, shared by training and
 * screening so that the two can never drift apart):
 *
 *   dense   [0, 100)   the SIF sentence vector of the normalised tokens (src/embed/glove.ts)
 *           [100, 200) the max over content words (SIF weight ≥ 0.5) of each vector dimension: one
 *                      strongly insulting or violent word anywhere shows even in a long message
 *           [200, …)   the rule signals: each family's value after and before benign context,
 *                      targeting, typography, the benign-context markers, obfuscation, caps, length,
 *                      negation, and the soft lexicons (./lexicons.ts: insult, violence, exclusion …)
 *   sparse             hashed (FNV-1a, `buckets` wide) word unigrams, word bigrams and character
 *                      3–5-grams of each word (with boundary marks), each group L2-normalised
 *
 * Sparse features remember the token they came from, so `explain` can say which words pushed the
 * classifier most.
 */
import { sifWeight, tokenRarity, tokenSifRows } from '../../embed/glove.js';
import type { GloveVectors } from '../../embed/glove-vectors.js';
import { capsStats, type NormalizedText } from '../text.js';
import type { ContextMarkers } from '../signals/types.js';
import { SOFT_SLOT_NAMES, softLexicons } from './lexicons.js';

/** The rule-side numbers fusion already has for a message. */
export interface RuleView {
  values: Record<RuleFamily, number>;
  raws: Record<RuleFamily, number>;
  offensiveCategory?: string;
  targeting: number;
  heuristics: number;
  ctx: ContextMarkers;
}

export const RULE_FAMILIES = ['threat', 'self_harm', 'hate', 'sexual', 'harassment', 'offensive', 'spam'] as const;
export type RuleFamily = (typeof RULE_FAMILIES)[number];

const CONTEXT_FEATURES = ['gaming', 'joking', 'quote', 'report', 'news', 'hyperbole', 'support'] as const;

export const RULE_FEATURE_NAMES: readonly string[] = [
  ...RULE_FAMILIES.map((f) => `rule:${f}`),
  ...RULE_FAMILIES.map((f) => `raw:${f}`),
  'offensive_is_hate',
  'offensive_is_sexual',
  'targeting',
  'heuristics',
  ...CONTEXT_FEATURES.map((c) => `context:${c}`),
  'obfuscated',
  'caps',
  'length',
  'no_known_words',
  'negation',
  ...SOFT_SLOT_NAMES.map((n) => `lex:${n}`),
];

/** Words that flip what follows: the next three words get their own unigram features ("n:hurt" ≠ "w:hurt"). */
const NEGATORS = new Set(['not', 'never', 'no', 'nobody', 'noone', 'nothing', 'dont', 'didnt', 'doesnt', 'wont', 'wouldnt', 'cant', 'cannot', 'couldnt', 'shouldnt', 'isnt', 'arent', 'wasnt', 'werent', 'aint', 'neither', 'nor', 'without', 'stop']);

/** Short messages are normalised as if they had this many words (see `group`). */
const MIN_WORDS = 8;

export interface FeatureSpec {
  gloveDim: number;
  buckets: number;
}

export interface Features {
  dense: Float32Array;
  /** Active sparse buckets and their values (parallel arrays). */
  idx: Int32Array;
  val: Float32Array;
  /** For each active sparse entry, the token index it came from (-1 for none). */
  tok: Int32Array;
  /** The glove rows and SIF weights per token (explain attributes the sentence vector by these). */
  tokens: readonly string[];
}

const FNV_OFFSET = 0x811c9dc5;
/** FNV-1a continued over s[a, b): fnv(x + y) = fnvMore(fnv(x), y), so keys need not be built as strings. */
function fnvMore(h: number, s: string, a = 0, b = s.length): number {
  for (let i = a; i < b; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h;
}
const H_WORD = fnvMore(FNV_OFFSET, 'w:');
const H_NEG = fnvMore(FNV_OFFSET, 'n:');
const H_BIGRAM = fnvMore(FNV_OFFSET, 'b:');
const H_CHAR = fnvMore(FNV_OFFSET, 'c:');
const LT = '<'.charCodeAt(0);
const GT = '>'.charCodeAt(0);
const SPACE = ' '.charCodeAt(0);

/** A typed array twice as long holding `a` at its start: the growth step of the reused buffers below. */
function doubled<T extends Int32Array | Float64Array>(a: T): T {
  const b = new (a.constructor as new (n: number) => T)(a.length * 2);
  b.set(a);
  return b;
}

/** A growable list of (hash, token, weight), reused across messages (screening is single-threaded per process). */
class KeyBuffer {
  hash = new Int32Array(256);
  tok = new Int32Array(256);
  weight = new Float64Array(256);
  n = 0;
  reset(): this {
    this.n = 0;
    return this;
  }
  push(h: number, tok: number, weight: number): void {
    if (this.n === this.hash.length) {
      this.hash = doubled(this.hash);
      this.tok = doubled(this.tok);
      this.weight = doubled(this.weight);
    }
    this.hash[this.n] = h;
    this.tok[this.n] = tok;
    this.weight[this.n] = weight;
    this.n++;
  }
}
/**
 * The sparse features being summed for one message, by bucket, reused across messages: a Map of
 * objects cost one allocation per active bucket (~150 per message). Entries keep first-touch
 * order, as the Map's iteration did, so the model sums them in the same order. Buckets are found
 * through a small open-addressing table (a few KB, stays in cache) rather than an array indexed
 * by bucket (4 MB for 2^20 buckets: one cache miss per n-gram in the worker).
 */
class SparseAccumulator {
  /** Slot → 1 + its entry, 0 when free; a power of two at least twice `n`. */
  private slots = new Int32Array(1024);
  private mask = 1023;
  bucket = new Int32Array(256);
  value = new Float64Array(256);
  tok = new Int32Array(256);
  n = 0;
  reset(): this {
    this.slots.fill(0);
    this.n = 0;
    return this;
  }
  private slotOf(b: number): number {
    let s = Math.imul(b, 0x9e3779b1) >>> 0;
    for (;;) {
      s &= this.mask;
      const e = this.slots[s];
      if (e === 0 || this.bucket[e - 1] === b) return s;
      s++;
    }
  }
  add(b: number, w: number, tok: number): void {
    const s = this.slotOf(b);
    const e = this.slots[s];
    if (e !== 0) {
      this.value[e - 1] += w;
      return;
    }
    if (this.n === this.bucket.length) {
      this.bucket = doubled(this.bucket);
      this.value = doubled(this.value);
      this.tok = doubled(this.tok);
    }
    this.bucket[this.n] = b;
    this.value[this.n] = w;
    this.tok[this.n] = tok;
    this.slots[s] = ++this.n;
    if (2 * this.n > this.slots.length) this.rehash();
  }
  private rehash(): void {
    this.slots = new Int32Array(this.slots.length * 2);
    this.mask = this.slots.length - 1;
    for (let e = 0; e < this.n; e++) this.slots[this.slotOf(this.bucket[e])] = e + 1;
  }
}
const ACC = new SparseAccumulator();
const WORDS = new KeyBuffer();
const BIGRAMS = new KeyBuffer();
const CHARS = new KeyBuffer();

/** The hashes one token gives on its own, whatever message it is in. */
interface TokenKeys {
  /** tokenRarity: the unigram's weight. */
  rarity: number;
  /** "w:" + token and "n:" + token (after a negator). */
  word: number;
  negated: number;
  /** FNV state after "b:" + token + " ": the bigram with the next token continues from it. */
  bigramPrefix: number;
  /** "c:" + each 3–5-gram of "<token>", by length then position; none for short, common or numeric tokens. */
  chars: Int32Array;
  /** The word-vector rows it adds to the sentence vector (sifRows), and their SIF weights. */
  rows: readonly number[];
  weights: readonly number[];
}

const NO_CHARS = new Int32Array(0);
/**
 * Distinct tokens remembered per vocabulary (chat repeats its words); forgotten all at once past
 * this. Numbers are not kept: most are one-offs and would only push words out.
 */
const TOKEN_CACHE_SIZE = 10_000;
const NO_ROWS: readonly number[] = [];
const tokenCaches = new WeakMap<GloveVectors, Map<string, TokenKeys>>();

function tokenKeys(glove: GloveVectors, w: string): TokenKeys {
  let cache = tokenCaches.get(glove);
  if (!cache) tokenCaches.set(glove, (cache = new Map()));
  let k = cache.get(w);
  if (k) return k;
  const rarity = tokenRarity(glove, w);
  let chars = NO_CHARS;
  const numeric = /^\d+$/.test(w);
  if (w.length >= 3 && rarity >= 0.5 && !numeric) {
    // The 3–5-grams of "<word>", hashed as "c:" + gram without building the strings.
    const n = w.length + 2;
    chars = new Int32Array(3 * n - 9);
    let at = 0;
    for (let len = 3; len <= 5; len++) {
      for (let st = 0; st + len <= n; st++) {
        let h = H_CHAR;
        for (let q = st; q < st + len; q++) {
          h ^= q === 0 ? LT : q === n - 1 ? GT : w.charCodeAt(q - 1);
          h = Math.imul(h, 0x01000193);
        }
        chars[at++] = h;
      }
    }
  }
  const found = tokenSifRows(glove, w);
  const rows = found.length > 0 ? found : NO_ROWS;
  k = { rows, weights: rows.length > 0 ? rows.map(sifWeight) : NO_ROWS, rarity, word: fnvMore(H_WORD, w), negated: fnvMore(H_NEG, w), bigramPrefix: Math.imul(fnvMore(H_BIGRAM, w) ^ SPACE, 0x01000193), chars };
  if (numeric) return k;
  if (cache.size >= TOKEN_CACHE_SIZE) cache.clear();
  cache.set(w, k);
  return k;
}

export function denseSize(spec: FeatureSpec): number {
  return 2 * spec.gloveDim + RULE_FEATURE_NAMES.length;
}

/** Where a message's dense features are built (reused: screening is single-threaded per process). */
let DENSE = new Float32Array(0);

export function extractFeatures(t: NormalizedText, rules: RuleView, glove: GloveVectors, spec: FeatureSpec): Features {
  const D = denseSize(spec);
  if (DENSE.length !== D) DENSE = new Float32Array(D);
  const dense = DENSE.fill(0);
  const tokens = t.tokens;
  // Sentence vector, from each token's cached word-vector rows (joined, they are sifRows(glove, tokens)).
  const keys: TokenKeys[] = new Array(tokens.length);
  const rows: number[] = [];
  const weights: number[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const k = (keys[i] = tokenKeys(glove, tokens[i]));
    for (let q = 0; q < k.rows.length; q++) {
      rows.push(k.rows[q]);
      weights.push(k.weights[q]);
    }
  }
  // With it, in the same pass over each word's vector, the max over content words (dense[gd, 2gd)):
  // what glove.addRow would add to a zero vector, Math.fround(r · scale), compared as float32.
  const gd = spec.gloveDim;
  const gr = glove.rows;
  let pooled = 0;
  for (let i = 0; i < rows.length; i++) {
    const base = rows[i] * gd;
    const scale = glove.scales[rows[i]];
    const s = scale * weights[i];
    const pool = weights[i] >= 0.5;
    for (let j = 0; j < gd; j++) {
      const r = gr[base + j];
      dense[j] += r * s;
      if (pool) {
        const x = Math.fround(r * scale);
        if (pooled === 0 || x > dense[gd + j]) dense[gd + j] = x;
      }
    }
    if (pool) pooled++;
  }
  let n = 0;
  for (let j = 0; j < gd; j++) n += dense[j] * dense[j];
  if (n > 0) {
    const inv = 1 / Math.sqrt(n);
    for (let j = 0; j < gd; j++) dense[j] *= inv;
  }
  // Rule view.
  let o = 2 * spec.gloveDim;
  for (const f of RULE_FAMILIES) dense[o++] = rules.values[f];
  for (const f of RULE_FAMILIES) dense[o++] = rules.raws[f];
  dense[o++] = rules.offensiveCategory === 'hate_speech' ? rules.values.offensive : 0;
  dense[o++] = rules.offensiveCategory === 'sexual_content' ? rules.values.offensive : 0;
  dense[o++] = rules.targeting;
  dense[o++] = rules.heuristics;
  for (const c of CONTEXT_FEATURES) dense[o++] = rules.ctx[c];
  dense[o++] = t.obfuscations.some((x) => x !== 'stretched') ? 1 : 0;
  const caps = capsStats(t.original);
  dense[o++] = caps.letters >= 8 ? caps.ratio : 0;
  dense[o++] = Math.min(1, Math.log1p(tokens.length) / 4);
  dense[o++] = rows.length === 0 ? 1 : 0;
  let negated = 0;

  // Sparse: words, bigrams, character n-grams; each group L2-normalised.
  const B = spec.buckets;
  const acc = ACC.reset();
  // Each group is L2-normalised as if it had at least `minCount` entries: a one-word message
  // ("hello") must not put the whole weight of the message on one word.
  // Keys are collected per group into reused typed buffers (no objects per n-gram), then added
  // group by group in the same order as ever, so the buckets and sums do not change.
  // A power-of-two bucket count (the default, 2^20) takes the low bits: (h >>> 0) % B without a
  // floating-point modulo per key (h >>> 0 does not fit an int32, so % is fmod).
  const mask = (B & (B - 1)) === 0 ? B - 1 : -1;
  const group = (g: KeyBuffer, minCount: number) => {
    if (g.n === 0) return;
    const w0 = 1 / Math.sqrt(Math.max(minCount, g.n));
    for (let q = 0; q < g.n; q++) {
      const w = w0 * g.weight[q];
      acc.add(mask >= 0 ? g.hash[q] & mask : (g.hash[q] >>> 0) % B, w, g.tok[q]);
    }
  };
  // A word's unigram counts by its rarity (the SIF weight: "you", "are", "the" ~0.1–0.3, content
  // words ~1), so that function words cannot stand in for abuse the way they do in a corpus of
  // second-person insults; bigrams keep "you are" as a phrase. Unknown words count fully.
  const words = WORDS.reset();
  const bigrams = BIGRAMS.reset();
  const chars = CHARS.reset();
  let negLeft = 0;
  for (let i = 0; i < tokens.length; i++) {
    const w = tokens[i];
    const k = keys[i];
    const rw = k.rarity;
    if (NEGATORS.has(w)) {
      negLeft = 3;
      negated = 1;
      words.push(k.word, i, rw);
    } else if (negLeft > 0) {
      negLeft--;
      words.push(k.negated, i, rw);
    } else words.push(k.word, i, rw);
    if (i + 1 < tokens.length) bigrams.push(fnvMore(k.bigramPrefix, tokens[i + 1]), i, 1);
    for (let q = 0; q < k.chars.length; q++) chars.push(k.chars[q], i, 1);
  }
  dense[o++] = negated;
  // Soft lexicons over the content words (./lexicons.ts).
  softLexicons(glove).fill(rows, dense.subarray(o, o + SOFT_SLOT_NAMES.length));
  o += SOFT_SLOT_NAMES.length;
  group(words, MIN_WORDS);
  group(bigrams, MIN_WORDS);
  group(chars, MIN_WORDS * 8);
  // The four outputs share one fresh buffer (all 4-byte elements): one backing store to allocate
  // instead of four, which cost more than the copies. Plain loops: typed-array slice/from cost
  // more than the copy for ~150 entries.
  const m = acc.n;
  const buf = new ArrayBuffer(4 * (D + 3 * m));
  const out = new Float32Array(buf, 0, D);
  out.set(dense);
  const idx = new Int32Array(buf, 4 * D, m);
  const val = new Float32Array(buf, 4 * (D + m), m);
  const tok = new Int32Array(buf, 4 * (D + 2 * m), m);
  for (let q = 0; q < m; q++) {
    idx[q] = acc.bucket[q];
    val[q] = acc.value[q];
    tok[q] = acc.tok[q];
  }
  return { dense: out, idx, val, tok, tokens };
}
