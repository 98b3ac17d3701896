import { z } from 'zod';

export const RISK_LEVELS = ['LOW', 'MEDIUM', 'HIGH'] as const;
export const RiskLevel = z.enum(RISK_LEVELS);
export type RiskLevel = z.infer<typeof RiskLevel>;

export const RISK_CATEGORIES = [
  'low_risk',
  'spam',
  'toxic',
  'targeted_harassment',
  'hate_speech',
  'threat',
  'self_harm',
  'sexual_content',
] as const;
export const RiskCategory = z.enum(RISK_CATEGORIES);
export type RiskCategory = z.infer<typeof RiskCategory>;

/** Flags a verdict can carry; each names the signal that raised it (lower case, but for the original service's `ALL_CAPS_spam`). */
export const RISK_FLAGS = [
  'excessive_caps',
  'repeated_punctuation',
  'repeated_characters',
  'offensive_language',
  'obfuscated_language',
  'targeted_language',
  'mentions',
  'spam_links',
  'url_shortener',
  'promo_pattern',
  'repeated_content',
  'rapid_messages',
  'cross_channel_duplicate',
  'threat_language',
  'self_harm_language',
  'hate_language',
  'sexual_language',
  'harassment_language',
  'low_reputation',
  'new_account',
  'previous_violations',
  'similar_to_known_abuse',
  // The original service's names (issue 10), raised wherever their meaning applies.
  'targeting_behavior',
  'ALL_CAPS_spam',
  'repeated_name_calling',
  'doxxing_attempt',
] as const;
export const RiskFlag = z.enum(RISK_FLAGS);
export type RiskFlag = z.infer<typeof RiskFlag>;

/** One nearest labelled neighbour from the exemplar bank (or a recently escalated event). */
export const Neighbor = z.object({
  id: z.string(),
  label: RiskCategory,
  similarity: z.number(),
  source: z.enum(['exemplar', 'escalated']),
  text: z.string().optional(),
});
export type Neighbor = z.infer<typeof Neighbor>;

/** A signal's raw value and what it added to the score. */
export const SignalContribution = z.object({
  value: z.number(),
  weight: z.number(),
  contribution: z.number(),
  category: RiskCategory.optional(),
  evidence: z.array(z.string()).optional(),
});
export type SignalContribution = z.infer<typeof SignalContribution>;

export const RiskDetails = z
  .object({
    signals: z.record(z.string(), SignalContribution),
    neighbors: z.array(Neighbor),
    category_scores: z.record(z.string(), z.number()),
    thresholds: z.object({ screening: z.number(), medium: z.number(), high: z.number() }),
    reason: z.string(),
  })
  .loose();
export type RiskDetails = z.infer<typeof RiskDetails>;

export const RiskPrediction = z.object({
  event_id: z.string(),
  risk_score: z.number().min(0).max(1),
  risk_level: RiskLevel,
  risk_category: RiskCategory,
  confidence: z.number().min(0).max(1),
  flags: z.array(RiskFlag),
  details: RiskDetails,
  screening_time_ms: z.number().min(0),
  model_version: z.string(),
  policy_fingerprint: z.string(),
});
export type RiskPrediction = z.infer<typeof RiskPrediction>;
