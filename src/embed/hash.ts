import type { Embedder } from './types.js';

/** The id of the default (384-dim) hash embedder; other sizes give other vectors, so other ids. */
export const HASH_EMBEDDER_ID = 'riskpipe/hash-ngram-384-v1';
export const hashEmbedderId = (dim: number) => `riskpipe/hash-ngram-${dim}-v1`;

/** Common leetspeak and look-alike characters, folded before hashing so "fr33 n1tr0" meets "free nitro". */
const FOLD: Record<string, string> = {
  '0': 'o', '1': 'i', '3': 'e', '4': 'a', '5': 's', '7': 't', '8': 'b', '9': 'g',
  '@': 'a', '$': 's', '!': 'i', '|': 'l', '€': 'e', '£': 'l',
  // Cyrillic and Greek look-alikes
  'а': 'a', 'е': 'e', 'о': 'o', 'р': 'p', 'с': 'c', 'у': 'y', 'х': 'x', 'і': 'i', 'к': 'k', 'м': 'm', 'т': 't', 'в': 'b', 'н': 'h',
  'α': 'a', 'ο': 'o', 'ε': 'e', 'ι': 'i', 'κ': 'k', 'ν': 'v', 'ρ': 'p', 'τ': 't', 'υ': 'u',
};
const ZERO_WIDTH = /[\u200b-\u200f\u2060\ufeff\u00ad]/g;
const COMBINING = /[\u0300-\u036f]/g;

/**
 * Text as the hash embedder sees it: NFKC, lower case, accents and zero-width characters removed,
 * leetspeak folded, runs of 3+ equal letters cut to 2, letter-by-letter spacing ("k y s",
 * "k.i.l.l") joined, and everything that is not a letter or digit turned into single spaces.
 */
export function normalizeForHash(text: string): string {
  if (!NON_ASCII.test(text)) return normalizeAsciiForHash(text);
  let s = text.normalize('NFKD').replace(COMBINING, '').normalize('NFKC').toLowerCase().replace(ZERO_WIDTH, '');
  s = s.split(/(\s+)/).map(foldToken).join('').replace(/(\p{L})\1{2,}/gu, '$1$1');
  // Join runs of 3+ single letters separated by spaces or punctuation: "k y s" -> "kys".
  s = s.replace(/(?:^|(?<=\s))(\p{L})(?:[\s.\-_*,]+(\p{L})(?![\p{L}])){2,}/gu, (m) => m.replace(/[\s.\-_*,]+/g, ''));
  return s.replace(/[^\p{L}\p{N}]+/gu, ' ').trim();
}

const LETTER = /\p{L}/u;
const ALNUM = /[\p{L}\p{N}]/u;
const NON_ASCII = /[^\x00-\x7f]/;
const ASCII_LETTER = /[a-z]/;
const ASCII_ALNUM = /[a-z0-9]/;
const ASCII_STRETCHED = /([a-z])\1{2,}/g;
const ASCII_SPACED = /(?:^|(?<=\s))([a-z])(?:[\s.\-_*,]+([a-z])(?![a-z])){2,}/g;
const SPACED_SEPARATORS = /[\s.\-_*,]+/g;
const ASCII_NON_ALNUM = /[^a-z0-9]+/g;

/**
 * normalizeForHash for text that is all ASCII, with the same result: NFKD/NFKC, accents and
 * zero-width characters are no-ops there, and in lower-case ASCII \p{L} is [a-z] and \p{N} [0-9],
 * so the Unicode-aware passes become plain ones (most chat is ASCII; this is 2–3× faster).
 */
function normalizeAsciiForHash(text: string): string {
  let s = text.toLowerCase();
  s = s.split(/(\s+)/).map(foldAsciiToken).join('').replace(ASCII_STRETCHED, '$1$1');
  s = s.replace(ASCII_SPACED, (m) => m.replace(SPACED_SEPARATORS, ''));
  return s.replace(ASCII_NON_ALNUM, ' ').trim();
}

/** FOLD for the ASCII characters, by char code (undefined: not folded). */
const FOLD_ASCII: (string | undefined)[] = Array.from({ length: 128 }, (_, c) => FOLD[String.fromCharCode(c)]);

