import type { Event, Neighbor, RiskCategory } from '../models/index.js';

export type { Embedder } from '../embed/types.js';
export type { VectorIndex, VectorMeta } from '../vector/types.js';

/** Author behaviour read from Redis by the worker (src/screen/author.ts). */
export interface AuthorStats {
  /** Messages by this author within `windowS`, this one included. */
  messagesInWindow: number;
  windowS: number;
  /** Distinct channels where this exact content was posted by this author within the window, this one included. */
  sameContentChannels: number;
}

/** Everything the fusion needs to score one event. */
export interface ScreeningInput {
  event: Event;
  author?: AuthorStats;
  neighbors?: Neighbor[];
}
