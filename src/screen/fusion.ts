/*
 * Fusion: from one event (plus its author's recent behaviour and its nearest labelled neighbours)
 * to a RiskPrediction. Pure, synchronous, no I/O; every regex is compiled once at load.
 *
 * The signals (src/screen/signals/):
 *   rule signals, each with a category and a value v ∈ [0,1] already dampened by benign context
 *     threat, self_harm, hate, sexual, harassment   phrase templates over the normalised text
 *     offensive                                    profanity and slurs (obscenity + own patterns)
 *     spam                                         links, bait, phishing, promo text
 *     author_spam                                  the same content in several channels (spam)
 *   amplifiers, no category of their own
 *     targeting (aimed at the reader), heuristics (caps, !!!!), author (reputation, account age,
 *     previous violations, bursts)
 *   similarity: vote(c) per category from the nearest exemplars (signals/similarity.ts)
 *   context: benign context (gaming, joking, quote, report, news, hyperbole, support, negation),
 *     looked at only when some rule matched, and applied inside the rule signals per matched rule: v = strength · Π_k (1 − d_k · s_k(class) · m_k)
 *     with d_k = policy.dampening[k], m_k the marker's strength in this message and s_k the rule
 *     class's sensitivity (robust rules resist banter; only quotes, reports and news cancel them).
 *
 * For each harm category c (w = policy.weights, base = policy.categoryBase, caps = policy.amplifierCaps):
 *
 *   1. evidence     R_c = base_c · (1 − Π_{rule signals s of category c} (1 − min(1, w_s · v_s)))      noisy-OR
 *   2. amplify      A_c = min(caps.total, Σ_k min(caps_k, w_k · v_k)) over the amplifiers that apply to c
 *                        (targeting: toxic, harassment, sexual, threat; heuristics: all but self_harm and sexual;
 *                         author: all, capped at caps.authorSpam for spam and caps.author otherwise)
 *                   R'_c = min(1, R_c · (1 + A_c))          — amplifiers never raise a zero
 *   3. similarity   S_c = R'_c + w_similarity · vote(c) · (1 − R'_c)
 *   4. classifier   C_c = S_c + min(1, w_classifier · q_c) · (1 − S_c)        (only with a classifier, see below)
 *   5. benign pull  score_c = clamp(C_c · (1 − w_benign_similarity · vote(low_risk)) · (1 − w_classifier_benign · (1 − p)), 0, 1)
 *
 *   The classifier (src/screen/classifier/, trained by `npm run train:screening`) reads the sentence
 *   vector, hashed n-grams and the rule values above, and gives p = its calibrated probability that
 *   the message should be escalated and p_c per category; q_c = ramp(p) · p_c / max_c' p_c' puts p on
 *   the category it names, where ramp(p) = clamp((p − floor) / (1 − floor), 0, 1) with
 *   floor = policy.classifier.floor (below it p is the corpus prior speaking, not evidence). Its
 *   benign pull (1 − p) lowers rule evidence the classifier does not believe.
 *
 *   risk_score    = max_c score_c; risk_category = its argmax, or low_risk below thresholds.medium
 *   risk_level    = LOW below thresholds.medium, MEDIUM below thresholds.high, else HIGH
 *   confidence    = clamp(0.55 + 0.45 · margin − 0.2 · conflict, 0.05, 1), where margin is the
 *                   distance of risk_score from thresholds.screening relative to the room on that side,
 *                   and conflict is 1 when the similarity vote or dampened rule evidence points the
 *                   other way than the decision (0.5 when only weakly)
 *   contribution  of each signal = risk_score − risk_score with that signal removed (negative for
 *                   benign_similarity and context)
 */
import type { RiskCategory, RiskFlag, RiskLevel, RiskPrediction, SignalContribution } from '../models/index.js';
import { HARM_CATEGORIES, type HarmCategory, type Policy } from './policy.js';
import { authorSignal } from './signals/author.js';
import { lazyContext } from './signals/context.js';
import { harassmentSignal } from './signals/harassment.js';
import { hateSignal } from './signals/hate.js';
import { heuristicsSignal } from './signals/heuristics.js';
import { offensiveSignal, type OffensiveResult } from './signals/offensive.js';
import { compatFlags } from './signals/flags.js';
import { selfHarmSignal } from './signals/self-harm.js';
import { sexualSignal } from './signals/sexual.js';
import { similaritySignal } from './signals/similarity.js';
import { spamSignal } from './signals/spam.js';
import { targetingSignal } from './signals/targeting.js';
import { threatSignal } from './signals/threat.js';
import type { SignalResult } from './signals/types.js';
import { normalizeText } from './text.js';
import type { ScreeningInput } from './types.js';
import type { ClassifierOutput, Classify } from './classifier/model.js';
import { RULE_FAMILIES, type RuleView } from './classifier/features.js';
import type { NormalizedText } from './text.js';
import type { ContextMarkers } from './signals/types.js';

