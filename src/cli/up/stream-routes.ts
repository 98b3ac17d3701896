import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { RiskpipeError } from '../../common/errors.js';
import { makeApiKeyCheck } from '../../common/http.js';
import { GROUPS, STREAMS } from '../../models/index.js';
import { STREAM_IDS, type Bus, type GroupRef, type StreamId } from '../../stream/index.js';

/*
 * The bus over HTTP, for the operator tools of `riskpipe up`: with the in-process bus the
 * streams live inside the process, so `riskpipe tail-stream` (and `top`) read them here instead
 * of from Redis. With Redis behind `up` the same routes answer from Redis.
 *
 *   GET /v1/streams                           every stream's length, groups, lag, pending; dead letters
 *   GET /v1/streams/:stream/entries           ?after=<id>|$&count=<n>&wait_ms=<ms>  (long poll)
 */

export const PIPELINE_GROUPS: GroupRef[] = [
  { stream: 'raw', group: GROUPS.screening },
  { stream: 'reasoning', group: GROUPS.indexing },
];

const Query = z.object({
  after: z.string().regex(/^(\$|\d+-\d+|\d+)$/, { error: 'must be an entry id such as 1732357200000-0, 0-0 (from the start) or $ (new entries only)' }).default('$'),
  count: z.coerce.number().int().min(1).max(10_000).default(100),
  wait_ms: z.coerce.number().int().min(0).max(30_000).default(0),
});

export function streamRoutes(opts: { bus: Bus; apiKeys: string[] }): FastifyPluginAsync {
  const { bus } = opts;
  const byName = new Map<string, StreamId>();
  for (const id of STREAM_IDS) {
    byName.set(id, id);
    byName.set(bus.names[id], id);
    byName.set(STREAMS[id], id);
  }
  const requireKey = makeApiKeyCheck(opts.apiKeys);
  return async (app) => {
    app.get('/v1/streams', { onRequest: requireKey }, async () => {
      const s = await bus.status(PIPELINE_GROUPS);
      return {
        kind: s.kind,
        ready: s.ready,
        detail: s.detail,
        dead_letters: s.deadLetters,
        streams: s.streams.map((st) => ({
          id: st.id,
          name: st.name,
          length: st.length,
          groups: st.groups.map((g) => ({ name: g.name, lag: g.lag, lag_seconds: g.lagSeconds, pending: g.pending, consumers: g.consumerList.map((c) => ({ name: c.name, pending: c.pending, idle_ms: c.idleMs })) })),
        })),
      };
    });

    app.get<{ Params: { stream: string } }>('/v1/streams/:stream/entries', { onRequest: requireKey }, async (req) => {
      const id = byName.get(req.params.stream);
      if (!id) throw new RiskpipeError('RP_ERR_NOT_FOUND', `No stream ${JSON.stringify(req.params.stream)}: use one of ${STREAM_IDS.map((s) => bus.names[s]).join(', ')}`);
      const q = Query.safeParse(req.query);
      if (!q.success) {
        const errors = q.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
        throw new RiskpipeError('RP_ERR_VALIDATION', errors.map((e) => `${e.path}: ${e.message}`).join('; '), { errors });
      }
      let after = q.data.after === '$' ? await bus.lastId(id) : q.data.after.includes('-') ? q.data.after : `${q.data.after}-0`;
      const deadline = Date.now() + q.data.wait_ms;
      let entries = await bus.range(id, { afterId: after, count: q.data.count });
      while (entries.length === 0 && Date.now() < deadline && !req.raw.destroyed) {
        await new Promise((r) => setTimeout(r, 100));
        entries = await bus.range(id, { afterId: after, count: q.data.count });
      }
      if (entries.length > 0) after = entries[entries.length - 1].id;
      return { stream: bus.names[id], entries, last_id: after };
    });
  };
}
