import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { runCli } from '../helpers/cli.js';
import { cleanupPrefix, connectTestRedis, REDIS_URL, uniquePrefix } from '../helpers/redis.js';
import { HttpxLikeClient, ORIGINAL_KEYS, originalEvent, startService, type Service } from './original-client.js';
import { rawStream } from './streams.js';

/*
 * The ingestion service (`riskpipe serve-ingest`, real process, real Redis) called as the original
 * Python ingestion service's clients called it: httpx, the `api-key` header with the original
 * deployment's keys (`test-key,dev-key`), its field names, its endpoints.
 */

const prefix = uniquePrefix('compat-ingest');
const smallPrefix = uniquePrefix('compat-ingest-small');
let admin: Redis;
let ingest: Service;
let small: Service;
let client: HttpxLikeClient;

beforeAll(async () => {
  admin = await connectTestRedis();
  [ingest, small] = await Promise.all([
    startService('serve-ingest', ['--prefix', prefix], { REDIS_URL, RISKPIPE_API_KEYS: ORIGINAL_KEYS }),
    startService('serve-ingest', ['--prefix', smallPrefix, '--max-queue-depth', '2'], { REDIS_URL, RISKPIPE_API_KEYS: ORIGINAL_KEYS }),
  ]);
  client = new HttpxLikeClient(ingest.url, { 'api-key': 'test-key' });
});

afterAll(async () => {
  await Promise.all([ingest?.stop(), small?.stop()]);
  await cleanupPrefix(admin, prefix);
  await cleanupPrefix(admin, smallPrefix);
  admin.disconnect();
});

describe('API keys of the original deployment', () => {
  it('starts with the short keys test-key and dev-key, accepts both, and warns loudly about each', async () => {
    expect((await client.post('/v1/events/ingest', { json: originalEvent() })).status).toBe(200);
    expect((await client.post('/v1/events/ingest', { json: originalEvent(), headers: { 'api-key': 'dev-key' } })).status).toBe(200);
    const wrong = await client.post('/v1/events/ingest', { json: originalEvent(), headers: { 'api-key': 'prod-key' } });
    expect(wrong.status).toBe(401);
    expect(typeof wrong.json().detail).toBe('string');
    const warnings = ingest
      .output()
      .split('\n')
      .filter((l) => l.includes('easy to guess'));
    expect(warnings).toHaveLength(2);
    expect(warnings.join('\n')).toContain('"level":40');
    // The keys themselves are never logged.
    expect(ingest.output()).not.toContain('test-key');
  });

  it('refuses only an empty key, naming the setting', async () => {
    const res = await runCli(['serve-ingest', '--port', '0', '--prefix', prefix], { env: { REDIS_URL, RISKPIPE_API_KEYS: 'test-key,,dev-key' } });
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/apiKeys \(--api-keys \/ RISKPIPE_API_KEYS\): a key is empty/);
  });
});

describe('POST /v1/events/ingest', () => {
  it('answers position (the stream entry id) next to stream_id', async () => {
    const ev = originalEvent();
    const res = await client.post('/v1/events/ingest', { json: ev });
    expect(res.status).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ event_id: ev.event_id, status: 'queued' });
    expect(body.position).toMatch(/^\d+-\d+$/);
    expect(body.position).toBe(body.stream_id);
    const [entry] = (await admin.xrange(rawStream(prefix), body.position, body.position)) as [string, string[]][];
    expect(entry[0]).toBe(body.position);
    expect(typeof body.ingestion_time_ms).toBe('number');
  });
});

