import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { RiskpipeError } from '../common/errors.js';
import { makeApiKeyCheck } from '../common/http.js';
import { silentLogger, type Logger } from '../common/logger.js';
import type { Registry } from 'prom-client';
import type { Stage, StageStatus } from '../common/stage.js';
import type { BatchItemResult, BatchResponse, Event, FieldError, IngestResponse } from '../models/index.js';
import { buildStagesApp } from '../common/stages-app.js';
import type { Bus } from '../stream/index.js';
import { createIngestMetrics } from './metrics.js';
import { openApiInfo, routeSchemas } from './openapi.js';
import { IngestPipeline, type Checked } from './pipeline.js';

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
}

export interface IngestDeps {
  /** A producer bus: it fails fast while it cannot reach its store. */
  bus: Bus;
  log?: Logger;
  /** Where the stage's metrics go (one process, several stages: one registry). Default its own. */
  registry?: Registry;
}

export interface IngestAppOptions extends IngestConfig, IngestDeps {
  /** Largest request body. Default 16 MiB (a full batch of long messages fits). */
  bodyLimitBytes?: number;
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
  const pipeline = new IngestPipeline({ bus, maxQueueDepth: cfg.maxQueueDepth, dedupWindowS: cfg.dedupWindowS });
  const metrics = createIngestMetrics(() => pipeline.depth(), deps.registry);
  const requireKey = makeApiKeyCheck(cfg.apiKeys ?? []);
  const stream = bus.names.raw;

  const enqueue = async (checked: Checked[], batchId: string, traceparent: string | string[] | undefined, batchTotal?: number) => {
    const valid = checked.filter((c) => c.event);
    try {
      return await pipeline.append(checked, batchId, traceparent, batchTotal);
    } catch (err) {
      if (err instanceof RiskpipeError && err.code === 'RP_ERR_QUEUE_FULL') {
        metrics.rejected.inc({ reason: 'queue_full' }, valid.length);
        err.headers!['retry-after'] = String(retryAfterS);
      } else if (err instanceof RiskpipeError && err.code === 'RP_ERR_REDIS_UNAVAILABLE') {
        metrics.rejected.inc({ reason: 'redis_unavailable' }, valid.length);
        err.headers!['retry-after'] = String(retryAfterS);
      }
      throw err;
    }
  };

  // Labelled children are looked up once: prom-client hashes the label object on every call.
  const receivedBy = new Map<string, ReturnType<typeof metrics.received.labels>>();
  const received = (e: Event) => {
    const k = `${e.platform}|${e.event_type}`;
    let c = receivedBy.get(k);
    if (!c) receivedBy.set(k, (c = metrics.received.labels({ platform: e.platform, event_type: e.event_type })));
    return c;
  };
  const latencyIngest = metrics.latency.labels({ endpoint: 'ingest' });
  const latencyBatch = metrics.latency.labels({ endpoint: 'ingest_batch' });

  const countOutcomes = (events: Event[], outcomes: Awaited<ReturnType<typeof enqueue>>) => {
    let q = 0;
    outcomes.forEach((o, i) => {
      received(events[i]).inc();
      if (o.status === 'queued') q++;
      else metrics.duplicates.inc({ match: o.duplicateOf });
    });
    if (q > 0) metrics.queued.inc(q);
  };

  const routes: FastifyPluginAsync = async (app) => {
    app.post('/v1/events/ingest', { schema: routeSchemas.ingest, onRequest: requireKey }, async (req): Promise<IngestResponse> => {
      const started = performance.now();
      const [checked] = pipeline.validate([req.body]);
      if (!checked.event) {
        metrics.rejected.inc({ reason: rejectionReason(checked.errors!) });
        throw new RiskpipeError('RP_ERR_VALIDATION', checked.detail!, { errors: checked.errors });
      }
      const event = checked.event;
      const [outcome] = await enqueue([checked], randomUUID(), req.headers.traceparent);
      countOutcomes([event], [outcome]);
      const ms = performance.now() - started;
      latencyIngest.observe(ms / 1000);
      return outcome.status === 'queued'
        ? { event_id: event.event_id, status: 'queued', stream_id: outcome.id, ingestion_time_ms: round(ms) }
        : { event_id: event.event_id, status: 'duplicate', stream_id: null, duplicate_of: outcome.duplicateOf, ingestion_time_ms: round(ms) };
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
      if (rawEvents.length === 0) {
        metrics.rejected.inc({ reason: 'empty_batch' });
        throw new RiskpipeError('RP_ERR_VALIDATION', 'Batch is empty: send 1 to ' + maxBatchSize + ' events', {
          errors: [{ path: 'events', message: 'must contain at least 1 event' }],
        });
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
      const validEvents = checked.filter((c) => c.event).map((c) => c.event!);
      countOutcomes(validEvents, outcomes);
      let k = 0;
      let queued = 0;
      let duplicates = 0;
      let errors = 0;
      const results: BatchItemResult[] = checked.map((c) => {
        if (!c.event) {
          errors++;
          return { index: c.index, event_id: c.eventId, status: 'rejected', error: c.detail, errors: c.errors };
        }
        const o = outcomes[k++];
        if (o.status === 'queued') {
          queued++;
          return { index: c.index, event_id: c.eventId, status: 'queued', stream_id: o.id };
        }
        duplicates++;
        return { index: c.index, event_id: c.eventId, status: 'duplicate', stream_id: null, duplicate_of: o.duplicateOf };
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
      let depth: number | null = null;
      let redis = r.ok ? 'ok' : r.detail;
      if (r.ok) {
        try {
          depth = await pipeline.depth();
        } catch (err) {
          redis = `unavailable: ${(err as Error).message}`;
        }
      }
      return {
        ready: r.ok,
        problems: r.ok ? [] : ['redis'],
        health: { status: 'ok', service: 'event-ingestion' },
        readiness: r.ok ? { status: 'ready', redis: 'ok', stream } : { status: 'not_ready', redis: r.detail, stream },
        metrics: {
          queue_depth: depth,
          max_queue_depth: pipeline.maxQueueDepth,
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
  const stage = createIngestStage({ bus: opts.bus, log: opts.log }, opts);
  return buildStagesApp({
    stages: [stage],
    log: opts.log,
    bodyLimitBytes: opts.bodyLimitBytes,
    retryAfterS: opts.retryAfterS,
    openapi: openApiInfo,
    schemas: { '/health': routeSchemas.health, '/ready': routeSchemas.ready, '/v1/metrics': routeSchemas.metricsJson },
  });
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