export type Scored = Omit<RiskPrediction, 'screening_time_ms' | 'model_version' | 'policy_fingerprint'>;

const RULE_SIGNALS = ['threat', 'self_harm', 'hate', 'sexual', 'harassment', 'offensive', 'spam', 'author_spam'] as const;
type RuleSignal = (typeof RULE_SIGNALS)[number];

const TARGETED = new Set<HarmCategory>(['toxic', 'targeted_harassment', 'sexual_content', 'threat']);
const SHOUTED = new Set<HarmCategory>(['toxic', 'targeted_harassment', 'threat', 'hate_speech', 'spam']);
/** Tie-break order: the more severe category wins an exact tie. */
const SEVERITY: readonly HarmCategory[] = ['threat', 'self_harm', 'hate_speech', 'sexual_content', 'targeted_harassment', 'toxic', 'spam'];

/** The numbers fusion combines; kept apart from the signals so contributions can be recomputed cheaply. */
interface FusionNumbers {
  rules: Record<RuleSignal, { category: HarmCategory | undefined; value: number }>;
  targeting: number;
  heuristics: number;
  author: number;
  votes: Partial<Record<RiskCategory, number>>;
  /** q_c per category and p (see the header); absent without a classifier. */
  classifier?: { q: Partial<Record<HarmCategory, number>>; p: number };
}

const CATEGORY_INDEX = new Map<HarmCategory, number>(HARM_CATEGORIES.map((c, i) => [c, i]));
const TARGETED_AT = HARM_CATEGORIES.map((c) => TARGETED.has(c));
const SHOUTED_AT = HARM_CATEGORIES.map((c) => SHOUTED.has(c));
/** Per category, what is left after the noisy-OR of its rule signals (reused: fuse runs ~10 times per event). */
const REST = new Float64Array(HARM_CATEGORIES.length);

/** The score per category; into `out` when given (the contributions' recomputations reuse one). */
function fuse(n: FusionNumbers, p: Policy, out = {} as Record<HarmCategory, number>): Record<HarmCategory, number> {
  const w = p.weights;
  const caps = p.amplifierCaps;
  // 1. noisy-OR of the rule signals, per category (one pass over the rule signals).
  const rest = REST.fill(1);
  for (const name of RULE_SIGNALS) {
    const r = n.rules[name];
    if (r.value > 0 && r.category) rest[CATEGORY_INDEX.get(r.category)!] *= 1 - Math.min(1, w[name] * r.value);
  }
  let benign = 1 - Math.min(1, w.benign_similarity * (n.votes.low_risk ?? 0));
  if (n.classifier) benign *= 1 - Math.min(1, w.classifier_benign * (1 - n.classifier.p));
  const ampTarget = Math.min(caps.targeting, w.targeting * n.targeting);
  const ampShout = Math.min(caps.heuristics, w.heuristics * n.heuristics);
  const ampAuthor = w.author * n.author;
  for (let i = 0; i < HARM_CATEGORIES.length; i++) {
    const c = HARM_CATEGORIES[i];
    let R = p.categoryBase[c] * (1 - rest[i]);
    if (R > 0) {
      // 2. amplifiers multiply existing evidence only.
      let amp = Math.min(c === 'spam' ? caps.authorSpam : caps.author, ampAuthor);
      if (TARGETED_AT[i]) amp += ampTarget;
      if (SHOUTED_AT[i]) amp += ampShout;
      R = Math.min(1, R * (1 + Math.min(caps.total, amp)));
    }
    // 3. similarity vote, 4. benign pull.
    let S = R + Math.min(1, w.similarity * (n.votes[c] ?? 0)) * (1 - R);
    // 4. the classifier's probability, put on the category it names.
    if (n.classifier) S += Math.min(1, w.classifier * (n.classifier.q[c] ?? 0)) * (1 - S);
    out[c] = Math.min(1, Math.max(0, S * benign));
  }
  return out;
}

function top(scores: Record<HarmCategory, number>): { category: HarmCategory; score: number } {
  let best: HarmCategory = SEVERITY[0];
  for (const c of SEVERITY) if (scores[c] > scores[best]) best = c;
  return { category: best, score: scores[best] };
}

