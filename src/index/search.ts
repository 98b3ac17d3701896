import { z } from 'zod';
import { RiskpipeError } from '../common/errors.js';
import type { Embedder } from '../embed/types.js';
import { PLATFORMS, RISK_CATEGORIES, RISK_LEVELS, type Incident } from '../models/index.js';
import type { SearchRow, Store } from '../store/index.js';
import type { EventFilter, EventIndex } from '../vector/event-index.js';

/*
 * Semantic search over indexed events: embed the query, ask the event index (embedded or Qdrant,
 * filters applied there), join the hits with the store. Only events the store calls `indexed` are
 * answered, so a half-finished attempt's vector is never shown.
 */

/** `--since` / `filters.since`: an ISO 8601 date or date-time, or a duration back from now ("30m", "24h", "7d", "2w"). */
export function parseSince(s: string, now = Date.now()): string {
  const rel = /^(\d+(?:\.\d+)?)\s*(s|m|h|d|w)$/i.exec(s.trim());
  if (rel) {
    const unit = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 604800e3 }[rel[2].toLowerCase() as 's' | 'm' | 'h' | 'd' | 'w'];
    return new Date(now - Number(rel[1]) * unit).toISOString();
  }
  const t = Date.parse(s);
  if (Number.isNaN(t)) throw new Error(`must be an ISO 8601 date (2026-11-30, 2026-11-30T12:00:00Z) or a duration such as 30m, 24h, 7d (got ${JSON.stringify(s)})`);
  return new Date(t).toISOString();
}

const oneOrMany = <T extends readonly [string, ...string[]]>(values: T, upper = false) => {
  const one = z.preprocess((v) => (typeof v === 'string' ? (upper ? v.trim().toUpperCase() : v.trim().toLowerCase()) : v), z.enum(values));
  return z.union([one, z.array(one).min(1)]);
};

const since = z.string().transform((s, ctx) => {
  try {
    return parseSince(s);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return z.NEVER;
  }
});

export const SearchFilters = z
  .object({
    platform: oneOrMany(PLATFORMS),
    category: oneOrMany(RISK_CATEGORIES),
    level: oneOrMany(RISK_LEVELS, true),
    channel_id: z.string().min(1),
    author_id: z.string().min(1),
    since,
    until: since,
  })
  .partial()
  .strict();

export const SearchRequest = z
  .object({
    query: z.string().trim().min(1, { error: 'query must not be empty' }).max(2000),
    k: z.coerce.number().int().min(1).max(100).default(10),
    filters: SearchFilters.default({}),
  })
  .strict();
export type SearchRequest = z.input<typeof SearchRequest>;

/** A stored event joined with the vector index's similarity. */
export interface SearchResult extends SearchRow {
  score: number;
}

export interface SearchResponse {
  query: string;
  k: number;
  results: SearchResult[];
  took_ms: number;
  index: string;
}

export class SearchService {
  constructor(
    private readonly embedder: Embedder,
    private readonly index: EventIndex,
    private readonly store: Store,
  ) {}

  /** Validates a request body (throws RP_ERR_VALIDATION with every problem) and searches. */
  async search(body: unknown): Promise<SearchResponse> {
    const parsed = SearchRequest.safeParse(body ?? {});
    if (!parsed.success) {
      const errors = parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
      throw new RiskpipeError('RP_ERR_VALIDATION', errors.map((e) => (e.path ? `${e.path}: ${e.message}` : e.message)).join('; '), { errors });
    }
    const t0 = performance.now();
    const { query, k, filters } = parsed.data;
    const filter: EventFilter = {
      platform: filters.platform,
      risk_category: filters.category,
      risk_level: filters.level,
      channel_id: filters.channel_id,
      author_id: filters.author_id,
      since: filters.since,
      until: filters.until,
    };
    const [vector] = await this.embedder.embed([query]);
    // A few more than asked: hits of events that are not (or no longer) indexed are dropped below.
    const hits = await this.index.search(vector, { k: k + Math.min(20, k), filter });
    const rows = await this.store.searchRows(hits.map((h) => h.event_id));
    const results: SearchResult[] = [];
    for (const h of hits) {
      const r = rows.get(h.event_id);
      if (!r) continue;
      results.push({ ...r, event_id: h.event_id, score: Math.round(h.score * 10_000) / 10_000 });
      if (results.length === k) break;
    }
    return { query, k, results, took_ms: Math.round((performance.now() - t0) * 100) / 100, index: this.index.kind };
  }
}
