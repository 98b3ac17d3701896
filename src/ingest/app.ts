import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { Redis } from 'ioredis';
import { RiskpipeError } from '../common/errors.js';
import { closeConnectionsOnShutdown, installErrorHandling, makeApiKeyCheck, warnAboutWeakApiKeys } from '../common/http.js';
import { silentLogger, type Logger } from '../common/logger.js';
import { traceparentFor } from '../common/trace.js';
import { parseEvent, type BatchItemResult, type BatchResponse, type Event, type FieldError, type IngestResponse } from '../models/index.js';
import { createIngestMetrics } from './metrics.js';
import { IngestQueue } from './queue.js';
import { openApiInfo, routeSchemas } from './openapi.js';

export interface IngestAppOptions {
  redis: Redis;
  /** The raw stream's full name, prefix included. */
  stream: string;
  /** Put before dedup keys. Default "". */
  prefix?: string;
  /** Accepted API keys; empty turns authentication off. */
  apiKeys?: string[];
  /** Default 100000. */
  maxQueueDepth?: number;
  /** Default 3600. */
  dedupWindowS?: number;
  /** Most events in one batch request. Default 500. */
  maxBatchSize?: number;
  /** Largest request body. Default 16 MiB (a full batch of long messages fits). */
  bodyLimitBytes?: number;
  /** Seconds a client is told to wait on 503. Default 5. */
  retryAfterS?: number;
  log?: Logger;
}

/** Where a batch of client events is split into the ones to queue and the ones to report. */
interface Checked {
  index: number;
  event?: Event;
  eventId: string | null;
  detail?: string;
  errors?: FieldError[];
}

function rejectionReason(errors: FieldError[]): string {
  const first = errors[0];
  if (!first) return 'invalid';
  if (first.message === 'Missing required field') return 'missing_fields';
  return `invalid_${(first.path.split('.')[0] || 'body').replace(/[^a-z_]/g, '')}`;
}

function clientEventId(raw: unknown): string | null {
  if (raw && typeof raw === 'object' && typeof (raw as { event_id?: unknown }).event_id === 'string') return (raw as { event_id: string }).event_id;
  return null;
}

/**
 * The ingest HTTP app, built without listening so that tests can `inject()` into it. The caller
 * owns `redis` and closes it after `app.close()`.
 */
