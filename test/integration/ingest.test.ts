import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { buildIngestApp } from '../../src/ingest/app.js';
import { createProducerRedis } from '../../src/common/redis.js';
import { RedisBus } from '../../src/stream/redis/bus.js';
import { isTraceparent } from '../../src/common/trace.js';
import { Event, fieldsToObject, RawEntry, STREAM_SCHEMA_VERSION } from '../../src/models/index.js';
import { cleanupPrefix, connectTestRedis, REDIS_URL, uniquePrefix } from '../helpers/redis.js';
import { PrivateRedis } from '../helpers/redis-server.js';

const KEY = 'test-key-123456';
let admin: Redis;
let producer: Redis;
const prefixes: string[] = [];

function event(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    event_id: `e-${Math.random().toString(36).slice(2)}`,
    event_type: 'message_created',
    platform: 'discord',
    channel_id: 'c1',
    user_id: 'u1',
    author_id: `a-${Math.random().toString(36).slice(2)}`,
    content: 'hello there, good game everyone',
    ...over,
  };
}

async function makeApp(opts: Partial<Parameters<typeof buildIngestApp>[0]> = {}) {
  const prefix = uniquePrefix('ingest');
  prefixes.push(prefix);
  const app = await buildIngestApp({ bus: new RedisBus(producer, undefined, { role: 'producer', prefix }), apiKeys: [KEY], ...opts });
  return { app, prefix, stream: `${prefix}events:raw` };
}

function post(app: FastifyInstance, url: string, payload: unknown, headers: Record<string, string> = { 'api-key': KEY }) {
  return app.inject({ method: 'POST', url, payload: payload as object, headers });
}

beforeAll(async () => {
  admin = await connectTestRedis();
  producer = createProducerRedis(REDIS_URL);
  await new Promise<void>((resolve, reject) => {
    producer.once('ready', () => resolve());
    producer.once('error', reject);
  });
});

afterAll(async () => {
  for (const p of prefixes) await cleanupPrefix(admin, p);
  producer.disconnect();
  admin.disconnect();
});

