import { createHash } from 'node:crypto';

/*
 * The index of stored events that `riskpipe search` asks (stage 3). Unlike VectorIndex (types.ts:
 * the screener's in-process kNN over labelled exemplars), it holds each event's payload for
 * filtering, survives restarts, and has two backends behind this one interface:
 *   - embedded (disk-index.ts): exact search over vectors kept in memory and on disk; the default.
 *   - qdrant (qdrant.ts): a Qdrant collection through @qdrant/js-client-rest.
 * test/unit/event-index.test.ts runs one conformance suite against both.
 */

/** What an indexed event carries next to its vector; the filter fields and what a hit shows. */
export interface EventPayload {
  event_id: string;
  platform: string;
  channel_id: string | null;
  author_id: string;
  risk_category: string;
  risk_level: string;
  risk_score: number;
  flags: string[];
  /** ISO 8601, UTC. */
  created_at: string;
  content: string;
}

export interface EventDoc {
  vector: Float32Array;
  payload: EventPayload;
}

/** Every given field must match; a list matches any of its values. */
export interface EventFilter {
  platform?: string | string[];
  risk_category?: string | string[];
  risk_level?: string | string[];
  channel_id?: string;
  author_id?: string;
  /** created_at at or after this ISO 8601 instant. */
  since?: string;
  /** created_at before this ISO 8601 instant. */
  until?: string;
}

export interface EventHit {
  event_id: string;
  /** Cosine similarity, higher is closer. */
  score: number;
  payload: EventPayload;
}

export interface EventIndex {
  readonly kind: 'embedded' | 'qdrant';
  readonly dim: number;
  /** Where it lives, for logs and /health: a directory or a URL + collection. */
  readonly location: string;
  /**
   * Loads the files / checks or creates the collection. `created` is true when nothing existed
   * before (the caller may then rebuild it from the store). Throws a permanent RiskpipeError when
   * what exists has another dimension.
   */
  open(): Promise<{ created: boolean }>;
  /** Inserts or replaces by event_id: the same event upserted twice is one point. */
  upsert(docs: EventDoc[]): Promise<void>;
  remove(eventIds: string[]): Promise<void>;
  /** Nearest first, at most k, only points matching the filter. */
  search(vector: Float32Array, opts: { k: number; filter?: EventFilter }): Promise<EventHit[]>;
  count(): Promise<number>;
  /** Throws when the backend cannot be reached (for /health). */
  ping(): Promise<void>;
  /** Idempotent. */
  close(): Promise<void>;
}

/**
 * A point id from an event id: Qdrant wants an unsigned integer or a UUID, so this is the
 * SHA-256 of the event id formatted as a UUID (version 5 / RFC 4122 variant bits set). The same
 * event always maps to the same point, so a retry replaces instead of duplicating.
 */
export function pointId(eventId: string): string {
  const h = createHash('sha256').update(eventId).digest();
  h[6] = (h[6] & 0x0f) | 0x50;
  h[8] = (h[8] & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

/** A unit-length copy (zero stays zero), so a dot product is the cosine similarity. */
export function normalized(v: Float32Array): Float32Array {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
  const out = new Float32Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = v[i] * inv;
  return out;
}
