import { randomBytes } from 'node:crypto';
import type { Event, RiskPrediction } from '../../src/models/index.js';

/** A realistic escalated event and its prediction, for stage-3 tests. */
export function escalated(
  id: string,
  over: { content?: string; platform?: Event['platform']; category?: RiskPrediction['risk_category']; level?: RiskPrediction['risk_level']; score?: number; created_at?: string; evidence?: string[] } = {},
): { event: Event; prediction: RiskPrediction } {
  const content = over.content ?? `you better watch your back, I know where you live ${id}`;
  const category = over.category ?? 'threat';
  const event: Event = {
    event_id: id,
    event_type: 'message_created',
    platform: over.platform ?? 'discord',
    channel_id: 'general',
    user_id: 'u-1',
    author_id: 'author-1',
    content,
    created_at: over.created_at ?? '2026-11-30T12:00:00.000Z',
    metadata: { user_reputation: 0.2, account_age_days: 3 },
  };
  const prediction: RiskPrediction = {
    event_id: id,
    risk_score: over.score ?? 0.91,
    risk_level: over.level ?? 'HIGH',
    risk_category: category,
    confidence: 0.8,
    flags: category === 'spam' ? ['spam_links', 'promo_pattern'] : ['threat_language', 'targeted_language'],
    details: {
      signals: {
        [category]: { value: 0.9, weight: 1, contribution: 0.6, category, evidence: over.evidence ?? [content.split(' ').slice(0, 4).join(' ')] },
      },
      neighbors: [],
      category_scores: { [category]: 0.9 },
      thresholds: { screening: 0.7, medium: 0.5, high: 0.8 },
      reason: `${category} language aimed at the reader`,
    },
    screening_time_ms: 1.2,
    model_version: 'riskpipe/hash-ngram-384-v1',
    policy_fingerprint: 'fp-test-1',
  };
  return { event, prediction };
}

export function uniqueSchema(name: string): string {
  return `rptest_${name.replace(/[^a-z0-9_]/g, '_')}_${randomBytes(4).toString('hex')}`;
}

export const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