describe('POST /v1/events/ingest', () => {
  let app: FastifyInstance;
  let stream: string;
  beforeEach(async () => {
    ({ app, stream } = await makeApp());
  });

  it('queues a valid event with the normalised event, schema version, batch id and traceparent', async () => {
    const res = await post(app, '/v1/events/ingest', event({ event_id: 'evt-1', platform: 'DISCORD', event_type: 'Message_Created', content: '  hi all  ' }));
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ event_id: 'evt-1', status: 'queued' });
    expect(body.stream_id).toMatch(/^\d+-\d+$/);
    expect(typeof body.ingestion_time_ms).toBe('number');

    const entries = await admin.xrange(stream, '-', '+');
    expect(entries).toHaveLength(1);
    const [id, flat] = entries[0];
    expect(id).toBe(body.stream_id);
    const fields = RawEntry.parse(fieldsToObject(flat));
    expect(fields.v).toBe(STREAM_SCHEMA_VERSION);
    expect(isTraceparent(fields.traceparent)).toBe(true);
    expect(fields.batch_id).toMatch(/[0-9a-f-]{36}/);
    expect(Date.parse(fields.ingested_at)).not.toBeNaN();
    const ev = Event.parse(JSON.parse(fields.event));
    expect(ev).toMatchObject({ event_id: 'evt-1', platform: 'discord', event_type: 'message_created', content: 'hi all', metadata: {} });
    expect(Date.parse(ev.created_at)).toBeGreaterThan(Date.now() - 60_000); // defaulted to now
  });

  it('keeps the trace id of an incoming traceparent', async () => {
    const incoming = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const res = await post(app, '/v1/events/ingest', event(), { 'api-key': KEY, traceparent: incoming });
    expect(res.statusCode).toBe(200);
    const [[, flat]] = await admin.xrange(stream, '-', '+');
    const tp = fieldsToObject(flat).traceparent;
    expect(tp.split('-')[1]).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(tp).not.toBe(incoming);
  });

  it('normalises created_at and keeps unknown metadata keys', async () => {
    const res = await post(app, '/v1/events/ingest', event({ created_at: '2024-05-01T14:00:00+02:00', metadata: { user_reputation: 0.4, account_age_days: 3, custom: 'x' } }));
    expect(res.statusCode).toBe(200);
    const [[, flat]] = await admin.xrange(stream, '-', '+');
    const ev = JSON.parse(fieldsToObject(flat).event);
    expect(ev.created_at).toBe('2024-05-01T12:00:00.000Z');
    expect(ev.metadata).toEqual({ user_reputation: 0.4, account_age_days: 3, custom: 'x' });
  });

  const invalid: [string, Record<string, unknown>, string, string][] = [
    ['missing fields', { event_id: undefined, author_id: undefined }, 'event_id', 'Missing required fields: [event_id, author_id]'],
    ['empty content', { content: '' }, 'content', 'Content too short (min: 1)'],
    ['whitespace content', { content: '   \n\t ' }, 'content', 'Content too short (min: 1)'],
    ['content too long', { content: 'x'.repeat(10_001) }, 'content', 'Content too long (max: 10000)'],
    ['content not a string', { content: 42 }, 'content', 'content must be a string'],
    ['bad platform', { platform: 'myspace' }, 'platform', 'Invalid platform'],
    ['bad event type', { event_type: 'message_exploded' }, 'event_type', 'Invalid event_type'],
    ['id too long', { event_id: 'x'.repeat(501) }, 'event_id', 'event_id too long (max: 500)'],
    ['id unsafe chars', { user_id: 'bob smith<script>' }, 'user_id', 'user_id has characters outside'],
    ['empty id', { author_id: '' }, 'author_id', 'author_id must not be empty'],
    ['bad created_at', { created_at: 'yesterday' }, 'created_at', 'created_at must be an ISO 8601'],
    ['impossible date', { created_at: '2024-13-45T00:00:00Z' }, 'created_at', 'created_at must be an ISO 8601'],
    ['reputation out of range', { metadata: { user_reputation: 1.5 } }, 'metadata.user_reputation', 'between 0 and 1'],
    ['negative violations', { metadata: { previous_violations: -1 } }, 'metadata.previous_violations', '>= 0'],
    ['metadata not an object', { metadata: 'vip' }, 'metadata', ''],
  ];
  it.each(invalid)('rejects %s with 400 naming the problem', async (_name, over, path, message) => {
    const res = await post(app, '/v1/events/ingest', event(over));
    expect(res.statusCode).toBe(400);
    const body = res.json();
    expect(body.code).toBe('RP_ERR_VALIDATION');
    expect(body.detail).toContain(message);
    expect(body.errors.some((e: { path: string }) => e.path === path)).toBe(true);
    expect(await admin.xlen(stream)).toBe(0);
  });

  it('reports every problem of an event at once', async () => {
    const res = await post(app, '/v1/events/ingest', { event_type: 'nope', platform: 'nope', content: '' });
    expect(res.statusCode).toBe(400);
    const paths = res.json().errors.map((e: { path: string }) => e.path).sort();
    expect(paths).toEqual(['author_id', 'content', 'event_id', 'event_type', 'platform', 'user_id']);
    expect(res.json().detail).toContain('Missing required fields: [event_id, user_id, author_id]');
  });

  it('rejects a body that is not an object', async () => {
    for (const payload of [[1, 2], 'text', 7]) {
      const res = await app.inject({ method: 'POST', url: '/v1/events/ingest', headers: { 'api-key': KEY, 'content-type': 'application/json' }, payload: JSON.stringify(payload) });
      expect(res.statusCode).toBe(400);
      expect(res.json().detail).toBe('Event must be a JSON object');
    }
  });

  it('answers malformed JSON, an empty body, a wrong content type and an oversized body with distinct 4xx', async () => {
    const bad = await app.inject({ method: 'POST', url: '/v1/events/ingest', headers: { 'api-key': KEY, 'content-type': 'application/json' }, payload: '{"event_id": ' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ code: 'RP_ERR_BAD_JSON' });
    expect(bad.json().detail).toMatch(/^Malformed JSON body/);

    const empty = await app.inject({ method: 'POST', url: '/v1/events/ingest', headers: { 'api-key': KEY, 'content-type': 'application/json' }, payload: '' });
    expect(empty.statusCode).toBe(400);
    expect(empty.json().code).toBe('RP_ERR_BAD_JSON');

    const text = await app.inject({ method: 'POST', url: '/v1/events/ingest', headers: { 'api-key': KEY, 'content-type': 'text/plain' }, payload: 'hello' });
    expect(text.statusCode).toBe(415);
    expect(text.json().code).toBe('RP_ERR_UNSUPPORTED_MEDIA_TYPE');
    expect(text.json().detail).toContain('text/plain');

    const small = (await makeApp({ bodyLimitBytes: 1024 })).app;
    const big = await post(small, '/v1/events/ingest', event({ content: 'x'.repeat(5000) }));
    expect(big.statusCode).toBe(413);
    expect(big.json()).toMatchObject({ code: 'RP_ERR_BODY_TOO_LARGE' });
    expect(big.json().detail).toContain('1024');
    expect(await admin.xlen(stream)).toBe(0);
  });

  it('accepts a charset in the JSON content type', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/events/ingest',
      headers: { 'api-key': KEY, 'content-type': 'application/json; charset=utf-8' },
      payload: JSON.stringify(event({ content: 'héllo wörld 👋' })),
    });
    expect(res.statusCode).toBe(200);
    const [[, flat]] = await admin.xrange(stream, '-', '+');
    expect(JSON.parse(fieldsToObject(flat).event).content).toBe('héllo wörld 👋');
  });
});

