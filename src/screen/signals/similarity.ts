/*
 * Similarity: the nearest labelled exemplars (and recently escalated events) vote, each with a
 * weight that grows linearly from 0 at `minSimilarity` to 1 at `fullSimilarity`:
 *
 *   w(n)      = clamp((sim(n) − min) / (full − min), 0, 1)
 *   share(c)  = Σ_{n labelled c} w(n) / Σ_n w(n)          (how the votes split)
 *   vote(c)   = share(c) · max_{n labelled c} w(n)         (how close the best of them is)
 *
 * Benign-labelled neighbours ('low_risk') produce vote(low_risk), which fusion subtracts. The
 * calibration is per embedder: hashed n-grams and e5 similarities live on different scales.
 * Recently escalated events (source 'escalated') vote with half weight: they are the screener's
 * own verdicts, and a mistake should not recruit its look-alikes at full strength.
 */
import type { Neighbor, RiskCategory, RiskFlag } from '../../models/index.js';
import type { SignalResult } from './types.js';

const ESCALATED_WEIGHT = 0.5;

export interface SimilarityCalibration {
  /** Below this cosine similarity a neighbour does not vote. */
  minSimilarity: number;
  /** At or above this a neighbour votes with full weight. */
  fullSimilarity: number;
}

export interface SimilarityResult extends SignalResult {
  /** vote(c) per category, low_risk included. */
  votes: Partial<Record<RiskCategory, number>>;
  /** The strongest voting neighbour of the winning category. */
  best?: Neighbor;
}

export function similaritySignal(neighbors: readonly Neighbor[] | undefined, cal: SimilarityCalibration): SimilarityResult {
  const votes: Partial<Record<RiskCategory, number>> = {};
  if (!neighbors || neighbors.length === 0) return { value: 0, flags: [], evidence: [], votes };
  const span = Math.max(1e-6, cal.fullSimilarity - cal.minSimilarity);
  const mass: Partial<Record<RiskCategory, number>> = {};
  const top: Partial<Record<RiskCategory, Neighbor>> = {};
  const topW: Partial<Record<RiskCategory, number>> = {};
  let total = 0;
  for (const n of neighbors) {
    const w = Math.min(1, Math.max(0, (n.similarity - cal.minSimilarity) / span)) * (n.source === 'escalated' ? ESCALATED_WEIGHT : 1);
    if (w <= 0) continue;
    total += w;
    mass[n.label] = (mass[n.label] ?? 0) + w;
    if (w > (topW[n.label] ?? 0)) {
      topW[n.label] = w;
      top[n.label] = n;
    }
  }
  if (total === 0) return { value: 0, flags: [], evidence: [], votes };
  let bestCat: RiskCategory | undefined;
  for (const c of Object.keys(mass) as RiskCategory[]) {
    votes[c] = (mass[c]! / total) * topW[c]!;
    if (c !== 'low_risk' && (bestCat === undefined || votes[c]! > votes[bestCat]!)) bestCat = c;
  }
  const evidence: string[] = [];
  const flags: RiskFlag[] = [];
  const value = bestCat ? votes[bestCat]! : 0;
  const best = bestCat ? top[bestCat] : undefined;
  if (best) evidence.push(`similar to ${best.source} ${best.id} (${best.similarity.toFixed(2)}, ${best.label})`);
  if (votes.low_risk && top.low_risk) evidence.push(`similar to benign ${top.low_risk.source} ${top.low_risk.id} (${top.low_risk.similarity.toFixed(2)})`);
  if (value >= 0.5) flags.push('similar_to_known_abuse');
  return { value, category: bestCat, flags, evidence, votes, best };
}
