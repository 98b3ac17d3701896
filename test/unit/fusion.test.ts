import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/common/errors.js';
import { RISK_FLAGS, RiskPrediction, type Event, type Neighbor } from '../../src/models/index.js';
import { levelFor, scoreEvent } from '../../src/screen/fusion.js';
import { calibrationFor, defaultPolicy, policyFingerprint, policyForEmbedder, policyFromJson, type Policy } from '../../src/screen/policy.js';
import type { AuthorStats } from '../../src/screen/types.js';

function event(content: string, metadata: Event['metadata'] = {}): Event {
  return { event_id: 'e1', event_type: 'message_created', platform: 'discord', channel_id: 'c1', user_id: 'u1', author_id: 'a1', content, created_at: '2026-01-01T00:00:00.000Z', metadata };
}

function score(content: string, opts: { policy?: Policy; neighbors?: Neighbor[]; author?: AuthorStats; metadata?: Event['metadata'] } = {}) {
  return scoreEvent({ event: event(content, opts.metadata), neighbors: opts.neighbors, author: opts.author }, opts.policy ?? defaultPolicy);
}

const EVERY_SIGNAL = ['threat', 'self_harm', 'hate', 'sexual', 'harassment', 'offensive', 'spam', 'author_spam', 'targeting', 'heuristics', 'author', 'similarity', 'benign_similarity', 'context'];

const SAMPLES = [
  'hello everyone',
  'I know where you live',
  'kys',
  "I don't want to be here anymore",
  'immigrants are vermin',
  'send me pics',
  'free nitro at discord-gift.xyz',
  'fuck you',
  "you're dead meat lol gg",
  'OMG THIS IS AMAZING!!!',
  "he told me 'I will find where you live' — how do I report that?",
  'YOU ARE A WASTE OF SPACE!!!!',
];