describe('auth', () => {
  it('requires a valid api-key or Bearer token on ingest, but not on health, ready and metrics', async () => {
    const { app, stream } = await makeApp();
    expect((await post(app, '/v1/events/ingest', event(), {})).statusCode).toBe(401);
    const wrong = await post(app, '/v1/events/ingest', event(), { 'api-key': 'wrong-key-000' });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json()).toMatchObject({ code: 'RP_ERR_UNAUTHORIZED', detail: 'Invalid API key' });
    expect((await post(app, '/v1/events/ingest-batch', { events: [event()] }, {})).statusCode).toBe(401);
    expect((await post(app, '/v1/events/ingest', event(), { authorization: `Bearer ${KEY}` })).statusCode).toBe(200);
    expect((await post(app, '/v1/events/ingest', event(), { 'api-key': KEY })).statusCode).toBe(200);
    expect(await admin.xlen(stream)).toBe(2);
    for (const url of ['/health', '/ready', '/v1/metrics', '/metrics', '/openapi.json']) {
      expect((await app.inject({ method: 'GET', url })).statusCode, url).toBe(200);
    }
  });

  it('accepts any of several keys', async () => {
    const { app } = await makeApp({ apiKeys: ['first-key-aaaa', 'second-key-bbbb'] });
    expect((await post(app, '/v1/events/ingest', event(), { 'api-key': 'second-key-bbbb' })).statusCode).toBe(200);
    expect((await post(app, '/v1/events/ingest', event(), { 'api-key': 'first-key-aaaa' })).statusCode).toBe(200);
    expect((await post(app, '/v1/events/ingest', event(), { 'api-key': 'first-key-aaab' })).statusCode).toBe(401);
  });

  it('is off when no keys are configured', async () => {
    const { app } = await makeApp({ apiKeys: [] });
    expect((await post(app, '/v1/events/ingest', event(), {})).statusCode).toBe(200);
  });
});

