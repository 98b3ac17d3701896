import type { Event, RiskCategory, RiskPrediction } from '../models/index.js';
import type { ScreenFn } from './worker.js';

/*
 * Predictions as the original Python screening service's clients read them. Applied to every
 * prediction the screening service hands out — POST /v1/risk/screen answers and the entries it
 * routes to events:reasoning_queue / events:low_risk — by wrapping the scorer once
 * (compatScreener), so both always agree.
 *
 *   always    details.heuristic_score, details.embedding_score, details.similar_events
 *             (the original's names, derived from riskpipe's signals, see originalFields);
 *             screening_time_ms a whole number, as the original declared it (int), with the
 *             precise figure in details.screening_time_ms_precise
 *   strict    (--category-compat strict) the categories the original knew: riskpipe's `threat`
 *             is reported as `targeted_harassment`, everywhere in the prediction
 */

/** `riskpipe`: riskpipe's eight categories (with `threat`); `strict`: only the original's seven. */
export const CATEGORY_COMPAT_MODES = ['riskpipe', 'strict'] as const;
export type CategoryCompat = (typeof CATEGORY_COMPAT_MODES)[number];

/** How riskpipe's categories the original did not have are reported in strict mode. */
const STRICT_CATEGORY: Partial<Record<RiskCategory, RiskCategory>> = { threat: 'targeted_harassment' };

function strictCategory(c: RiskCategory): RiskCategory;
function strictCategory(c: RiskCategory | undefined): RiskCategory | undefined;
function strictCategory(c: RiskCategory | undefined): RiskCategory | undefined {
  return c === undefined ? undefined : (STRICT_CATEGORY[c] ?? c);
}

/** One nearest neighbour as the original listed it. */
export interface SimilarEvent {
  text: string;
  score: number;
  category: RiskCategory;
}

function round4(x: number): number {
  return Math.round(x * 10000) / 10000;
}

/** Signals that are not rules: what they add or take away is left out of heuristic_score. */
const LEARNED_SIGNALS = ['similarity', 'benign_similarity', 'classifier'];

/**
 * The original's extra fields, derived from riskpipe's breakdown:
 *   heuristic_score   what the rules and amplifiers give on their own: risk_score less what the
 *                     nearest neighbours (similarity, benign_similarity) and the trained
 *                     classifier, where there is one, added or took away, 0–1
 *   embedding_score   the neighbours' vote for the strongest harmful category (signals.similarity.value), 0–1
 *   similar_events    the nearest neighbours: [{text, score (cosine similarity), category}]
 */
export function originalFields(p: RiskPrediction): RiskPrediction {
  const signals = p.details.signals ?? {};
  const sim = signals.similarity;
  const learned = LEARNED_SIGNALS.reduce((sum, name) => sum + (signals[name]?.contribution ?? 0), 0);
  const heuristic = Math.min(1, Math.max(0, p.risk_score - learned));
  const similar: SimilarEvent[] = (p.details.neighbors ?? []).map((n) => ({ text: n.text ?? '', score: round4(n.similarity), category: n.label }));
  return {
    ...p,
    screening_time_ms: Math.round(p.screening_time_ms),
    details: {
      ...p.details,
      heuristic_score: round4(heuristic),
      embedding_score: round4(sim?.value ?? 0),
      similar_events: similar,
      screening_time_ms_precise: p.screening_time_ms,
    },
  };
}

/**
 * The prediction with the original's categories only (threat → targeted_harassment): its
 * category, category_scores (the higher of the two), neighbours, signal categories and reason.
 * The category riskpipe decided is kept in details.riskpipe_category.
 */
export function toStrictCategories(p: RiskPrediction): RiskPrediction {
  const mapped = strictCategory(p.risk_category);
  const d = p.details;
  const scores: Record<string, number> = {};
  for (const [c, v] of Object.entries(d.category_scores ?? {})) {
    const to = strictCategory(c as RiskCategory);
    scores[to] = Math.max(scores[to] ?? 0, v);
  }
  // Only what names a category the original did not have is copied.
  const signals: typeof d.signals = {};
  for (const [name, s] of Object.entries(d.signals ?? {})) signals[name] = s.category && STRICT_CATEGORY[s.category] ? { ...s, category: strictCategory(s.category) } : s;
  const similar = (d.similar_events as SimilarEvent[] | undefined)?.map((e) => (STRICT_CATEGORY[e.category] ? { ...e, category: strictCategory(e.category) } : e));
  return {
    ...p,
    risk_category: mapped,
    details: {
      ...d,
      signals,
      neighbors: (d.neighbors ?? []).map((n) => (STRICT_CATEGORY[n.label] ? { ...n, label: strictCategory(n.label) } : n)),
      category_scores: scores,
      reason: mapped !== p.risk_category && d.reason?.startsWith(`${p.risk_category}:`) ? `${mapped}:${d.reason.slice(p.risk_category.length + 1)}` : d.reason,
      ...(similar ? { similar_events: similar } : {}),
      riskpipe_category: p.risk_category,
    },
  };
}

/** A prediction as the screening service hands it out (see the top of this file). */
export function presentPrediction(p: RiskPrediction, categories: CategoryCompat): RiskPrediction {
  const q = originalFields(p);
  return categories === 'strict' ? toStrictCategories(q) : q;
}

/**
 * The scorer with presentPrediction applied to everything it returns. The neighbour index is
 * still fed the prediction as riskpipe made it (its own categories), so learning does not depend
 * on the setting.
 */
export function compatScreener<S extends ScreenFn>(inner: S, opts: { categories: CategoryCompat }): S {
  const made = new WeakMap<RiskPrediction, RiskPrediction>();
  const screenBatch: ScreenFn['screenBatch'] = async (items) =>
    (await inner.screenBatch(items)).map((p) => {
      const shown = presentPrediction(p, opts.categories);
      made.set(shown, p);
      return shown;
    });
  // Whatever else the scorer takes (a vector it already computed) is passed on unchanged.
  const addEscalated = inner.addEscalated
    ? (event: Event, p: RiskPrediction, ...rest: unknown[]) => (inner.addEscalated as (e: Event, p: RiskPrediction, ...r: unknown[]) => void)(event, made.get(p) ?? p, ...rest)
    : undefined;
  return new Proxy(inner, {
    get(target, prop) {
      if (prop === 'screenBatch') return screenBatch;
      if (prop === 'addEscalated') return addEscalated;
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}