describe('scoreEvent', () => {
  it('returns a valid RiskPrediction body with every signal in details', () => {
    for (const text of SAMPLES) {
      const p = score(text);
      expect(() => RiskPrediction.parse({ ...p, screening_time_ms: 0.1, model_version: 'm', policy_fingerprint: 'f' }), text).not.toThrow();
      expect(Object.keys(p.details.signals).sort()).toEqual([...EVERY_SIGNAL].sort());
      for (const s of Object.values(p.details.signals)) {
        expect(Number.isFinite(s.value) && Number.isFinite(s.weight) && Number.isFinite(s.contribution)).toBe(true);
        expect(Array.isArray(s.evidence)).toBe(true);
      }
      expect(p.details.thresholds).toEqual(defaultPolicy.thresholds);
      expect(p.details.reason.length).toBeGreaterThan(0);
      expect(p.details.reason).not.toContain('\n');
    }
  });

  it('flags are lower-case RiskFlag values (but for the original service\'s ALL_CAPS_spam), without duplicates', () => {
    for (const text of SAMPLES) {
      const p = score(text, { metadata: { author_reputation: 0.05, account_age_days: 0, previous_violations: 2 }, author: { messagesInWindow: 40, windowS: 60, sameContentChannels: 5 } });
      for (const f of p.flags) {
        expect(RISK_FLAGS).toContain(f);
        if (f !== 'ALL_CAPS_spam') expect(f).toBe(f.toLowerCase());
      }
      expect(new Set(p.flags).size).toBe(p.flags.length);
    }
  });

  it('escalates the obvious, leaves the benign look-alikes', () => {
    expect(score('I know where you live')).toMatchObject({ risk_level: 'HIGH', risk_category: 'threat' });
    expect(score('kys').risk_category).toBe('targeted_harassment');
    expect(score("I don't want to be here anymore").risk_category).toBe('self_harm');
    expect(score('free nitro at discord-gift.xyz').risk_category).toBe('spam');
    for (const text of ['hello everyone', "you're dead meat lol gg", 'OMG THIS IS AMAZING!!!', "he told me 'I will find where you live' — how do I report that?"]) {
      const p = score(text);
      expect(p.risk_score, text).toBeLessThan(0.7);
    }
    expect(score('hello everyone')).toMatchObject({ risk_score: 0, risk_level: 'LOW', risk_category: 'low_risk', flags: [] });
  });

  it('keeps every score within 0..1, whatever the weights', () => {
    const heavy = policyFromJson({ weights: Object.fromEntries(Object.keys(defaultPolicy.weights).map((k) => [k, 5])), amplifierCaps: { targeting: 1, heuristics: 1, author: 1, authorSpam: 1, total: 1 } });
    const neighbors: Neighbor[] = [{ id: 'x', label: 'threat', similarity: 1, source: 'exemplar' }];
    for (const text of SAMPLES) {
      for (const policy of [defaultPolicy, heavy]) {
        const p = score(text, { policy, neighbors, author: { messagesInWindow: 100, windowS: 60, sameContentChannels: 9 }, metadata: { author_reputation: 0, account_age_days: 0, previous_violations: 9 } });
        expect(p.risk_score).toBeGreaterThanOrEqual(0);
        expect(p.risk_score).toBeLessThanOrEqual(1);
        expect(p.confidence).toBeGreaterThanOrEqual(0);
        expect(p.confidence).toBeLessThanOrEqual(1);
        for (const v of Object.values(p.details.category_scores)) expect(v >= 0 && v <= 1).toBe(true);
      }
    }
  });

  it('is monotonic in evidence: more of it never lowers the score', () => {
    const one = score('watch yourself').risk_score;
    const two = score('watch yourself. i know where you live').risk_score;
    expect(two).toBeGreaterThanOrEqual(one);
    // A larger weight on the firing signal never lowers the score.
    let last = -1;
    for (const w of [0, 0.25, 0.5, 1, 2]) {
      const s = score('watch yourself', { policy: policyFromJson({ weights: { threat: w } }) }).risk_score;
      expect(s).toBeGreaterThanOrEqual(last);
      last = s;
    }
    // More similar abusive neighbours never lower it; benign ones never raise it.
    const base = score('you are not welcome in this place').risk_score;
    const abusive = score('you are not welcome in this place', { neighbors: [{ id: 'h', label: 'targeted_harassment', similarity: 0.9, source: 'exemplar' }] }).risk_score;
    const benign = score('you are not welcome in this place', { neighbors: [{ id: 'ok', label: 'low_risk', similarity: 0.9, source: 'exemplar' }] }).risk_score;
    expect(abusive).toBeGreaterThanOrEqual(base);
    expect(benign).toBeLessThanOrEqual(base);
  });

  it('amplifiers multiply evidence but never escalate a plainly benign message', () => {
    const worst = { metadata: { author_reputation: 0, account_age_days: 0, previous_violations: 10 }, author: { messagesInWindow: 200, windowS: 60, sameContentChannels: 10 } };
    const benign = score('what time is the stream tomorrow?', worst);
    expect(benign.risk_score).toBeLessThan(0.7);
    expect(benign.flags).toEqual(expect.arrayContaining(['low_reputation', 'new_account', 'previous_violations', 'rapid_messages', 'cross_channel_duplicate']));
    const link = score('check this out bit.ly/4fRt9');
    const linkNew = score('check this out bit.ly/4fRt9', worst);
    expect(linkNew.risk_score).toBeGreaterThan(link.risk_score);
    expect(linkNew.details.signals.author.contribution).toBeGreaterThan(0);
  });

  it('context dampens and shows up as a negative contribution', () => {
    const p = score("someone dmed me 'i know where you live', how do i report that?");
    expect(p.risk_score).toBeLessThan(0.4);
    expect(p.details.signals.context.contribution).toBeLessThan(0);
    expect((p.details.signals.context.evidence ?? []).join(' ')).toMatch(/report/);
  });

  it('reason names the category and the evidence, and similarity when it helped', () => {
    expect(score('I know where you live').details.reason).toMatch(/^threat: threat phrase "i know where you live"/);
    const p = score('you made a big mistake', { neighbors: [{ id: 'thr-001', label: 'threat', similarity: 0.9, source: 'exemplar' }] });
    expect(p.risk_category).toBe('threat');
    expect(p.details.reason).toMatch(/^threat: veiled threat "you made a big mistake"/);
    expect(p.details.reason).toContain('similar to exemplar thr-001 (0.90)');
    expect(p.details.signals.similarity.contribution).toBeGreaterThan(0);
    expect(p.flags).toContain('similar_to_known_abuse');
    expect(score('hello').details.reason).toBe('no risk signals');
  });

  it('confidence is higher far from the threshold than near it', () => {
    const far = score('hello everyone').confidence;
    const p = score('watch yourself');
    expect(far).toBeGreaterThan(0.9);
    expect(Math.abs(p.risk_score - 0.7)).toBeLessThan(0.15);
    expect(p.confidence).toBeLessThan(far);
  });

  it('the category is low_risk below the medium threshold', () => {
    const p = score('this fucking game crashed again');
    expect(p.risk_score).toBeLessThan(defaultPolicy.thresholds.medium);
    expect(p.risk_category).toBe('low_risk');
    expect(p.risk_level).toBe('LOW');
  });
});