/** foldToken for a lower-case ASCII token (one UTF-16 code unit per character). */
function foldAsciiToken(tok: string): string {
  if (!ASCII_LETTER.test(tok)) return tok;
  // Most words have nothing to fold: then the answer is the token itself, not a copy built char by char.
  let i0 = 0;
  while (i0 < tok.length && FOLD_ASCII[tok.charCodeAt(i0)] === undefined) i0++;
  if (i0 === tok.length) return tok;
  let out = tok.slice(0, i0);
  for (let i = i0; i < tok.length; i++) {
    const ch = tok[i];
    const f = FOLD_ASCII[tok.charCodeAt(i)];
    if (f === undefined || ((ch === '!' || ch === '|') && !(i + 1 < tok.length && ASCII_ALNUM.test(tok[i + 1])))) out += ch;
    else out += f;
  }
  return out;
}

/**
 * Folds look-alikes inside a word that has letters ("n1tr0" -> "nitro") but leaves numbers
 * ("2024", "$100") alone; "!" and "|" count as letters only before another letter or digit, so
 * "wow!!!" keeps its exclamation marks.
 */
function foldToken(tok: string): string {
  if (!LETTER.test(tok)) return tok;
  const chars = [...tok];
  let out = '';
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i];
    const f = FOLD[ch];
    if (f === undefined || ((ch === '!' || ch === '|') && !(i + 1 < chars.length && ALNUM.test(chars[i + 1])))) out += ch;
    else out += f;
  }
  return out;
}

export interface HashEmbedOptions {
  /** Vector size. Default 384 (the same as e5-small-v2, so indexes are interchangeable in shape). */
  dim?: number;
  /** Weight of a word unigram. Default 1.0. */
  wordWeight?: number;
  /** Weight of a word bigram. Default 0.7. */
  bigramWeight?: number;
  /** Weight of a character n-gram (3 to 5 characters, inside padded words). Default 0.35. */
  charWeight?: number;
}

// Feature hashing. A feature is a string "<kind>:<text>" ("w:free", "b:free nitro", "c:<fr");
// 32-bit FNV-1a of it picks the slot, FNV-1a from a second seed gives the sign (its low bit), so
// that collisions cancel out on average. Features are never built as strings: each hash runs over
// slices of the word in place (FNV-1a of a concatenation is FNV-1a continued over each part),
// which is most of the embedder's speed.
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const SIGN_SEED = 0x9747b28c;

/** FNV-1a over `s[start, end)` (UTF-16 code units), continuing from state `h`. */
function fnv(h: number, s: string, start = 0, end = s.length): number {
  for (let i = start; i < end; i++) h = Math.imul(h ^ s.charCodeAt(i), FNV_PRIME);
  return h;
}
const fnvChar = (h: number, code: number) => Math.imul(h ^ code, FNV_PRIME);
const SPACE = 0x20;
const WORD_END = 0x3e; // '>'

/** The (slot hash, sign hash) states after each feature-kind prefix. */
const prefix = (p: string): [number, number] => [fnv(FNV_OFFSET, p), fnv(SIGN_SEED, p)];
const WORD = prefix('w:');
const BIGRAM = prefix('b:');
const CHAR = prefix('c:');
const CHAR_AT_START = prefix('c:<');

/**
 * What one word contributes on its own, for a vector size: each feature as slot · 2 + sign bit
 * (1 = add, 0 = subtract), and the hash states a bigram starting with it continues from.
 * Computed once per distinct word: chat repeats its words, and the character n-grams are most of
 * the hashing.
 */
interface WordFeatures {
  word: number;
  /** The states after "b:" + word + " " (slot hash, sign hash). */
  bigramH: number;
  bigramHs: number;
  /** Character 3- to 5-grams of "<w>" (the brackets mark the word's edges), by length then position. */
  chars: Int32Array;
}

/**
 * Distinct words remembered per vector size; forgotten all at once past this. Numbers are not
 * kept: most are one-offs (ids, amounts, times) and would only push words out.
 */
const WORD_CACHE_SIZE = 10_000;
const DIGITS = /^\d+$/;
const wordCaches = new Map<number, Map<string, WordFeatures>>();

const packed = (h: number, hs: number, dim: number) => ((h >>> 0) % dim) * 2 + (hs & 1);