describe('deduplication', () => {
  it('answers a repeated platform/author/content as duplicate within the window', async () => {
    const { app, stream } = await makeApp();
    const first = await post(app, '/v1/events/ingest', event({ event_id: 'd1', author_id: 'same', content: 'buy my stuff' }));
    const second = await post(app, '/v1/events/ingest', event({ event_id: 'd2', author_id: 'same', content: 'buy my stuff' }));
    expect(first.json().status).toBe('queued');
    expect(second.json()).toMatchObject({ event_id: 'd2', status: 'duplicate', stream_id: null, duplicate_of: 'content' });
    // Another author, or another platform, is not a duplicate.
    expect((await post(app, '/v1/events/ingest', event({ author_id: 'other', content: 'buy my stuff' }))).json().status).toBe('queued');
    expect((await post(app, '/v1/events/ingest', event({ author_id: 'same', platform: 'slack', content: 'buy my stuff' }))).json().status).toBe('queued');
    expect(await admin.xlen(stream)).toBe(3);
  });

  it('answers a re-sent event_id as duplicate even with other content', async () => {
    const { app } = await makeApp();
    await post(app, '/v1/events/ingest', event({ event_id: 'same-id', content: 'one' }));
    const again = await post(app, '/v1/events/ingest', event({ event_id: 'same-id', content: 'two' }));
    expect(again.json()).toMatchObject({ status: 'duplicate', duplicate_of: 'event_id' });
  });

  it('forgets after the window', async () => {
    const { app, stream } = await makeApp({ dedupWindowS: 1 });
    const ev = event({ event_id: 'w1' });
    expect((await post(app, '/v1/events/ingest', ev)).json().status).toBe('queued');
    expect((await post(app, '/v1/events/ingest', ev)).json().status).toBe('duplicate');
    await new Promise((r) => setTimeout(r, 1200));
    expect((await post(app, '/v1/events/ingest', ev)).json().status).toBe('queued');
    expect(await admin.xlen(stream)).toBe(2);
  });

  it('never queues two concurrent copies', async () => {
    const { app, stream } = await makeApp();
    const copies = Array.from({ length: 50 }, (_, i) => event({ event_id: `c-${i}`, author_id: 'racer', content: 'same message raced fifty times' }));
    const results = await Promise.all(copies.map((c) => post(app, '/v1/events/ingest', c)));
    const statuses = results.map((r) => r.json().status);
    expect(statuses.filter((s) => s === 'queued')).toHaveLength(1);
    expect(statuses.filter((s) => s === 'duplicate')).toHaveLength(49);
    // Concurrent batches carrying the same events: still exactly one copy of each.
    const batch = Array.from({ length: 20 }, (_, i) => event({ event_id: `b-${i}`, author_id: 'racer2', content: `batch message ${i}` }));
    const batches = await Promise.all(Array.from({ length: 8 }, () => post(app, '/v1/events/ingest-batch', { events: batch })));
    expect(batches.reduce((s, r) => s + r.json().queued, 0)).toBe(20);
    expect(await admin.xlen(stream)).toBe(21);
  });
});

describe('POST /v1/events/ingest-batch', () => {
  it('queues valid events and reports each invalid one with its error, in order', async () => {
    const { app, stream } = await makeApp();
    const events = [
      event({ event_id: 'b1' }),
      event({ event_id: 'b2', content: '' }),
      event({ event_id: 'b3', platform: 'friendster' }),
      event({ event_id: 'b4' }),
      event({ event_id: 'b1' }), // duplicate id within the batch
      'not an object',
    ];
    const res = await post(app, '/v1/events/ingest-batch', { events });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ total: 6, queued: 2, duplicates: 1, errors: 3 });
    expect(body.batch_id).toMatch(/[0-9a-f-]{36}/);
    expect(body.results.map((r: { status: string }) => r.status)).toEqual(['queued', 'rejected', 'rejected', 'queued', 'duplicate', 'rejected']);
    expect(body.results[1]).toMatchObject({ index: 1, event_id: 'b2', error: expect.stringContaining('Content too short (min: 1)') });
    expect(body.results[1].errors[0].path).toBe('events.1.content');
    expect(body.results[2].error).toContain('Invalid platform');
    expect(body.results[5]).toMatchObject({ event_id: null, error: 'Event must be a JSON object' });
    const entries = await admin.xrange(stream, '-', '+');
    expect(entries.map(([, f]) => fieldsToObject(f).event_id)).toEqual(['b1', 'b4']);
    const batchIds = new Set(entries.map(([, f]) => fieldsToObject(f).batch_id));
    expect([...batchIds]).toEqual([body.batch_id]);
  });

  it('refuses more than the maximum batch size with 413 and queues nothing', async () => {
    const { app, stream } = await makeApp({ maxBatchSize: 10 });
    const res = await post(app, '/v1/events/ingest-batch', { events: Array.from({ length: 11 }, () => event()) });
    expect(res.statusCode).toBe(413);
    expect(res.json()).toMatchObject({ code: 'RP_ERR_BATCH_TOO_LARGE', detail: 'Too many events in batch: 11 (max: 10)' });
    expect(await admin.xlen(stream)).toBe(0);
    const def = (await makeApp()).app;
    expect((await post(def, '/v1/events/ingest-batch', { events: Array.from({ length: 501 }, () => event()) })).statusCode).toBe(413);
  });

  it('rejects a body without an events array, and an empty batch', async () => {
    const { app } = await makeApp();
    const missing = await post(app, '/v1/events/ingest-batch', { items: [] });
    expect(missing.statusCode).toBe(400);
    expect(missing.json().errors[0]).toMatchObject({ path: 'events', message: 'Missing required field' });
    const notArray = await post(app, '/v1/events/ingest-batch', { events: { a: 1 } });
    expect(notArray.statusCode).toBe(400);
    expect(notArray.json().errors[0].message).toBe('events must be an array');
    // An empty list is a batch of nothing, as the original service answered it.
    const empty = await post(app, '/v1/events/ingest-batch', { events: [] });
    expect(empty.statusCode).toBe(200);
    expect(empty.json()).toMatchObject({ total: 0, queued: 0, results: [] });
  });

  it('takes a bare JSON array too', async () => {
    const { app } = await makeApp();
    const res = await post(app, '/v1/events/ingest-batch', [event(), event()]);
    expect(res.json()).toMatchObject({ total: 2, queued: 2 });
  });
});