describe('levelFor', () => {
  const t = { screening: 0.7, medium: 0.4, high: 0.7 };
  it.each([
    [0, 'LOW'],
    [0.399, 'LOW'],
    [0.4, 'MEDIUM'],
    [0.69, 'MEDIUM'],
    [0.7, 'HIGH'],
    [1, 'HIGH'],
  ] as const)('%d → %s', (s, level) => {
    expect(levelFor(s, t)).toBe(level);
  });
});

describe('policy', () => {
  it('policyFromJson merges a partial override onto the defaults', () => {
    const p = policyFromJson({ thresholds: { screening: 0.6 }, weights: { similarity: 0.2 } });
    expect(p.thresholds).toEqual({ screening: 0.6, medium: 0.4, high: 0.7 });
    expect(p.weights.similarity).toBe(0.2);
    expect(p.weights.threat).toBe(defaultPolicy.weights.threat);
  });

  it('policyFromJson reports every problem as path: message', () => {
    let err: unknown;
    try {
      policyFromJson({ thresholds: { medium: 0.9, high: 0.5 }, weights: { threat: -1, nope: 1 }, similarity: { minSimilarity: 0.9, fullSimilarity: 0.5 } });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const paths = (err as ConfigError).errors!.map((e) => e.path);
    expect(paths).toEqual(expect.arrayContaining(['weights.threat', 'weights', 'thresholds.medium', 'similarity.minSimilarity']));
    expect((err as ConfigError).message).toMatch(/weights\.threat: must be >= 0/);
    expect(() => policyFromJson([])).toThrow(ConfigError);
  });

  it('calibration is per embedder, longest matching prefix wins', () => {
    expect(calibrationFor(defaultPolicy, 'riskpipe/hash-ngram-384-v1')).toEqual(defaultPolicy.similarity.perEmbedder['riskpipe/hash']);
    expect(calibrationFor(defaultPolicy, 'intfloat/e5-small-v2')).toEqual(defaultPolicy.similarity.perEmbedder['intfloat/e5']);
    expect(calibrationFor(defaultPolicy, 'someone/other-model')).toEqual({ minSimilarity: defaultPolicy.similarity.minSimilarity, fullSimilarity: defaultPolicy.similarity.fullSimilarity });
    expect(policyForEmbedder(defaultPolicy, 'intfloat/e5-small-v2').similarity.minSimilarity).toBe(defaultPolicy.similarity.perEmbedder['intfloat/e5'].minSimilarity);
  });

  it('the fingerprint changes with weights, thresholds, embedder and bank, and only with them', () => {
    const base = policyFingerprint(defaultPolicy, 'riskpipe/hash-ngram-384-v1', 'bank1');
    expect(base).toMatch(/^[0-9a-f]{16}$/);
    expect(policyFingerprint(policyFromJson({}), 'riskpipe/hash-ngram-384-v1', 'bank1')).toBe(base);
    // Key order does not matter.
    const reordered = JSON.parse(JSON.stringify(defaultPolicy, Object.keys(defaultPolicy).reverse())) as Policy;
    expect(policyFingerprint({ ...reordered, ...defaultPolicy }, 'riskpipe/hash-ngram-384-v1', 'bank1')).toBe(base);
    const variants = [
      policyFingerprint(policyFromJson({ weights: { threat: 0.9 } }), 'riskpipe/hash-ngram-384-v1', 'bank1'),
      policyFingerprint(policyFromJson({ thresholds: { screening: 0.65 } }), 'riskpipe/hash-ngram-384-v1', 'bank1'),
      policyFingerprint(defaultPolicy, 'intfloat/e5-small-v2', 'bank1'),
      policyFingerprint(defaultPolicy, 'riskpipe/hash-ngram-384-v1', 'bank2'),
    ];
    for (const v of variants) expect(v).not.toBe(base);
    expect(new Set(variants).size).toBe(variants.length);
  });

  it('the default policy is frozen', () => {
    expect(Object.isFrozen(defaultPolicy)).toBe(true);
    expect(Object.isFrozen(defaultPolicy.weights)).toBe(true);
  });
});
