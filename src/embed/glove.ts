/*
 * The `glove` sentence embedder: a SIF-weighted mean of pretrained word vectors (Arora et al.,
 * "A simple but tough-to-beat baseline for sentence embeddings", 2017) over the tokens screening
 * already normalises (leetspeak, homoglyphs, masked swears, spacing, stretching undone:
 * src/screen/text.ts), so "I will hurt you" and "you are going to get harmed" land near each other
 * and "y0u 1d10t" reads as "you idiot". (The tokenizer is passed in — embed/ never imports a stage;
 * the screener hands it `normalizeText(...).tokens`. The fallback only lower-cases and splits.)
 *
 *   w(word)   = a / (a + p(word))     p from the word's frequency rank (Zipf: p ≈ 1 / ((rank + 10) · 13)),
 *                                     so "the", "a", "to" count ~0.1 and content words ~1
 *   v(text)   = Σ w · vec(word) / Σ w over the words that have a vector, then L2-normalised
 *
 * Chat spellings GloVe (news text) lacks are mapped first ("u" → "you", "ur" → "your").
 * A text with no known word gets the zero vector (cosine 0 to everything).
 */
import { loadGlove, type GloveLoadOptions, type GloveVectors } from './glove-vectors.js';
import type { Embedder } from './types.js';

export const GLOVE_EMBEDDER_ID = 'riskpipe/glove-sif-100d-v1';
const SIF_A = 1e-3;

/** Chat spellings → the words GloVe knows. No prototype: a token such as "constructor" must find nothing. */
const CHAT_ALIASES: Record<string, string[] | undefined> = Object.assign(Object.create(null) as Record<string, string[] | undefined>, {
  u: ['you'], ya: ['you'], yu: ['you'], yall: ['you', 'all'], ur: ['your'], r: ['are'], ure: ['you', 'are'], youre: ['you', 'are'],
  im: ['i', 'am'], ill: ['i', 'will'], ima: ['i', 'will'], imma: ['i', 'will'], gonna: ['going', 'to'], wanna: ['want', 'to'], gotta: ['got', 'to'],
  dont: ['do', 'not'], doesnt: ['does', 'not'], didnt: ['did', 'not'], cant: ['can', 'not'], wont: ['will', 'not'], isnt: ['is', 'not'], arent: ['are', 'not'],
  pls: ['please'], plz: ['please'], thx: ['thanks'], ty: ['thanks'], kys: ['kill', 'yourself'], kms: ['kill', 'myself'], stfu: ['shut', 'up'], gtfo: ['get', 'out'],
  urself: ['yourself'], bc: ['because'], cuz: ['because'], coz: ['because'], tho: ['though'], rn: ['right', 'now'], ppl: ['people'], smth: ['something'],
  atmention: [], link: ['link'],
});

const sif = (row: number) => SIF_A / (SIF_A + 1 / ((row + 10) * 13));

/**
 * A token's weight as a single word, without allocating: the SIF weight when it (or the one known
 * word a chat spelling maps to) has a vector, else 1 (unknown words and multi-word spellings such
 * as "gonna" count fully).
 */
export function tokenRarity(g: GloveVectors, tok: string): number {
  const alias = CHAT_ALIASES[tok];
  if (!alias) {
    const r = g.row(tok);
    return r >= 0 ? sif(r) : 1;
  }
  let found = -1;
  let known = 0;
  for (const w of alias) {
    const r = g.row(w);
    if (r >= 0) {
      known++;
      found = r;
    }
  }
  return known === 1 ? sif(found) : 1;
}

/** Calls fn(row, weight) for each vector one token contributes (chat spellings may give two), without allocating. */
export function forEachSifRow(g: GloveVectors, tok: string, fn: (row: number, weight: number) => void): void {
  const alias = CHAT_ALIASES[tok];
  if (!alias) {
    const r = g.row(tok);
    if (r >= 0) fn(r, sif(r));
    return;
  }
  for (const w of alias) {
    const r = g.row(w);
    if (r >= 0) fn(r, sif(r));
  }
}

/** The words of a normalised token list that have vectors, as rows, with their SIF weights. */
export function sifRows(g: GloveVectors, tokens: readonly string[]): { rows: number[]; weights: number[] } {
  const rows: number[] = [];
  const weights: number[] = [];
  for (const tok of tokens) {
    for (const r of tokenSifRows(g, tok)) {
      rows.push(r);
      weights.push(sif(r));
    }
  }
  return { rows, weights };
}

/** The rows one token contributes to sifRows: none, its own, or those of the words a chat spelling maps to. */
export function tokenSifRows(g: GloveVectors, tok: string): number[] {
  const alias = CHAT_ALIASES[tok];
  const out: number[] = [];
  for (const w of alias ?? [tok]) {
    const r = g.row(w);
    if (r >= 0) out.push(r);
  }
  return out;
}

/** The SIF weight of a vocabulary row. */
export const sifWeight = sif;

/** The SIF sentence vector of normalised tokens, L2-normalised (zero when no word is known). */
export function sifVector(g: GloveVectors, tokens: readonly string[], out = new Float32Array(g.dim)): Float32Array {
  out.fill(0);
  const { rows, weights } = sifRows(g, tokens);
  for (let i = 0; i < rows.length; i++) g.addRow(out, rows[i], weights[i]);
  let n = 0;
  for (let j = 0; j < out.length; j++) n += out[j] * out[j];
  if (n > 0) {
    const inv = 1 / Math.sqrt(n);
    for (let j = 0; j < out.length; j++) out[j] *= inv;
  }
  return out;
}

export type Tokenize = (text: string) => readonly string[];

/** Lower case, apostrophes dropped, split on anything that is not a letter or digit. */
export const simpleTokenize: Tokenize = (text) => {
  const s = text.toLowerCase().replace(/['’]/g, '').replace(/[^a-z0-9]+/g, ' ').trim();
  return s ? s.split(' ') : [];
};

export class GloveEmbedder implements Embedder {
  readonly id = GLOVE_EMBEDDER_ID;
  readonly device = 'cpu';
  readonly dim: number;
  readonly vectors: GloveVectors;
  private readonly tokenize: Tokenize;

  constructor(vectors: GloveVectors, tokenize: Tokenize = simpleTokenize) {
    this.vectors = vectors;
    this.dim = vectors.dim;
    this.tokenize = tokenize;
  }

  /** Loads (converting on first use) the shared word vectors. */
  static load(opts: GloveLoadOptions & { tokenize?: Tokenize } = {}): GloveEmbedder {
    return new GloveEmbedder(loadGlove(opts), opts.tokenize);
  }

  async embed(texts: string[]): Promise<Float32Array[]> {
    return texts.map((t) => sifVector(this.vectors, this.tokenize(t)));
  }

  async close(): Promise<void> {}
}