describe('POST /v1/events/ingest-batch', () => {
  it('gives every result position and ingestion_time_ms, and a rejected item {status_code, detail} besides errors', async () => {
    const good = originalEvent();
    const bad = originalEvent({ content: '' });
    const res = await client.post('/v1/events/ingest-batch', { json: { events: [good, bad, good] } });
    expect(res.status).toBe(200);
    const body = res.json();
    expect(body.total).toBe(3);
    const [queued, rejected, duplicate] = body.results;
    expect(queued).toMatchObject({ event_id: good.event_id, status: 'queued' });
    expect(queued.position).toMatch(/^\d+-\d+$/);
    expect(queued.position).toBe(queued.stream_id);
    expect(typeof queued.ingestion_time_ms).toBe('number');
    expect(rejected).toMatchObject({ event_id: bad.event_id, status: 'rejected', status_code: 400 });
    expect(rejected.detail).toContain('Content too short');
    expect(rejected.errors).toEqual([{ path: 'events.1.content', message: 'Content too short (min: 1)' }]);
    expect(duplicate).toMatchObject({ status: 'duplicate', position: null });
    expect(typeof duplicate.ingestion_time_ms).toBe('number');
  });

  it('answers an empty events list with 200 and total 0', async () => {
    const res = await client.post('/v1/events/ingest-batch', { json: { events: [] } });
    expect(res.status).toBe(200);
    expect(res.json()).toMatchObject({ total: 0, results: [] });
  });
});

describe('health, readiness and metrics', () => {
  it('/health has timestamp', async () => {
    const body = (await client.get('/health')).json();
    expect(body).toMatchObject({ status: 'ok', service: 'event-ingestion' });
    expect(Math.abs(Date.parse(body.timestamp) - Date.now())).toBeLessThan(60_000);
  });

  it('/ready has max_queue_depth', async () => {
    const res = await client.get('/ready');
    expect(res.status).toBe(200);
    expect(res.json()).toMatchObject({ status: 'ready', max_queue_depth: 100000 });
  });

  it('/v1/metrics has service, backpressure_threshold, backpressure_enabled, and queue_depth = the stream length with queue_lag beside it', async () => {
    const stream = rawStream(prefix);
    await client.post('/v1/events/ingest', { json: originalEvent() });
    // A consumer group that has read all but one entry: length and lag part.
    await admin.xgroup('CREATE', stream, 'risk-screening', '0');
    await admin.xreadgroup('GROUP', 'risk-screening', 'compat-test', 'COUNT', (await admin.xlen(stream)) - 1, 'STREAMS', stream, '>');
    const body = (await client.get('/v1/metrics')).json();
    const length = await admin.xlen(stream);
    expect(body).toMatchObject({ service: 'event-ingestion', backpressure_enabled: true, backpressure_threshold: 100000, max_queue_depth: 100000 });
    expect(body.queue_depth).toBe(length);
    expect(body.queue_lag).toBe(1);
    expect(body.queue_depth).toBeGreaterThan(body.queue_lag);
  });

  it('/metrics exposes events_received_total and ingestion_latency_ms (the original names) beside riskpipe\'s', async () => {
    await client.post('/v1/events/ingest', { json: originalEvent({ platform: 'slack' }) });
    const text = (await client.get('/metrics')).text;
    expect(text).toMatch(/^events_received_total\{platform="slack",event_type="message_created"\} [1-9]\d*$/m);
    expect(text).toMatch(/^# TYPE ingestion_latency_ms histogram$/m);
    expect(text).toMatch(/^ingestion_latency_ms_bucket\{le="\+Inf"\} [1-9]\d*$/m);
    expect(text).toMatch(/^ingestion_latency_ms_count [1-9]\d*$/m);
    // Both names count the same events.
    const ours = /^riskpipe_ingest_events_received_total\{platform="slack",event_type="message_created"\} (\d+)$/m.exec(text)?.[1];
    const original = /^events_received_total\{platform="slack",event_type="message_created"\} (\d+)$/m.exec(text)?.[1];
    expect(original).toBe(ours);
  });
});

describe('503 answers', () => {
  it('a full queue answers 503 with detail and Retry-After', async () => {
    const c = new HttpxLikeClient(small.url, { 'api-key': 'dev-key' });
    for (let i = 0; i < 2; i++) expect((await c.post('/v1/events/ingest', { json: originalEvent() })).status).toBe(200);
    const full = await c.post('/v1/events/ingest', { json: originalEvent() });
    expect(full.status).toBe(503);
    expect(full.headers['retry-after']).toBeDefined();
    expect(full.json().detail).toMatch(/queue is full/i);
    const batch = await c.post('/v1/events/ingest-batch', { json: { events: [originalEvent()] } });
    expect(batch.status).toBe(503);
    expect(typeof batch.json().detail).toBe('string');
  });
});