describe('backpressure', () => {
  it('answers 503 with Retry-After once the unconsumed depth reaches the maximum, and queues nothing', async () => {
    const { app, stream } = await makeApp({ maxQueueDepth: 3 });
    for (let i = 0; i < 3; i++) expect((await post(app, '/v1/events/ingest', event())).statusCode).toBe(200);
    const full = await post(app, '/v1/events/ingest', event());
    expect(full.statusCode).toBe(503);
    expect(full.headers['retry-after']).toBeDefined();
    expect(full.json().code).toBe('RP_ERR_QUEUE_FULL');
    const fullBatch = await post(app, '/v1/events/ingest-batch', { events: [event(), event()] });
    expect(fullBatch.statusCode).toBe(503);
    expect(await admin.xlen(stream)).toBe(3);

    // Once a consumer group exists its lag is the depth: consuming two entries frees room.
    await admin.xgroup('CREATE', stream, 'risk-screening', '0');
    expect((await post(app, '/v1/events/ingest', event())).statusCode).toBe(503);
    await admin.xreadgroup('GROUP', 'risk-screening', 'c1', 'COUNT', 2, 'STREAMS', stream, '>');
    expect((await post(app, '/v1/events/ingest', event())).statusCode).toBe(200);
    expect((await post(app, '/v1/events/ingest', event())).statusCode).toBe(200);
    expect((await post(app, '/v1/events/ingest', event())).statusCode).toBe(503);
    // Entries were never trimmed to make room.
    expect(await admin.xlen(stream)).toBe(5);
    const metrics = (await app.inject({ method: 'GET', url: '/v1/metrics' })).json();
    // queue_depth is the stream's length (as the original reported it), queue_lag what backpressure counts.
    expect(metrics).toMatchObject({ queue_depth: 5, queue_lag: 3, max_queue_depth: 3, queue_capacity_percent: 100 });
  });
});

describe('dedup buckets in Redis', () => {
  it('keeps identities in one hash per window-long bucket, with an expiry, and unlinks the bucket before last', async () => {
    const prefix = uniquePrefix('buckets');
    prefixes.push(prefix);
    const bus = new RedisBus(producer, undefined, { role: 'producer', prefix });
    const w = { maxDepth: 1000, dedupWindowS: 1 };
    const fields = (id: string) => ({ v: '1', event_id: id, event: '{}', ingested_at: 'x', batch_id: 'b', traceparent: 't' });
    await bus.append('raw', [{ eventId: 'k1', contentHash: 'hash-1', fields: fields('k1') }], w);
    const buckets = async () => (await admin.keys(`${prefix}dd:w1:*`)).sort();
    const [first] = await buckets();
    expect(first).toBeDefined();
    expect(Object.keys(await admin.hgetall(first)).sort()).toEqual(['chash-1', 'ik1']);
    const ttl = await admin.pttl(first);
    // Needed until the end of the next bucket (at most 2 s away), plus a margin of min(W, 60 s).
    expect(ttl).toBeGreaterThan(1_000);
    expect(ttl).toBeLessThanOrEqual(3_000);
    // Two buckets later, the first append there unlinks it (before its own expiry).
    await new Promise((r) => setTimeout(r, 2_100));
    await bus.append('raw', [{ eventId: 'k2', contentHash: 'hash-2', fields: fields('k2') }], w);
    expect(await buckets()).not.toContain(first);
  });
});

