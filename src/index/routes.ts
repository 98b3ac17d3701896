import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { RiskpipeError } from '../common/errors.js';
import { makeApiKeyCheck } from '../common/http.js';
import type { Store } from '../store/index.js';
import type { Bus, DeadLetterInfo } from '../stream/types.js';
import type { SearchService } from './search.js';

export interface IndexRoutesOptions {
  bus: Bus;
  store: Store;
  search: SearchService;
  /** Accepted API keys for search, events and dead letters; empty = authentication off. */
  apiKeys?: string[];
  /** Called with each search's duration in seconds. */
  onSearch?: (seconds: number) => void;
  /** Serve GET /v1/batches/:id. Default true; off where another stage of the process serves it. */
  batchRoute?: boolean;
}

const badRequest = (issues: z.core.$ZodIssue[]) => {
  const errors = issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
  return new RiskpipeError('RP_ERR_VALIDATION', errors.map((e) => (e.path ? `${e.path}: ${e.message}` : e.message)).join('; '), { errors });
};

/** Which dead letters a replay or purge is about: chosen ids, or every one (of a stage). */
const Selection = z
  .object({ ids: z.array(z.string().min(1)).min(1).max(10_000).optional(), stage: z.string().min(1).optional(), all: z.boolean().optional() })
  .strict()
  .refine((s) => s.ids !== undefined || s.all === true || s.stage !== undefined, { error: 'give "ids", or "stage", or "all": true' });

/** The dead-letter entry as the API shows it (snake_case, like the rest of the API). */
export function deadLetterJson(d: DeadLetterInfo) {
  return {
    id: d.id,
    stage: d.stage,
    source_stream: d.sourceStream,
    source_id: d.sourceId,
    event_id: d.eventId,
    batch_id: d.batchId,
    error: d.error,
    error_code: d.code,
    attempts: d.attempts,
    failed_at: d.failedAt,
    age_s: d.ageS,
    fields: d.fields,
  };
}

/**
 * Stage 3's own HTTP routes (the ops plugin serves /health, /ready and the metrics):
 *   POST /v1/search                 semantic search with filters
 *   GET  /v1/events/:id             one stored event with its prediction, incidents and attempts
 *   GET  /v1/batches/:id            an ingest batch's progress
 *   GET  /v1/deadletters            dead-lettered entries (?stage=&limit=), newest first
 *   GET  /v1/deadletters/:id        one of them
 *   POST /v1/deadletters/replay     {"ids"} | {"stage"} | {"all": true} → back to their streams
 *   POST /v1/deadletters/purge      the same selection → deleted
 */
export function indexRoutes(opts: IndexRoutesOptions): FastifyPluginAsync {
  return async (app) => {
    const requireKey = makeApiKeyCheck(opts.apiKeys ?? []);
    const dl = opts.bus.deadLetters;

    app.post('/v1/search', { onRequest: requireKey }, async (req) => {
      const t0 = performance.now();
      const out = await opts.search.search(req.body);
      opts.onSearch?.((performance.now() - t0) / 1000);
      return out;
    });

    app.get<{ Params: { id: string } }>('/v1/events/:id', { onRequest: requireKey }, async (req) => {
      const ev = await opts.store.getEvent(req.params.id);
      if (!ev) throw new RiskpipeError('RP_ERR_NOT_FOUND', `No stored event ${JSON.stringify(req.params.id)} (only escalated events reach the store)`);
      return { ...ev, delivery_attempts: await opts.store.attempts(req.params.id) };
    });

    if (opts.batchRoute !== false) {
      app.get<{ Params: { id: string } }>('/v1/batches/:id', async (req) => {
        const status = await opts.bus.batchStatus(req.params.id);
        if (!status) throw new RiskpipeError('RP_ERR_NOT_FOUND', `No batch ${JSON.stringify(req.params.id)} (unknown, or its counters expired)`);
        return status;
      });
    }

    app.get<{ Querystring: { stage?: string; limit?: string } }>('/v1/deadletters', { onRequest: requireKey }, async (req) => {
      const q = z.object({ stage: z.string().min(1).optional(), limit: z.coerce.number().int().min(1).max(10_000).default(100) }).safeParse(req.query);
      if (!q.success) throw badRequest(q.error.issues);
      const entries = await dl.list({ stage: q.data.stage, limit: q.data.limit });
      return { total: await dl.count(), entries: entries.map(deadLetterJson) };
    });

    app.get<{ Params: { id: string } }>('/v1/deadletters/:id', { onRequest: requireKey }, async (req) => {
      const d = await dl.get(req.params.id);
      if (!d) throw new RiskpipeError('RP_ERR_NOT_FOUND', `No dead-letter entry ${JSON.stringify(req.params.id)}`);
      return deadLetterJson(d);
    });

    /** The ids a selection names: the given ones, or every dead letter (of the stage). */
    const select = async (body: unknown): Promise<string[]> => {
      const s = Selection.safeParse(body ?? {});
      if (!s.success) throw badRequest(s.error.issues);
      if (s.data.ids) return s.data.ids;
      const all = await dl.list({ stage: s.data.stage, limit: 1_000_000 });
      return all.map((d) => d.id);
    };

    app.post('/v1/deadletters/replay', { onRequest: requireKey }, async (req) => {
      const ids = await select(req.body);
      const r = ids.length > 0 ? await dl.replay(ids) : { replayed: [], missing: [] };
      return { replayed: r.replayed.map((x) => ({ id: x.id, new_id: x.newId, stream: opts.bus.names[x.stream] })), missing: r.missing };
    });

    app.post('/v1/deadletters/purge', { onRequest: requireKey }, async (req) => {
      const ids = await select(req.body);
      return { purged: ids.length > 0 ? await dl.purge(ids) : 0 };
    });
  };
}