/** q_c = ramp(p) · p_c / max p_c': the escalate probability on the category the classifier names, less on the others. */
function classifierShares(o: ClassifierOutput, floor: number): Partial<Record<HarmCategory, number>> {
  // Math.max over the categories without an array per call (the p_c are sigmoids: never NaN or -0).
  let max = -Infinity;
  for (const c of HARM_CATEGORIES) if (o.categories[c] > max) max = o.categories[c];
  const q: Partial<Record<HarmCategory, number>> = {};
  const ramp = Math.min(1, Math.max(0, (o.escalate - floor) / Math.max(1e-6, 1 - floor)));
  if (max <= 0 || ramp <= 0) return q;
  for (const c of HARM_CATEGORIES) q[c] = ramp * (o.categories[c] / max);
  return q;
}

export function levelFor(score: number, t: Policy['thresholds']): RiskLevel {
  return score >= t.high ? 'HIGH' : score >= t.medium ? 'MEDIUM' : 'LOW';
}

function round(x: number): number {
  return Math.round(x * 10000) / 10000;
}

/** The rule-side signals of one event: what fusion combines, and what the classifier reads. */
export interface RuleSignals {
  t: NormalizedText;
  ctx: ContextMarkers;
  results: Record<Exclude<RuleSignal, 'author_spam'>, SignalResult>;
  targeting: ReturnType<typeof targetingSignal>;
  heuristics: SignalResult;
}

export function ruleSignals(event: ScreeningInput['event'], policy: Policy): RuleSignals {
  const t = normalizeText(event.content);
  const ctx = lazyContext(t);
  const damp = policy.dampening;
  const results: RuleSignals['results'] = {
    threat: threatSignal(t, ctx, damp),
    self_harm: selfHarmSignal(t, ctx, damp),
    hate: hateSignal(t, ctx, damp),
    sexual: sexualSignal(t, ctx, damp),
    harassment: harassmentSignal(t, ctx, damp),
    offensive: offensiveSignal(t, ctx, damp),
    spam: spamSignal(t, ctx, damp),
  };
  return { t, ctx, results, targeting: targetingSignal(t, event), heuristics: heuristicsSignal(t) };
}

/** The rule values as the classifier's features expect them. */
export function ruleView(r: RuleSignals): RuleView {
  const values = {} as RuleView['values'];
  const raws = {} as RuleView['raws'];
  for (const f of RULE_FAMILIES) {
    values[f] = r.results[f].value;
    raws[f] = r.results[f].raw ?? r.results[f].value;
  }
  return { values, raws, offensiveCategory: r.results.offensive.category, targeting: r.targeting.value, heuristics: r.heuristics.value, ctx: r.ctx };
}

/**
 * Scores one event. With a classifier its calibrated probability joins the fusion (step 4 above)
 * and `details.signals.classifier` shows its value, contribution and the words that pushed it most.
 */
