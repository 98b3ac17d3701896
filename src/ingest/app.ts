import { batchRoute } from '../common/batch-route.js';
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { Tracing } from '../common/trace.js';
import { RiskpipeError } from '../common/errors.js';
import { makeApiKeyCheck, warnAboutWeakApiKeys } from '../common/http.js';
import type { HttpTimeouts } from '../common/http-hardening.js';
import type { InputLimits } from '../common/limits.js';
import { silentLogger, type Logger } from '../common/logger.js';
import type { Registry } from 'prom-client';
import type { Stage, StageStatus } from '../common/stage.js';
import type { BatchItemResult, BatchResponse, Event, FieldError, IngestResponse } from '../models/index.js';
import { buildStagesApp } from '../common/stages-app.js';
import type { Bus } from '../stream/index.js';
import { createIngestMetrics } from './metrics.js';
import { openApiInfo, routeSchemas } from './openapi.js';
import { IngestPipeline, type Checked, type IngestOutcome } from './pipeline.js';

export interface IngestConfig {
  /** Accepted API keys; empty turns authentication off. */
  apiKeys?: string[];
  /** Default 100000. */
  maxQueueDepth?: number;
  /** Default 3600. */
  dedupWindowS?: number;
  /** Most events in one batch request. Default 500. */
  maxBatchSize?: number;
  /** Seconds a client is told to wait on 503. Default 5. */
  retryAfterS?: number;
  /** JSON depth and metadata size limits (src/common/limits.ts has the defaults). */
  limits?: Partial<InputLimits>;
  /** Serve GET /v1/batches/:id (the batch counters). Default true; off where another stage of the process serves it. */
  batchRoute?: boolean;
}

export interface IngestDeps {
  /** A producer bus: it fails fast while it cannot reach its store. */
  bus: Bus;
  log?: Logger;
  /** Spans per event (src/ops/tracing.ts); default off. */
  tracing?: Tracing;
  /** Where the stage's metrics go (one process, several stages: one registry). Default its own. */
  registry?: Registry;
}

export interface IngestAppOptions extends IngestConfig, IngestDeps {
  /** Largest request body. Default 16 MiB (a full batch of long messages fits). */
  bodyLimitBytes?: number;
  /** Request, headers and keep-alive timeouts (src/common/http-hardening.ts has the defaults). */
  timeouts?: Partial<HttpTimeouts>;
}

function rejectionReason(errors: FieldError[]): string {
  const first = errors[0];
  if (!first) return 'invalid';
  if (first.message === 'Missing required field') return 'missing_fields';
  return `invalid_${(first.path.split('.')[0] || 'body').replace(/[^a-z_]/g, '')}`;
}

/**
 * The ingest stage: its routes (POST /v1/events/ingest, /v1/events/ingest-batch, the OpenAPI
 * document) and its status for the ops plugin. The steps are in pipeline.ts. The caller owns
 * the bus.
 */