function wordFeatures(w: string, dim: number): WordFeatures {
  let cache = wordCaches.get(dim);
  if (!cache) wordCaches.set(dim, (cache = new Map()));
  let f = cache.get(w);
  if (f) return f;
  const padded = w.length + 2;
  let count = 0;
  for (let n = 3; n <= 5; n++) count += Math.max(0, padded - n + 1);
  const chars = new Int32Array(count);
  let at = 0;
  for (let n = 3; n <= 5; n++) {
    for (let j = 0; j + n <= padded; j++) {
      // padded[j, j+n) mapped back onto w: "<" is in the prefix state, ">" appended after.
      const from = j === 0 ? CHAR_AT_START : CHAR;
      const atEnd = j + n === padded;
      const start = j === 0 ? 0 : j - 1;
      const end = atEnd ? w.length : j + n - 1;
      let h = fnv(from[0], w, start, end);
      let hs = fnv(from[1], w, start, end);
      if (atEnd) {
        h = fnvChar(h, WORD_END);
        hs = fnvChar(hs, WORD_END);
      }
      chars[at++] = packed(h, hs, dim);
    }
  }
  f = {
    word: packed(fnv(WORD[0], w), fnv(WORD[1], w), dim),
    bigramH: fnvChar(fnv(BIGRAM[0], w), SPACE),
    bigramHs: fnvChar(fnv(BIGRAM[1], w), SPACE),
    chars,
  };
  if (DIGITS.test(w)) return f;
  if (cache.size >= WORD_CACHE_SIZE) cache.clear();
  cache.set(w, f);
  return f;
}

/** Adds a packed feature (slot · 2 + sign bit) with its weight. */
function addFeature(v: Float32Array, feature: number, weight: number): void {
  v[feature >> 1] += feature & 1 ? weight : -weight;
}

/**
 * Deterministic embedding of one text: signed feature hashing of word unigrams, word bigrams and
 * character 3–5-grams of the normalised text, sublinear term weights, L2-normalised. A text with
 * no letters or digits maps to the zero vector.
 */
export function hashEmbed(text: string, opts: HashEmbedOptions = {}): Float32Array {
  const dim = opts.dim ?? 384;
  const v = new Float32Array(dim);
  const ww = opts.wordWeight ?? 1.0;
  const bw = opts.bigramWeight ?? 0.7;
  const cw = opts.charWeight ?? 0.35;
  const words = normalizeForHash(text).split(' ').filter((w) => w.length > 0);
  // Per word, in this order: its unigram, the bigram it starts, its character n-grams (the
  // float32 sums depend on the order).
  for (let i = 0; i < words.length; i++) {
    const f = wordFeatures(words[i], dim);
    addFeature(v, f.word, ww);
    if (i + 1 < words.length) {
      const next = words[i + 1];
      addFeature(v, packed(fnv(f.bigramH, next), fnv(f.bigramHs, next), dim), bw);
    }
    for (let q = 0; q < f.chars.length; q++) addFeature(v, f.chars[q], cw);
  }
  return sublinearNormalize(v);
}

/** Sign-preserving square root (a repeated feature counts less than linearly), then unit length. */
function sublinearNormalize(v: Float32Array): Float32Array {
  let norm = 0;
  for (let i = 0; i < v.length; i++) {
    const x = v[i];
    const y = x >= 0 ? Math.sqrt(x) : -Math.sqrt(-x);
    v[i] = y;
    norm += y * y;
  }
  if (norm > 0) {
    const inv = 1 / Math.sqrt(norm);
    for (let i = 0; i < v.length; i++) v[i] *= inv;
  }
  return v;
}

/**
 * The built-in embedder: no weights, fast, good at near-duplicates and obfuscated variants of
 * known texts. It knows nothing of meaning: "I will hurt you" and "you will be harmed by me" share
 * few n-grams and so are not close.
 */
export class HashEmbedder implements Embedder {
  readonly id: string;
  readonly device = 'cpu';
  readonly dim: number;
  constructor(private readonly opts: HashEmbedOptions = {}) {
    this.dim = opts.dim ?? 384;
    this.id = hashEmbedderId(this.dim);
  }
  async embed(texts: string[]): Promise<Float32Array[]> {
    return texts.map((t) => hashEmbed(t, this.opts));
  }
  async close(): Promise<void> {}
}