export function scoreEvent(input: ScreeningInput, policy: Policy, classifier?: Classify, precomputed?: RuleSignals): Scored {
  const { event, author, neighbors } = input;
  const rs = precomputed ?? ruleSignals(event, policy);
  const { t, ctx, results } = rs;
  const damp = policy.dampening;
  const targeting = rs.targeting;
  const heuristics = rs.heuristics;
  let cls: (ClassifierOutput & { features?: import('./classifier/features.js').Features }) | undefined;
  if (classifier) cls = classifier.predict(t, ruleView(rs));
  const auth = authorSignal(event, author, policy.author);
  const sim = similaritySignal(neighbors, policy.similarity);

  const numbers: FusionNumbers = {
    rules: {
      threat: { category: 'threat', value: results.threat.value },
      self_harm: { category: 'self_harm', value: results.self_harm.value },
      hate: { category: 'hate_speech', value: results.hate.value },
      sexual: { category: 'sexual_content', value: results.sexual.value },
      harassment: { category: 'targeted_harassment', value: results.harassment.value },
      offensive: { category: (results.offensive.category ?? 'toxic') as HarmCategory, value: results.offensive.value },
      spam: { category: 'spam', value: results.spam.value },
      author_spam: { category: 'spam', value: auth.spamValue },
    },
    targeting: targeting.value,
    heuristics: heuristics.value,
    author: auth.value,
    votes: sim.votes,
    classifier: cls ? { p: cls.escalate, q: classifierShares(cls, policy.classifier.floor) } : undefined,
  };
  const scores = fuse(numbers, policy);
  const { category: winner, score } = top(scores);
  const riskScore = round(score);
  const th = policy.thresholds;
  const category: RiskCategory = riskScore >= th.medium ? winner : 'low_risk';

  // Each signal's contribution: the score with it minus the score without it. Removing a rule
  // signal of a category that did not win cannot change the maximum, so only the winner's rule
  // signals and the signals that touch every category are recomputed.
  const scratch = {} as Record<HarmCategory, number>;
  const without = (edit: (n: FusionNumbers) => void): number => {
    const copy: FusionNumbers = { ...numbers, rules: { ...numbers.rules }, votes: { ...numbers.votes }, classifier: numbers.classifier };
    edit(copy);
    return top(fuse(copy, policy, scratch)).score;
  };
  const contribution = (value: number, edit: (n: FusionNumbers) => void) => (value > 0 && score > 0 ? round(score - without(edit)) : 0);
  const signals: Record<string, SignalContribution> = {};
  const w = policy.weights;
  for (const name of RULE_SIGNALS) {
    const r = name === 'author_spam' ? { value: auth.spamValue, evidence: auth.spamValue > 0 ? auth.evidence.filter((e) => e.startsWith('same content')) : [] } : results[name];
    const cat = numbers.rules[name].category;
    signals[name] = {
      value: round(r.value),
      weight: w[name],
      contribution: cat === winner ? contribution(r.value, (n) => (n.rules[name] = { ...n.rules[name], value: 0 })) : 0,
      category: cat,
      evidence: r.evidence,
    };
  }
  signals.targeting = { value: round(targeting.value), weight: w.targeting, contribution: contribution(targeting.value, (n) => (n.targeting = 0)), evidence: targeting.evidence };
  signals.heuristics = { value: round(heuristics.value), weight: w.heuristics, contribution: contribution(heuristics.value, (n) => (n.heuristics = 0)), evidence: heuristics.evidence };
  signals.author = { value: round(auth.value), weight: w.author, contribution: contribution(auth.value, (n) => (n.author = 0)), evidence: auth.evidence };
  const simCat = sim.category;
  signals.similarity = {
    value: round(sim.value),
    weight: w.similarity,
    contribution: contribution(sim.value, (n) => (n.votes = { low_risk: n.votes.low_risk })),
    ...(simCat ? { category: simCat } : {}),
    evidence: sim.evidence.filter((e) => !e.startsWith('similar to benign')),
  };
  if (cls) {
    // The words are worth their cost where someone will read them: a verdict at MEDIUM or above, or
    // a classifier that spoke up (p above its floor); everyday traffic skips them.
    const worthWords = score >= policy.thresholds.medium || cls.escalate >= policy.classifier.floor;
    const top = worthWords && cls.features && classifier!.topWords ? classifier!.topWords(cls.features, 5) : [];
    signals.classifier = {
      value: round(cls.escalate),
      weight: w.classifier,
      // Its whole effect: the category push and the benign pull together.
      contribution: round(score - without((n) => (n.classifier = undefined))),
      category: cls.category,
      evidence: [
        `classifier ${classifier!.id}: p(escalate) ${cls.escalate.toFixed(2)}, names ${cls.category} (${cls.categories[cls.category].toFixed(2)})`,
        ...(top.length ? [`words that pushed it most: ${top.map((x) => `${x.word} ${x.weight > 0 ? '+' : ''}${x.weight.toFixed(2)}`).join(', ')}`] : []),
      ],
    };
  }
  const benignVote = sim.votes.low_risk ?? 0;
  // The benign pull lowers the score, so its contribution is computed even when the score is 0.
  signals.benign_similarity = {
    value: round(benignVote),
    weight: w.benign_similarity,
    contribution: benignVote > 0 ? round(score - without((n) => (n.votes = { ...n.votes, low_risk: 0 }))) : 0,
    category: 'low_risk',
    evidence: sim.evidence.filter((e) => e.startsWith('similar to benign')),
  };
  // Context: how much the benign context took away (the score had every rule kept its raw value).
  const damped = RULE_SIGNALS.some((k) => k !== 'author_spam' && (results[k].raw ?? results[k].value) > results[k].value + 1e-9);
  // Context is only looked at when some rule matched: then it is worth knowing what cancelled it.
  const anyHit = RULE_SIGNALS.some((k) => k !== 'author_spam' && (results[k].raw ?? results[k].value) > 0);
  const ctxValue = anyHit ? Math.max(ctx.gaming, ctx.joking, ctx.quote, ctx.report, ctx.news, ctx.hyperbole, ctx.support) : 0;
  signals.context = {
    value: round(ctxValue),
    weight: round(Math.max(damp.gaming, damp.joking, damp.quote, damp.report, damp.news, damp.hyperbole, damp.support)),
    contribution: damped
      ? -Math.abs(
          round(
            without((n) => {
              for (const k of RULE_SIGNALS) if (k !== 'author_spam') n.rules[k] = { ...n.rules[k], value: results[k].raw ?? results[k].value };
            }) - score,
          ),
        )
      : 0,
    category: 'low_risk',
    evidence: anyHit ? ctx.evidence : [],
  };

  // Flags: every flag a signal raised, in RISK_FLAGS' lower-case vocabulary.
  const flags = new Set<RiskFlag>();
  for (const k of RULE_FAMILIES) for (const f of results[k].flags) flags.add(f);
  for (const f of targeting.flags) flags.add(f);
  for (const f of heuristics.flags) flags.add(f);
  for (const f of auth.flags) flags.add(f);
  for (const f of sim.flags) flags.add(f);
  for (const f of compatFlags({ t, raised: flags, offensiveWords: (results.offensive as OffensiveResult).words ?? [] })) flags.add(f);

  // Confidence: how far from the line, less when the evidence disagrees with itself.
  const decision = riskScore >= th.screening;
  const room = decision ? 1 - th.screening : th.screening;
  const margin = room > 0 ? Math.min(1, Math.abs(riskScore - th.screening) / room) : 1;
  const simSaysRisk = sim.value - benignVote;
  let conflict = 0;
  if (decision && simSaysRisk < -0.3) conflict = simSaysRisk < -0.6 ? 1 : 0.5;
  if (!decision && simSaysRisk > 0.3) conflict = simSaysRisk > 0.6 ? 1 : 0.5;
  if (!decision && damped && signals.context.contribution < -0.3) conflict = Math.max(conflict, 0.5);
  const confidence = round(Math.min(1, Math.max(0.05, 0.55 + 0.45 * margin - 0.2 * conflict)));

  const categoryScores: Record<string, number> = { low_risk: round(1 - riskScore) };
  for (const c of HARM_CATEGORIES) categoryScores[c] = round(scores[c]);

  return {
    event_id: event.event_id,
    risk_score: riskScore,
    risk_level: levelFor(riskScore, th),
    risk_category: category,
    confidence,
    flags: [...flags],
    details: {
      signals,
      neighbors: neighbors ?? [],
      category_scores: categoryScores,
      thresholds: { screening: th.screening, medium: th.medium, high: th.high },
      reason: reasonLine(category, winner, signals, sim.best, targeting.value, auth.evidence, anyHit ? ctx.evidence : []),
    },
  };
}