describe('single events coalesced into one append', () => {
  it('gives each concurrent request its own answer: position, duplicate, backpressure', async () => {
    const { app, stream } = await makeApp({ maxQueueDepth: 4 });
    const evs = [event({ event_id: 'co-1' }), event({ event_id: 'co-2' }), event({ event_id: 'co-1' }), event({ event_id: 'co-3' }), event({ event_id: 'co-4' }), event({ event_id: 'co-5' }), event({ event_id: 'co-6' })];
    const res = await Promise.all(evs.map((e) => post(app, '/v1/events/ingest', e)));
    // In order: 4 fit under the limit (one of the 5 new ids is a repeat), the rest are refused as each alone would have been.
    expect(res.map((r) => r.statusCode)).toEqual([200, 200, 200, 200, 200, 503, 503]);
    expect(res[2].json()).toMatchObject({ event_id: 'co-1', status: 'duplicate', duplicate_of: 'event_id', stream_id: null });
    expect(res[5].json().code).toBe('RP_ERR_QUEUE_FULL');
    expect(res[5].headers['retry-after']).toBeDefined();
    const entries = (await admin.xrange(stream, '-', '+')) as [string, string[]][];
    const byId = new Map(entries.map(([id, f]) => [f[f.indexOf('event_id') + 1], id]));
    expect(byId.size).toBe(4);
    for (const r of [res[0], res[1], res[3], res[4]]) {
      const b = r.json();
      expect(b.status).toBe('queued');
      expect(b.stream_id).toBe(byId.get(b.event_id));
      expect(b.position).toBe(b.stream_id);
    }
    // Each single event is its own batch.
    expect(new Set(entries.map(([, f]) => f[f.indexOf('batch_id') + 1])).size).toBe(4);
    // The refused ones were not marked as seen.
    await admin.xgroup('CREATE', stream, 'risk-screening', '0');
    await admin.xreadgroup('GROUP', 'risk-screening', 'c1', 'COUNT', 4, 'STREAMS', stream, '>');
    expect((await post(app, '/v1/events/ingest', evs[5])).json().status).toBe('queued');
  });
});

describe('health, readiness and metrics', () => {
  it('serves health, ready, JSON metrics, Prometheus metrics and the OpenAPI document', async () => {
    const { app } = await makeApp({ dedupWindowS: 120 });
    expect((await app.inject({ method: 'GET', url: '/health' })).json()).toEqual({ status: 'ok', service: 'event-ingestion', timestamp: expect.any(String) });
    expect((await app.inject({ method: 'GET', url: '/ready' })).json()).toMatchObject({ status: 'ready', redis: 'ok' });
    await post(app, '/v1/events/ingest', event({ platform: 'twitch' }));
    await post(app, '/v1/events/ingest', event({ event_id: 'dup-me' }));
    await post(app, '/v1/events/ingest', event({ event_id: 'dup-me' }));
    await post(app, '/v1/events/ingest', event({ content: '' }));
    const json = (await app.inject({ method: 'GET', url: '/v1/metrics' })).json();
    expect(json).toMatchObject({ queue_depth: 2, max_queue_depth: 100000, dedup_window_seconds: 120, events_queued: 2, duplicates: 1, rejected: 1 });
    expect(json.queue_capacity_percent).toBeCloseTo(0.002, 5);
    const prom = await app.inject({ method: 'GET', url: '/metrics' });
    expect(prom.headers['content-type']).toContain('text/plain');
    expect(prom.body).toContain('riskpipe_ingest_events_received_total{platform="twitch",event_type="message_created"} 1');
    expect(prom.body).toContain('riskpipe_ingest_duplicates_total{match="event_id"} 1');
    expect(prom.body).toContain('riskpipe_ingest_rejected_total{reason="invalid_content"} 1');
    expect(prom.body).toMatch(/riskpipe_ingest_request_duration_seconds_bucket\{le="0.005",endpoint="ingest"\} \d+/);
    expect(prom.body).toContain('riskpipe_ingest_queue_depth 2');
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/events/ingest', '/v1/events/ingest-batch', '/health', '/ready']));
    const ui = await app.inject({ method: 'GET', url: '/docs/' });
    expect(ui.statusCode).toBe(200);
    expect(ui.body).toContain('swagger');
    expect(doc.paths['/v1/events/ingest'].post.requestBody.content['application/json'].schema.required).toEqual(
      expect.arrayContaining(['event_id', 'event_type', 'platform', 'content', 'user_id', 'author_id']),
    );
  });

  it('answers unknown routes with 404 in the error shape', async () => {
    const { app } = await makeApp();
    const res = await app.inject({ method: 'GET', url: '/v1/nope' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ code: 'RP_ERR_NOT_FOUND', detail: 'Not found: GET /v1/nope' });
    const wrongMethod = await app.inject({ method: 'GET', url: '/v1/events/ingest' });
    expect(wrongMethod.statusCode).toBe(405);
    expect(wrongMethod.headers.allow).toBe('POST');
    expect(wrongMethod.json()).toMatchObject({ code: 'RP_ERR_METHOD_NOT_ALLOWED' });
  });
});

