import { describe, expect, it } from 'vitest';
import { RiskPrediction, type Event } from '../../src/models/index.js';
import { compatScreener, originalFields, presentPrediction, toStrictCategories } from '../../src/screen/compat.js';
import type { ScreenFn } from '../../src/screen/worker.js';

/* How a prediction is presented to the original's clients (src/screen/compat.ts); no services. */

const threat: RiskPrediction = {
  event_id: 'e1',
  risk_score: 0.9,
  risk_level: 'HIGH',
  risk_category: 'threat',
  confidence: 0.8,
  flags: ['threat_language'],
  details: {
    signals: {
      threat: { value: 0.9, weight: 1, contribution: 0.6, category: 'threat', evidence: ['kill you'] },
      similarity: { value: 0.5, weight: 0.3, contribution: 0.12, category: 'threat' },
      benign_similarity: { value: 0.1, weight: 0.5, contribution: -0.02, category: 'low_risk' },
      classifier: { value: 0.7, weight: 0.2, contribution: 0.05, category: 'threat' },
    },
    neighbors: [
      { id: 'x1', label: 'threat', similarity: 0.81234, source: 'exemplar', text: 'i will kill you' },
      { id: 'x2', label: 'low_risk', similarity: 0.4, source: 'exemplar' },
    ],
    category_scores: { low_risk: 0.1, threat: 0.9, targeted_harassment: 0.4, toxic: 0.2 },
    thresholds: { screening: 0.7, medium: 0.4, high: 0.7 },
    reason: 'threat: kill you aimed at the reader',
  },
  screening_time_ms: 12.6,
  model_version: 'hash',
  policy_fingerprint: 'fp',
};

describe('originalFields', () => {
  it('adds heuristic_score (the rules alone), embedding_score, similar_events and an integer screening_time_ms', () => {
    const p = originalFields(threat);
    expect(p.screening_time_ms).toBe(13);
    expect(p.details).toMatchObject({
      heuristic_score: 0.75,
      embedding_score: 0.5,
      screening_time_ms_precise: 12.6,
      similar_events: [
        { text: 'i will kill you', score: 0.8123, category: 'threat' },
        { text: '', score: 0.4, category: 'low_risk' },
      ],
    });
    expect(() => RiskPrediction.parse(p)).not.toThrow();
  });
});

describe('toStrictCategories', () => {
  it('reports threat as targeted_harassment everywhere and keeps what riskpipe decided', () => {
    const p = toStrictCategories(originalFields(threat));
    expect(p.risk_category).toBe('targeted_harassment');
    expect(p.details.category_scores).toEqual({ low_risk: 0.1, targeted_harassment: 0.9, toxic: 0.2 });
    expect(p.details.neighbors.map((n) => n.label)).toEqual(['targeted_harassment', 'low_risk']);
    expect((p.details.similar_events as { category: string }[]).map((e) => e.category)).toEqual(['targeted_harassment', 'low_risk']);
    expect(p.details.signals.threat.category).toBe('targeted_harassment');
    expect(p.details.reason).toBe('targeted_harassment: kill you aimed at the reader');
    expect(p.details.riskpipe_category).toBe('threat');
    expect(() => RiskPrediction.parse(p)).not.toThrow();
  });

  it('leaves other categories alone', () => {
    const spam = { ...threat, risk_category: 'spam' as const, details: { ...threat.details, reason: 'spam: link' } };
    expect(toStrictCategories(spam)).toMatchObject({ risk_category: 'spam', details: { reason: 'spam: link', riskpipe_category: 'spam' } });
  });
});

describe('compatScreener', () => {
  it('presents every prediction, feeds the neighbour index riskpipe\'s own, and passes the rest through', async () => {
    const learned: RiskPrediction[] = [];
    const vectors: (Float32Array | undefined)[] = [];
    const inner: ScreenFn & { close(): Promise<void>; closed: boolean } = {
      modelId: 'm',
      dim: 4,
      device: 'cpu',
      fingerprint: 'fp',
      closed: false,
      async screenBatch(items) {
        return items.map(() => threat);
      },
      addEscalated(_e: Event, p: RiskPrediction, vector?: Float32Array) {
        learned.push(p);
        vectors.push(vector);
      },
      async close() {
        this.closed = true;
      },
    };
    const s = compatScreener(inner, { categories: 'strict' });
    expect([s.modelId, s.dim, s.device, s.fingerprint]).toEqual(['m', 4, 'cpu', 'fp']);
    const [p] = await s.screenBatch([{ event: {} as Event }]);
    expect(p).toEqual(presentPrediction(threat, 'strict'));
    const v = new Float32Array([1, 0, 0, 0]);
    (s.addEscalated as (e: Event, p: RiskPrediction, v?: Float32Array) => void)({} as Event, p, v);
    expect(learned).toEqual([threat]);
    expect(vectors[0]).toBe(v);
    await s.close();
    expect(inner.closed).toBe(true);
  });
});