/** The categories each signal name can speak for, for the reason line. */
function reasonLine(
  category: RiskCategory,
  winner: HarmCategory,
  signals: Record<string, SignalContribution>,
  best: { id: string; similarity: number; source: string; label: RiskCategory } | undefined,
  targeting: number,
  authorEvidence: string[],
  contextEvidence: string[],
): string {
  const ruleNames = RULE_SIGNALS.filter((n) => signals[n].value > 0).sort((a, b) => signals[b].contribution - signals[a].contribution || signals[b].value - signals[a].value);
  if (category === 'low_risk') {
    const strongest = ruleNames[0];
    if (!strongest) return signals.similarity.value > 0 ? `low risk: only weak similarity (${signals.similarity.evidence?.[0] ?? ''})` : 'no risk signals';
    const ev = signals[strongest].evidence?.[0] ?? strongest;
    return `low risk: ${ev}${contextEvidence.length && !ev.includes('damped') ? `; ${contextEvidence.join(', ')}` : ''}`;
  }
  const parts: string[] = [];
  const mine = ruleNames.filter((n) => signals[n].category === winner);
  const ev = mine.map((n) => signals[n].evidence?.[0]).filter((e): e is string => Boolean(e));
  const cls = signals.classifier;
  parts.push(ev.slice(0, 2).join('; ') || (cls && cls.contribution > 0 ? `classifier p(escalate) ${cls.value.toFixed(2)}` : 'similar messages'));
  if (targeting >= 0.5 && (winner === 'toxic' || winner === 'targeted_harassment' || winner === 'sexual_content' || winner === 'threat')) parts[0] += ' aimed at the reader';
  if (cls && cls.contribution > 0 && ev.length) parts.push(`classifier ${cls.value.toFixed(2)}`);
  if (best && best.label === winner && signals.similarity.contribution > 0) parts.push(`similar to ${best.source} ${best.id} (${best.similarity.toFixed(2)})`);
  if (signals.author.contribution > 0 && authorEvidence.length) parts.push(authorEvidence.slice(0, 2).join(', '));
  return `${category}: ${parts.join('; ')}`;
}