export function createIngestStage(deps: IngestDeps, cfg: IngestConfig = {}): Stage {
  const log = (deps.log ?? silentLogger).child({ component: 'ingest' });
  const bus = deps.bus;
  const maxBatchSize = cfg.maxBatchSize ?? 500;
  const retryAfterS = cfg.retryAfterS ?? 5;
  const pipeline = new IngestPipeline({ bus, maxQueueDepth: cfg.maxQueueDepth, dedupWindowS: cfg.dedupWindowS, limits: cfg.limits, tracing: deps.tracing });
  const metrics = createIngestMetrics(() => pipeline.depth(), deps.registry);
  const requireKey = makeApiKeyCheck(cfg.apiKeys ?? []);
  warnAboutWeakApiKeys(cfg.apiKeys ?? [], log);
  const stream = bus.names.raw;

  // A refused append: counted per event, told when to retry; rethrown for the error handler.
  const refused = (err: unknown, valid: number): never => {
    if (err instanceof RiskpipeError && err.code === 'RP_ERR_QUEUE_FULL') {
      metrics.rejected.inc({ reason: 'queue_full' }, valid);
      err.headers!['retry-after'] = String(retryAfterS);
    } else if (err instanceof RiskpipeError && (err.code === 'RP_ERR_REDIS_UNAVAILABLE' || err.code === 'RP_ERR_REDIS_REFUSED')) {
      metrics.rejected.inc({ reason: err.code === 'RP_ERR_REDIS_REFUSED' ? 'redis_refused' : 'redis_unavailable' }, valid);
      err.headers!['retry-after'] = String(retryAfterS);
    }
    throw err;
  };
  const enqueue = async (checked: Checked[], batchId: string, traceparent: string | string[] | undefined, batchTotal?: number) => {
    try {
      return await pipeline.append(checked, batchId, traceparent, batchTotal);
    } catch (err) {
      return refused(err, checked.filter((c) => c.event).length);
    }
  };
  const enqueueOne = async (checked: Checked, traceparent: string | string[] | undefined) => {
    try {
      return await pipeline.appendOne(checked, randomUUID(), traceparent);
    } catch (err) {
      return refused(err, 1);
    }
  };

  // Labelled children are looked up once, and each is incremented once per request with its
  // count: prom-client hashes the label object on every inc(), even through labels().
  // Each is counted under riskpipe's name and the original service's (its dashboards query those).
  const receivedBy = new Map<string, { inc(n: number): void }>();
  const received = (e: Event) => {
    const k = `${e.platform}|${e.event_type}`;
    let c = receivedBy.get(k);
    if (!c) {
      const ours = metrics.received.labels({ platform: e.platform, event_type: e.event_type });
      const original = metrics.originalReceived.labels({ platform: e.platform, event_type: e.event_type });
      receivedBy.set(k, (c = { inc: (n: number) => (ours.inc(n), original.inc(n)) }));
    }
    return c;
  };
  const duplicateBy = { event_id: metrics.duplicates.labels({ match: 'event_id' }), content: metrics.duplicates.labels({ match: 'content' }) };
  const latencyIngestS = metrics.latency.labels({ endpoint: 'ingest' });
  const latencyBatchS = metrics.latency.labels({ endpoint: 'ingest_batch' });
  const latencyIngest = { observe: (s: number) => (latencyIngestS.observe(s), metrics.originalLatencyMs.observe(s * 1000)) };
  const latencyBatch = { observe: (s: number) => (latencyBatchS.observe(s), metrics.originalLatencyMs.observe(s * 1000)) };

  const countOutcomes = (events: Event[], outcomes: IngestOutcome[]) => {
    let queued = 0;
    let byId = 0;
    let byContent = 0;
    // Runs of the same platform and event type (a batch is usually one or a few) are counted together.
    let run = 0;
    for (let i = 0; i < events.length; i++) {
      const o = outcomes[i];
      if (o.status === 'queued') queued++;
      else if (o.duplicateOf === 'event_id') byId++;
      else byContent++;
      run++;
      const next = events[i + 1];
      if (!next || next.platform !== events[i].platform || next.event_type !== events[i].event_type) {
        received(events[i]).inc(run);
        run = 0;
      }
    }
    if (queued > 0) metrics.queued.inc(queued);
    if (byId > 0) duplicateBy.event_id.inc(byId);
    if (byContent > 0) duplicateBy.content.inc(byContent);
  };

  const routes: FastifyPluginAsync = async (app) => {
    if (cfg.batchRoute !== false) await app.register(batchRoute(bus));
    app.post('/v1/events/ingest', { schema: routeSchemas.ingest, onRequest: requireKey }, async (req): Promise<IngestResponse> => {
      const started = performance.now();
      const [checked] = pipeline.validate([req.body]);
      if (!checked.event) {
        metrics.rejected.inc({ reason: rejectionReason(checked.errors!) });
        throw new RiskpipeError(checked.code ?? 'RP_ERR_VALIDATION', checked.detail!, { errors: checked.errors });
      }
      const event = checked.event;
      const outcome = await enqueueOne(checked, req.headers.traceparent);
      countOutcomes([event], [outcome]);
      const ms = performance.now() - started;
      latencyIngest.observe(ms / 1000);
      return outcome.status === 'queued'
        ? { event_id: event.event_id, status: 'queued', stream_id: outcome.id, position: outcome.id, ingestion_time_ms: round(ms) }
        : { event_id: event.event_id, status: 'duplicate', stream_id: null, position: null, duplicate_of: outcome.duplicateOf, ingestion_time_ms: round(ms) };
    });

    app.post('/v1/events/ingest-batch', { schema: routeSchemas.ingestBatch, onRequest: requireKey }, async (req): Promise<BatchResponse> => {
      const started = performance.now();
      const body = req.body as unknown;
      const rawEvents = Array.isArray(body) ? body : body && typeof body === 'object' ? (body as { events?: unknown }).events : undefined;
      if (!Array.isArray(rawEvents)) {
        metrics.rejected.inc({ reason: 'invalid_batch' });
        throw new RiskpipeError('RP_ERR_VALIDATION', 'Batch body must be {"events": [...]}', {
          errors: [{ path: 'events', message: rawEvents === undefined ? 'Missing required field' : 'events must be an array' }],
        });
      }
      // An empty list is a batch of nothing, as the original service answered it.
      if (rawEvents.length === 0) {
        return { batch_id: randomUUID(), total: 0, queued: 0, duplicates: 0, errors: 0, results: [], batch_time_ms: round(performance.now() - started) };
      }
      if (rawEvents.length > maxBatchSize) {
        metrics.rejected.inc({ reason: 'batch_too_large' });
        throw new RiskpipeError('RP_ERR_BATCH_TOO_LARGE', `Too many events in batch: ${rawEvents.length} (max: ${maxBatchSize})`, {
          errors: [{ path: 'events', message: `at most ${maxBatchSize} events per batch` }],
        });
      }
      const batchId = randomUUID();
      const checked = pipeline.validate(rawEvents, (index) => `events.${index}`);
      for (const c of checked) if (!c.event) metrics.rejected.inc({ reason: rejectionReason(c.errors!.map((e) => ({ ...e, path: e.path.replace(/^events\.\d+\.?/, '') }))) });
      const outcomes = await enqueue(checked, batchId, req.headers.traceparent, rawEvents.length);
      const itemMs = round(performance.now() - started);
      const validEvents = checked.filter((c) => c.event).map((c) => c.event!);
      countOutcomes(validEvents, outcomes);
      let k = 0;
      let queued = 0;
      let duplicates = 0;
      let errors = 0;
      const results: BatchItemResult[] = checked.map((c) => {
        if (!c.event) {
          errors++;
          return { index: c.index, event_id: c.eventId, status: 'rejected', status_code: 400, detail: c.detail, error: c.detail, errors: c.errors };
        }
        const o = outcomes[k++];
        if (o.status === 'queued') {
          queued++;
          return { index: c.index, event_id: c.eventId, status: 'queued', stream_id: o.id, position: o.id, ingestion_time_ms: itemMs };
        }
        duplicates++;
        return { index: c.index, event_id: c.eventId, status: 'duplicate', stream_id: null, position: null, duplicate_of: o.duplicateOf, ingestion_time_ms: itemMs };
      });
      const ms = performance.now() - started;
      latencyBatch.observe(ms / 1000);
      return { batch_id: batchId, total: rawEvents.length, queued, duplicates, errors, results, batch_time_ms: round(ms) };
    });
  };

  const count = async (name: string) => {
    const m = await metrics.registry.getSingleMetric(name)?.get();
    return (m?.values ?? []).reduce((s, v) => s + v.value, 0);
  };

  return {
    name: 'ingest',
    registry: metrics.registry,
    routes,
    async start() {},
    async close() {},
    async status(): Promise<StageStatus> {
      const r = await bus.ready();
      // queue_depth is the stream's length, as the original service reported it; backpressure
      // counts the unconsumed part (queue_lag).
      let depth: number | null = null;
      let length: number | null = null;
      let redis = r.ok ? 'ok' : r.detail;
      if (r.ok) {
        try {
          [depth, length] = await Promise.all([pipeline.depth(), bus.length('raw')]);
        } catch (err) {
          redis = `unavailable: ${(err as Error).message}`;
        }
      }
      return {
        ready: r.ok,
        problems: r.ok ? [] : ['redis'],
        health: { status: 'ok', service: 'event-ingestion', timestamp: new Date().toISOString() },
        readiness: r.ok
          ? // "redis" as the original services named it; on the in-process bus (riskpipe up) it says so.
            { status: 'ready', redis: bus.kind === 'memory' ? 'not used: in-process bus' : 'ok', bus: bus.kind, stream, max_queue_depth: pipeline.maxQueueDepth }
          : { status: 'not_ready', detail: `Not ready: Redis is ${r.detail}`, redis: r.detail, stream, max_queue_depth: pipeline.maxQueueDepth },
        metrics: {
          service: 'event-ingestion',
          queue_depth: length,
          queue_lag: depth,
          max_queue_depth: pipeline.maxQueueDepth,
          backpressure_threshold: pipeline.maxQueueDepth,
          backpressure_enabled: true,
          queue_capacity_percent: depth === null ? null : Math.round((depth / pipeline.maxQueueDepth) * 1_000_000) / 10_000,
          dedup_window_seconds: pipeline.dedupWindowS,
          max_batch_size: maxBatchSize,
          stream,
          redis,
          events_received: await count('riskpipe_ingest_events_received_total'),
          events_queued: await count('riskpipe_ingest_events_queued_total'),
          duplicates: await count('riskpipe_ingest_duplicates_total'),
          rejected: await count('riskpipe_ingest_rejected_total'),
        },
      };
    },
  };
}

/**
 * The ingest HTTP app (the stage + /health, /ready, /metrics, the OpenAPI document), built
 * without listening so that tests can `inject()` into it. The caller owns the bus and closes it
 * after `app.close()`.
 */
export async function buildIngestApp(opts: IngestAppOptions): Promise<FastifyInstance> {
  const stage = createIngestStage({ bus: opts.bus, log: opts.log, tracing: opts.tracing }, opts);
  return buildStagesApp({
    stages: [stage],
    log: opts.log,
    bodyLimitBytes: opts.bodyLimitBytes,
    timeouts: opts.timeouts,
    limits: opts.limits,
    retryAfterS: opts.retryAfterS,
    openapi: openApiInfo,
    schemas: { '/health': routeSchemas.health, '/ready': routeSchemas.ready, '/v1/metrics': routeSchemas.metricsJson },
  });
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