describe('Redis down and back', () => {
  it('answers 503 at once while Redis is away and recovers by itself', async () => {
    const server = await PrivateRedis.start();
    const redis = createProducerRedis(server.url);
    const connectionErrors: Error[] = [];
    redis.on('error', (err) => connectionErrors.push(err)); // expected while the server is down
    await new Promise((r) => redis.once('ready', r));
    const prefix = uniquePrefix('down');
    const app = await buildIngestApp({ bus: new RedisBus(redis, undefined, { role: 'producer', prefix }), apiKeys: [KEY] });
    try {
      expect((await post(app, '/v1/events/ingest', event())).statusCode).toBe(200);
      await server.stop();
      await new Promise((r) => setTimeout(r, 100));
      const started = Date.now();
      const down = await post(app, '/v1/events/ingest', event());
      expect(Date.now() - started).toBeLessThan(1000);
      expect(down.statusCode).toBe(503);
      expect(down.json().code).toBe('RP_ERR_REDIS_UNAVAILABLE');
      expect(down.headers['retry-after']).toBeDefined();
      const downBatch = await post(app, '/v1/events/ingest-batch', { events: [event()] });
      expect(downBatch.statusCode).toBe(503);
      expect((await app.inject({ method: 'GET', url: '/ready' })).statusCode).toBe(503);
      expect((await app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
      expect((await app.inject({ method: 'GET', url: '/v1/metrics' })).json()).toMatchObject({ queue_depth: null });

      await server.start();
      const deadline = Date.now() + 10_000;
      let status = 0;
      while (Date.now() < deadline) {
        status = (await post(app, '/v1/events/ingest', event())).statusCode;
        if (status === 200) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(status).toBe(200);
      expect((await app.inject({ method: 'GET', url: '/ready' })).statusCode).toBe(200);
    } finally {
      await app.close();
      redis.disconnect();
      await server.stop();
    }
  });
});

describe('GET /v1/batches/:id on the ingest service', () => {
  it('reports a batch request’s counters (total, queued; nothing screened yet) and 404 for an unknown id', async () => {
    const { app } = await makeApp();
    const first = event();
    const res = await post(app, '/v1/events/ingest-batch', { events: [first, event(), { ...first, event_id: 'dup-of-first' }, { content: '' }] });
    expect(res.statusCode).toBe(200);
    const { batch_id } = res.json() as { batch_id: string };
    const status = await app.inject({ method: 'GET', url: `/v1/batches/${batch_id}` });
    expect(status.statusCode).toBe(200);
    expect(status.json()).toMatchObject({ batch_id, total: 4, queued: 2, screened: 0, low_risk: 0, escalated: 0, indexed: 0, dead_lettered: 0, completed: false });
    const unknown = await app.inject({ method: 'GET', url: '/v1/batches/no-such-batch' });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({ code: 'RP_ERR_NOT_FOUND' });
    await app.close();
  });
});
