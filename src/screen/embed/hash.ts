import type { Embedder } from '../types.js';

export const HASH_EMBEDDER_ID = 'riskpipe/hash-ngram-384-v1';

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
  let s = text.normalize('NFKD').replace(COMBINING, '').normalize('NFKC').toLowerCase().replace(ZERO_WIDTH, '');
  s = s.split(/(\s+)/).map(foldToken).join('').replace(/(\p{L})\1{2,}/gu, '$1$1');
  // Join runs of 3+ single letters separated by spaces or punctuation: "k y s" -> "kys".
  s = s.replace(/(?:^|(?<=\s))(\p{L})(?:[\s.\-_*,]+(\p{L})(?![\p{L}])){2,}/gu, (m) => m.replace(/[\s.\-_*,]+/g, ''));
  return s.replace(/[^\p{L}\p{N}]+/gu, ' ').trim();
}

const LETTER = /\p{L}/u;
const ALNUM = /[\p{L}\p{N}]/u;

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

/** 32-bit FNV-1a over a string's UTF-16 code units: fast and good enough for feature hashing. */
function fnv1a(s: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
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

/**
 * Deterministic embedding of one text: signed feature hashing of word unigrams, word bigrams and
 * character 3–5-grams of the normalised text, sublinear term weights, L2-normalised.
 */
export function hashEmbed(text: string, opts: HashEmbedOptions = {}): Float32Array {
  const dim = opts.dim ?? 384;
  const ww = opts.wordWeight ?? 1.0;
  const bw = opts.bigramWeight ?? 0.7;
  const cw = opts.charWeight ?? 0.35;
  const v = new Float32Array(dim);
  const words = normalizeForHash(text).split(' ').filter((w) => w.length > 0);
  const add = (feature: string, weight: number) => {
    const h = fnv1a(feature);
    // The sign comes from an independent hash so collisions cancel out on average.
    const sign = fnv1a(feature, 0x9747b28c) & 1 ? 1 : -1;
    v[h % dim] += sign * weight;
  };
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    add(`w:${w}`, ww);
    if (i + 1 < words.length) add(`b:${w} ${words[i + 1]}`, bw);
    const padded = `<${w}>`;
    for (let n = 3; n <= 5; n++) {
      for (let j = 0; j + n <= padded.length; j++) add(`c:${padded.slice(j, j + n)}`, cw);
    }
  }
  // Sublinear: repeated features count less than linearly (sign-preserving square root).
  let norm = 0;
  for (let i = 0; i < dim; i++) {
    const x = v[i];
    const y = x >= 0 ? Math.sqrt(x) : -Math.sqrt(-x);
    v[i] = y;
    norm += y * y;
  }
  if (norm > 0) {
    const inv = 1 / Math.sqrt(norm);
    for (let i = 0; i < dim; i++) v[i] *= inv;
  }
  return v;
}

/**
 * The built-in embedder: no weights, fast, good at near-duplicates and obfuscated variants of
 * known texts. It knows nothing of meaning: "I will hurt you" and "you will be harmed by me" share
 * few n-grams and so are not close.
 */
export class HashEmbedder implements Embedder {
  readonly id = HASH_EMBEDDER_ID;
  readonly device = 'cpu';
  readonly dim: number;
  constructor(private readonly opts: HashEmbedOptions = {}) {
    this.dim = opts.dim ?? 384;
  }
  async embed(texts: string[]): Promise<Float32Array[]> {
    return texts.map((t) => hashEmbed(t, this.opts));
  }
  async close(): Promise<void> {}
}
