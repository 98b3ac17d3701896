import type { RiskCategory, RiskFlag } from '../../models/index.js';

/** What every signal returns: a value in 0..1, the category it speaks for, flags and short reasons. */
export interface SignalResult {
  value: number;
  category?: RiskCategory;
  flags: RiskFlag[];
  /** Short human-readable reasons, e.g. `threat phrase "i know where you live"`; never the whole message. */
  evidence: string[];
  /** The value before benign context dampened it (phrase signals only). */
  raw?: number;
}

/** How strongly each kind of benign context cancels a matched rule (policy.dampening), 0..1 each. */
export interface Dampening {
  gaming: number;
  joking: number;
  quote: number;
  report: number;
  news: number;
  hyperbole: number;
  support: number;
  negation: number;
}

export const CONTEXT_KINDS = ['gaming', 'joking', 'quote', 'report', 'news', 'hyperbole', 'support'] as const;
export type ContextKind = (typeof CONTEXT_KINDS)[number];

/** Benign context found in a message, each 0..1 (see signals/context.ts). */
export type ContextMarkers = Record<ContextKind, number> & { evidence: string[] };
