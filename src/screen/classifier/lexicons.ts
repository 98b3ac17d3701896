/*
 * Soft lexicons: word slots that match by vector similarity to a few seed words, not by a literal
 * list, so "buffoon" and "cretin" fill the insult slot though no rule lists them.
 *
 *   sim(word, slot) = max over the slot's seeds of cos(vec(word), vec(seed))
 *   slot(message)   = clamp((max over content words of sim − 0.5) / 0.5, 0, 1)
 *
 * Raw GloVe similarity favours frequent function words and news registers, so only content words
 * count: words ranked below 200 in frequency ("the", "you", "have" …) never fill a slot, and a
 * slot's value starts only at similarity 0.5. What each slot admits is measured by
 * `slotNeighbours` (docs/screening.md lists it). Similarities are cached per word.
 */
import type { GloveVectors } from '../../embed/glove-vectors.js';

export const SOFT_SLOTS: Record<string, readonly string[]> = {
  insult: ['idiot', 'moron', 'pathetic', 'worthless', 'loser', 'stupid', 'imbecile', 'scum'],
  violence: ['stab', 'shoot', 'strangle', 'beat', 'punch', 'kill', 'hurt', 'murder'],
  weapon: ['gun', 'knife', 'rifle', 'machete', 'pistol'],
  death: ['die', 'dead', 'death', 'funeral', 'grave'],
  self_harm: ['suicide', 'overdose', 'suicidal', 'hopeless', 'worthless'],
  sexual: ['nude', 'naked', 'sexy', 'porn', 'breasts', 'sex'],
  dehumanising: ['vermin', 'animals', 'rats', 'parasites', 'cockroaches', 'savages'],
  group: ['immigrants', 'muslims', 'jews', 'gays', 'blacks', 'refugees'],
  exclusion: ['unwelcome', 'outcast', 'shun', 'exclude', 'ostracize'],
  humiliation: ['humiliate', 'embarrass', 'mock', 'ridicule', 'shame', 'laughingstock'],
  stalking: ['stalk', 'watching', 'following', 'track', 'spy'],
  promo: ['free', 'giveaway', 'discount', 'promo', 'subscribe', 'click'],
  money: ['bitcoin', 'crypto', 'cash', 'payment', 'paypal', 'wallet'],
  location: ['address', 'street', 'neighborhood', 'apartment', 'house'],
  consequence: ['regret', 'consequences', 'warned', 'sorry', 'pay'],
  friendly: ['thanks', 'love', 'great', 'awesome', 'friend', 'congrats'],
  game: ['game', 'match', 'round', 'team', 'level', 'player'],
};
export const SOFT_SLOT_NAMES = Object.keys(SOFT_SLOTS);
const MIN_RANK = 200;
const START = 0.5;

export class SoftLexicons {
  private readonly seeds: Float32Array[][];
  private readonly cache = new Map<number, Float32Array>();
  constructor(private readonly g: GloveVectors) {
    this.seeds = SOFT_SLOT_NAMES.map((s) => SOFT_SLOTS[s].map((w) => g.row(w)).filter((r) => r >= 0).map((r) => this.unit(r)));
  }

  private unit(row: number): Float32Array {
    const v = new Float32Array(this.g.dim);
    this.g.addRow(v, row, 1);
    let n = 0;
    for (const x of v) n += x * x;
    n = Math.sqrt(n) || 1;
    for (let j = 0; j < v.length; j++) v[j] /= n;
    return v;
  }

  /** sim(word, slot) for every slot, for a vocabulary row. */
  similarities(row: number): Float32Array {
    let s = this.cache.get(row);
    if (s) return s;
    const v = this.unit(row);
    s = new Float32Array(this.seeds.length);
    for (let k = 0; k < this.seeds.length; k++) {
      let m = 0;
      for (const seed of this.seeds[k]) {
        let d = 0;
        for (let j = 0; j < v.length; j++) d += v[j] * seed[j];
        if (d > m) m = d;
      }
      s[k] = m;
    }
    if (this.cache.size > 200_000) this.cache.clear();
    this.cache.set(row, s);
    return s;
  }

  /** Each slot's value for a message's vocabulary rows, written into `out` (length = slots). */
  fill(rows: readonly number[], out: Float32Array): void {
    out.fill(0);
    for (const r of rows) {
      if (r < MIN_RANK) continue;
      const s = this.similarities(r);
      for (let k = 0; k < s.length; k++) {
        const v = (s[k] - START) / (1 - START);
        if (v > out[k]) out[k] = Math.min(1, v);
      }
    }
  }

  /** The vocabulary words a slot admits at `minSimilarity`, most similar first (for the docs). */
  slotNeighbours(slot: string, minSimilarity = 0.7, limit = 25): { word: string; similarity: number; count: number } {
    const k = SOFT_SLOT_NAMES.indexOf(slot);
    const found: [number, string][] = [];
    for (let r = MIN_RANK; r < this.g.size; r++) {
      const s = this.similarities(r)[k];
      if (s >= minSimilarity) found.push([s, this.g.words[r]]);
    }
    found.sort((a, b) => b[0] - a[0]);
    return { word: found.slice(0, limit).map(([s, w]) => `${w} ${s.toFixed(2)}`).join(', '), similarity: minSimilarity, count: found.length };
  }
}

const shared = new WeakMap<GloveVectors, SoftLexicons>();
export function softLexicons(g: GloveVectors): SoftLexicons {
  let s = shared.get(g);
  if (!s) shared.set(g, (s = new SoftLexicons(g)));
  return s;
}