export async function buildIngestApp(opts: IngestAppOptions): Promise<FastifyInstance> {
  const log = (opts.log ?? silentLogger).child({ component: 'ingest' });
  const maxBatchSize = opts.maxBatchSize ?? 500;
  const retryAfterS = opts.retryAfterS ?? 5;
  const queue = new IngestQueue(opts.redis, {
    stream: opts.stream,
    prefix: opts.prefix,
    maxQueueDepth: opts.maxQueueDepth,
    dedupWindowS: opts.dedupWindowS,
  });
  const metrics = createIngestMetrics(() => queue.depth());
  const requireKey = makeApiKeyCheck(opts.apiKeys ?? []);
  warnAboutWeakApiKeys(opts.apiKeys ?? [], log);

  const app = Fastify({
    logger: false,
    bodyLimit: opts.bodyLimitBytes ?? 16 * 1024 * 1024,
    return503OnClosing: false,
    forceCloseConnections: 'idle',
  });
  installErrorHandling(app, log);
  closeConnectionsOnShutdown(app);
  // JSON only: without this Fastify would hand text/plain bodies to the routes as strings.
  app.removeContentTypeParser(['text/plain']);
  // Bodies are checked by the zod models (one source of truth); the route schemas only document.
  app.setValidatorCompiler(() => () => true);
  await app.register(swagger, { openapi: openApiInfo });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  const redisDown = (err: unknown) => {
    if (err instanceof RiskpipeError) return err;
    if (opts.redis.status !== 'ready') {
      return new RiskpipeError('RP_ERR_REDIS_UNAVAILABLE', 'Redis is unavailable; nothing was queued, retry later', {
        cause: err,
        headers: { 'retry-after': String(retryAfterS) },
      });
    }
    return err;
  };

  const enqueue = async (checked: Checked[], batchId: string, traceparent: string | string[] | undefined) => {
    const valid = checked.filter((c) => c.event);
    if (valid.length === 0) return [];
    if (opts.redis.status !== 'ready') throw redisDown(new Error(`redis status ${opts.redis.status}`));
    try {
      const res = await queue.enqueue(
        valid.map((c) => ({ event: c.event!, traceparent: traceparentFor(traceparent) })),
        batchId,
      );
      return res.outcomes;
    } catch (err) {
      const e = redisDown(err);
      if (e instanceof RiskpipeError && e.code === 'RP_ERR_QUEUE_FULL') {
        metrics.rejected.inc({ reason: 'queue_full' }, valid.length);
        e.headers!['retry-after'] = String(retryAfterS);
      } else if (e instanceof RiskpipeError && e.code === 'RP_ERR_REDIS_UNAVAILABLE') {
        metrics.rejected.inc({ reason: 'redis_unavailable' }, valid.length);
      }
      throw e;
    }
  };

  app.get('/health', { schema: routeSchemas.health }, async () => ({ status: 'ok', service: 'event-ingestion', timestamp: new Date().toISOString() }));

  app.get('/ready', { schema: routeSchemas.ready }, async (_req, reply) => {
    try {
      if (opts.redis.status !== 'ready') throw new Error(`connection ${opts.redis.status}`);
      await opts.redis.ping();
      return { status: 'ready', redis: 'ok', stream: opts.stream, max_queue_depth: queue.maxQueueDepth };
    } catch (err) {
      reply.code(503).header('retry-after', String(retryAfterS));
      const why = `unavailable: ${(err as Error).message}`;
      return { status: 'not_ready', detail: `Redis is ${why}`, redis: why, stream: opts.stream, max_queue_depth: queue.maxQueueDepth };
    }
  });

  app.get('/v1/metrics', { schema: routeSchemas.metricsJson }, async () => {
    // queue_depth is the stream's length, as the original service reported it; backpressure
    // looks at the unconsumed part (queue_lag).
    let depth: number | null = null;
    let length: number | null = null;
    let redis = 'ok';
    try {
      if (opts.redis.status !== 'ready') throw new Error(`connection ${opts.redis.status}`);
      [depth, length] = await Promise.all([queue.depth(), opts.redis.xlen(opts.stream)]);
    } catch (err) {
      redis = `unavailable: ${(err as Error).message}`;
    }
    const count = async (name: string) => {
      const m = await metrics.registry.getSingleMetric(name)?.get();
      return (m?.values ?? []).reduce((s, v) => s + v.value, 0);
    };
    return {
      service: 'event-ingestion',
      queue_depth: length,
      queue_lag: depth,
      max_queue_depth: queue.maxQueueDepth,
      backpressure_threshold: queue.maxQueueDepth,
      backpressure_enabled: true,
      queue_capacity_percent: depth === null ? null : Math.round((depth / queue.maxQueueDepth) * 1_000_000) / 10_000,
      dedup_window_seconds: queue.dedupWindowS,
      max_batch_size: maxBatchSize,
      stream: opts.stream,
      redis,
      events_received: await count('riskpipe_ingest_events_received_total'),
      events_queued: await count('riskpipe_ingest_events_queued_total'),
      duplicates: await count('riskpipe_ingest_duplicates_total'),
      rejected: await count('riskpipe_ingest_rejected_total'),
    };
  });

  app.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  // Labelled children are looked up once: prom-client hashes the label object on every call.
  // Each is counted under riskpipe's name and the original service's (its dashboards query those).
  const receivedBy = new Map<string, { inc(): void }>();
  const received = (e: Event) => {
    const k = `${e.platform}|${e.event_type}`;
    let c = receivedBy.get(k);
    if (!c) {
      const ours = metrics.received.labels({ platform: e.platform, event_type: e.event_type });
      const original = metrics.originalReceived.labels({ platform: e.platform, event_type: e.event_type });
      receivedBy.set(k, (c = { inc: () => (ours.inc(), original.inc()) }));
    }
    return c;
  };
  const latencyIngestS = metrics.latency.labels({ endpoint: 'ingest' });
  const latencyBatchS = metrics.latency.labels({ endpoint: 'ingest_batch' });
  const latencyIngest = { observe: (s: number) => (latencyIngestS.observe(s), metrics.originalLatencyMs.observe(s * 1000)) };
  const latencyBatch = { observe: (s: number) => (latencyBatchS.observe(s), metrics.originalLatencyMs.observe(s * 1000)) };

  const countOutcomes = (events: Event[], outcomes: Awaited<ReturnType<typeof enqueue>>) => {
    let q = 0;
    outcomes.forEach((o, i) => {
      received(events[i]).inc();
      if (o.status === 'queued') q++;
      else metrics.duplicates.inc({ match: o.duplicateOf });
    });
    if (q > 0) metrics.queued.inc(q);
  };

  app.post('/v1/events/ingest', { schema: routeSchemas.ingest, onRequest: requireKey }, async (req): Promise<IngestResponse> => {
    const started = performance.now();
    const parsed = parseEvent(req.body);
    if (!parsed.ok) {
      metrics.rejected.inc({ reason: rejectionReason(parsed.errors) });
      throw new RiskpipeError('RP_ERR_VALIDATION', parsed.detail, { errors: parsed.errors });
    }
    const [outcome] = await enqueue([{ index: 0, event: parsed.event, eventId: parsed.event.event_id }], randomUUID(), req.headers.traceparent);
    countOutcomes([parsed.event], [outcome]);
    const ms = performance.now() - started;
    latencyIngest.observe(ms / 1000);
    return outcome.status === 'queued'
      ? { event_id: parsed.event.event_id, status: 'queued', stream_id: outcome.streamId, position: outcome.streamId, ingestion_time_ms: round(ms) }
      : { event_id: parsed.event.event_id, status: 'duplicate', stream_id: null, position: null, duplicate_of: outcome.duplicateOf, ingestion_time_ms: round(ms) };
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
    const checked: Checked[] = rawEvents.map((raw, index) => {
      const p = parseEvent(raw);
      if (p.ok) return { index, event: p.event, eventId: p.event.event_id };
      metrics.rejected.inc({ reason: rejectionReason(p.errors) });
      return { index, eventId: clientEventId(raw), detail: p.detail, errors: p.errors.map((e) => ({ path: `events.${index}${e.path ? '.' + e.path : ''}`, message: e.message })) };
    });
    const outcomes = await enqueue(checked, batchId, req.headers.traceparent);
    const ms = round(performance.now() - started);
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
        return { index: c.index, event_id: c.eventId, status: 'queued', stream_id: o.streamId, position: o.streamId, ingestion_time_ms: ms };
      }
      duplicates++;
      return { index: c.index, event_id: c.eventId, status: 'duplicate', stream_id: null, position: null, duplicate_of: o.duplicateOf, ingestion_time_ms: ms };
    });
    const totalMs = performance.now() - started;
    latencyBatch.observe(totalMs / 1000);
    return { batch_id: batchId, total: rawEvents.length, queued, duplicates, errors, results, batch_time_ms: round(totalMs) };
  });

  return app;
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
